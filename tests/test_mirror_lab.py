"""Air-gapped for real, in the lab: ``mirror build`` from a local upstream, a node installed from its
output, and the real containerd pulling every image ``mirror list`` names through the hosts.toml
files apply wrote.

The upstream registries are unreachable here, so the "upstream" is the lab's own: its signed apt
repository and files area (http://<bridge>:8080; the manifests) and its real registry (Debian's
docker-registry, https://<bridge>:5000), which serves a small stand-in image (the lab's busybox,
built locally) under every real name and tag the inventory needs, at
``<registry>/<upstream>/<repo>:<tag>``, and the lab's stand-in charts as OCI artifacts (Helm's media
types) under their real repository names, which the build fetches through ``--upstream``. The built
mirror is served by ``kubehaus mirror serve`` on another port and is the inventory's mirror_url;
its images are pushed back into the registry with ``kubehaus mirror push``.

What it cannot show: the images are stand-ins (one busybox), so nothing proves the real images'
contents. Pulls are the kubelet's CRI calls (ImageService/PullImage, ImageStatus, ListImages over
containerd's gRPC socket, made by the lab's CRI client: Debian has no crictl), not a real kubelet's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bootstrap.chart_fetch import USER_AGENT
from bootstrap.inventory import load_inventory
from bootstrap.lab.registry import CA_IN_MIRROR, Registry, push_image
from bootstrap.render.mirror_list import mirror_list

from .lab_fixture import Lab, booted, on
from .oci_upstream import chart_artifacts

pytestmark = pytest.mark.lab

MIRROR_LAB = """\
name: khair
subnet: 198.18.39.0/24
machines:
  - {name: cp-1, role: control-plane, profile: cpu-only}
"""
SERVE_PORT = 8081
# the lab's CRI client (standin_tools/cri.py, in the kubelet stand-in's package): the kubelet's calls
CRI = "PYTHONPATH=/usr/lib/kubehaus-standin/kubelet python3 -m standin_tools.cri"


def kubehaus(*argv: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bootstrap", *argv], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from booted(MIRROR_LAB, tmp_path_factory)


@pytest.fixture(scope="module")
def built(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The mirror built from the lab's upstream, served on the bridge; yields (DIR, inventory)."""
    work = tmp_path_factory.mktemp("air")
    bridge = lab.record.bridge_address
    certs = work / "certs"
    certs.mkdir()
    (certs / "ca.crt").write_bytes((lab.paths.mirror / CA_IN_MIRROR).read_bytes())
    keyring = lab.paths.mirror / "kubehaus-archive-keyring.gpg"
    directory = work / "mirror"
    # the charts' upstream registries: the lab's stand-in charts pushed into the real registry as
    # helm push stores them, under their real names (<registry>/ghcr.io/kai-scheduler/...)
    registry = Registry(f"https://{bridge}:5000", f"{bridge}:5000", 0, certs / "ca.crt")
    for repository, tag, layout in chart_artifacts(load_inventory(lab.inventory), lab.paths.mirror / "files"):
        push_image(registry, repository, tag, layout)
    build = kubehaus(
        "mirror", "build", str(lab.inventory), str(directory),
        "--apt-source", f"deb [signed-by={keyring}] http://{bridge}:8080/apt kubehaus main",
        "--files-from", f"http://{bridge}:8080/files",
        "--upstream", f"registry.k8s.io=https://{bridge}:5000/registry.k8s.io",
        "--upstream", f"ghcr.io=https://{bridge}:5000/ghcr.io", "--upstream-ca", str(certs / "ca.crt"),
        "--images-from", f"{bridge}:5000", "--images-cert-dir", str(certs),
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    push = kubehaus("mirror", "push", str(directory), f"{bridge}:5000", "--cert-dir", str(certs))
    assert push.returncode == 0, push.stderr[-2000:]
    log = (work / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "bootstrap", "mirror", "serve", str(directory),
         "--address", bridge, "--port", str(SERVE_PORT)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        time.sleep(2)
        assert server.poll() is None, (work / "serve.log").read_text()
        inventory = yaml.safe_load(lab.inventory.read_text())
        inventory["artifacts"] = {
            "source": "mirror",
            "mirror_url": f"http://{bridge}:{SERVE_PORT}",
            "mirror_key": str(directory / "kubehaus-archive-keyring.gpg"),
            "registry": f"https://{bridge}:5000",
            "registry_ca": str(certs / "ca.crt"),
        }
        site = work / "site.yaml"
        site.write_text(yaml.safe_dump(inventory, sort_keys=False))
        yield directory, site
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


def test_the_node_installs_from_the_built_mirror_and_pulls_every_listed_image(
    lab: Lab, built: tuple[Path, Path]
) -> None:
    directory, site = built
    index = json.loads((directory / "index.json").read_text())
    assert index["complete"] is True
    listed = [i.reference for i in mirror_list(load_inventory(site)).images]
    assert set(index["images"]) == set(listed)
    # every chart came over the distribution API from the real registry, as the lab's files area
    # has it, and is marked as fetched with no digest known in advance
    charts = index["charts"]
    assert len(charts) == 3 and set(charts) <= set(index["unverified_at_fetch"])
    for relative, record in charts.items():
        assert record["source"].startswith(("oci://registry.k8s.io/", "oci://ghcr.io/"))
        assert (directory / relative).read_bytes() == (lab.paths.mirror / relative).read_bytes()
    log = (lab.paths.root / "registry.log").read_text(errors="replace")
    assert "/v2/ghcr.io/kai-scheduler/kai-scheduler/kai-scheduler/manifests/" in log and USER_AGENT in log

    applied = kubehaus("apply", str(site), "-o", "json")
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]

    # apt installed from the build's signed repository (apt checked the signature and each
    # package's SHA256 in the built index), at the pinned versions
    sources = on(lab, "cp-1", "cat /etc/apt/sources.list.d/kubehaus.sources").stdout
    assert f":{SERVE_PORT}/apt" in sources
    kubelet = on(lab, "cp-1", "dpkg-query -W -f='${Version}' kubelet").stdout
    assert kubelet.startswith(load_inventory(site).spec.cluster.kubernetes_version)

    # containerd's CRI reads certs.d; every upstream has its hosts.toml naming the mirror
    dump = on(lab, "cp-1", "containerd config dump").stdout
    assert (
        "config_path = '/etc/containerd/certs.d'" in dump or 'config_path = "/etc/containerd/certs.d"' in dump
    )
    hosts = on(lab, "cp-1", "ls /etc/containerd/certs.d").stdout.split()
    assert set(hosts) >= {"registry.k8s.io", "nvcr.io", "ghcr.io", "quay.io", "docker.io"}

    # what the node's stand-in kubeadm declares (its image list, its etcd static pod) is listed
    declared = set(on(lab, "cp-1", "kubeadm config images list").stdout.split())
    manifest = yaml.safe_load(on(lab, "cp-1", "cat /etc/kubernetes/manifests/etcd.yaml").stdout)
    declared.add(manifest["spec"]["containers"][0]["image"])
    assert len(declared) == 7 and declared <= set(listed)

    # every image, by its upstream name, pulled as the kubelet pulls it: CRI PullImage over
    # containerd's socket with the name alone, resolved through only what apply wrote (config_path,
    # hosts.toml, the CA); no upstream is reachable
    failed = {}
    for reference in listed:
        result = on(lab, "cp-1", f"{CRI} pull {reference}")
        if result.returncode != 0:
            failed[reference] = result.stderr[-400:]
    assert failed == {}
    # the CRI holds each under its upstream name, at the digest the build verified and recorded
    held = {}
    for reference in listed:
        answer = on(lab, "cp-1", f"{CRI} status {reference}")
        assert answer.returncode == 0, answer.stderr
        held[reference] = json.loads(answer.stdout)["image"]
    for reference, image in held.items():
        assert image is not None, reference
        assert reference in image["repo_tags"]
        assert f"{reference.rsplit(':', 1)[0]}@{index['images'][reference]}" in image["repo_digests"]
    # an image the mirror does not hold is not had from anywhere else (the upstream is unreachable)
    absent = on(lab, "cp-1", f"{CRI} pull registry.k8s.io/kubehaus-not-mirrored:0")
    print(f"CRI pull of an image the mirror lacks: {absent.stderr.strip()}")
    assert absent.returncode == 1 and "rpc error: code = " in absent.stderr, absent.stderr
    images = json.loads(on(lab, "cp-1", f"{CRI} list").stdout)
    assert set(listed) <= {tag for image in images for tag in image["repo_tags"]}
    # the registry saw containerd (not only the build's skopeo) ask under the per-upstream paths
    log = (lab.paths.root / "registry.log").read_text(errors="replace").splitlines()
    asked = [  # one image of registry.k8s.io and one of docker.io, as the list names them
        next(r for r in listed if r.startswith(f"{registry}/"))
        for registry in ("registry.k8s.io", "docker.io")
    ]
    for path in (f"/v2/{name}/manifests/{tag}" for name, tag in (r.rsplit(":", 1) for r in asked)):
        assert any(path in line and "containerd/" in line for line in log), path
