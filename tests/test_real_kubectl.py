"""Every kubectl command kubehaus issues, run through the real kubectl against the lab's API server.

The lab serves Debian's real kubectl (``bootstrap/lab/real_kubectl.py``) and its control planes run
the stand-in API store (``bootstrap/lab/standin_tools/``). Here the same two meet on loopback, with
no lab machines: the server over TLS with a real CA, the client the cached Debian build. The
commands are the product's own (its facts, operations and node maintenance functions build them);
a recording ``kubectl`` ahead of the real one in PATH keeps every argv, and
``test_every_kubectl_invocation_in_the_code_is_exercised`` checks that each invocation the source
holds was run through the real binary.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from bootstrap.inventory.models import Addons, KaiScheduler
from bootstrap.lab import files_area
from bootstrap.lab.paths import CACHE_ROOT
from bootstrap.lab.real_kubectl import KUBECTL_BUILD
from bootstrap.lab.real_packages import fetch_builds
from bootstrap.lab.standin_tools import apiserver, helm, pki
from bootstrap.lab.standin_tools.common import kubeconfig_text, request
from bootstrap.lab.standins import kubernetes_schema_bundle
from bootstrap.phase_support import cluster as join
from bootstrap.phase_support import maintenance as node_maintenance
from bootstrap.phase_support import serving
from bootstrap.phases import serving as serving_phase
from bootstrap.render.addons import dra_gpu_driver_values, kai_queues
from deploys import operations
from deploys.cluster_state import ClusterQuery, parse_cluster
from deploys.control_plane import ADMIN_KUBECONFIG
from deploys.facts import ApiServerVersion, KaiQueues, KubernetesNodes, ManifestPending

ROOT = Path(__file__).resolve().parent.parent
RECORDER = """#!/bin/sh
# test-only: note the argv, then run the real kubectl
printf '%s\\0' "$@" >> "$KUBECTL_LOG"; printf '\\n' >> "$KUBECTL_LOG"
exec "$REAL_KUBECTL" "$@"
"""


@pytest.fixture(scope="session")
def real_kubectl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Debian's kubectl binary, from the lab's cache (downloaded once, as ``lab up`` does)."""
    (deb,) = fetch_builds(CACHE_ROOT, (KUBECTL_BUILD,))
    root = tmp_path_factory.mktemp("kubectl-deb")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    binary = root / "usr/bin/kubectl"
    version = json.loads(
        subprocess.run(
            [binary, "version", "--client", "-o", "json"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert version["clientVersion"]["gitVersion"] == "v" + KUBECTL_BUILD.upstream
    return binary


@dataclass
class Output:
    stdout_lines: list[str]
    stderr_lines: list[str]


@dataclass
class Cluster:
    """A stand-in API server on loopback and a place to run the product's commands against it."""

    directory: Path
    server: str
    kubeconfig: Path
    env: dict[str, str]
    log: Path
    node_tokens: dict[str, str] = field(default_factory=dict)

    def shell(self, command: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
        # the product names kubeadm's admin.conf; here it is this cluster's kubeconfig
        command = command.replace(ADMIN_KUBECONFIG, str(self.kubeconfig))
        return subprocess.run(
            ["sh", "-c", command], capture_output=True, text=True, env=self.env, timeout=timeout
        )

    # what the product's phases and operations use of a pyinfra host
    def run_shell_command(self, command: str, **_: Any) -> tuple[bool, Output]:
        result = self.shell(command, timeout=_.get("_timeout", 120))
        return result.returncode == 0, Output(result.stdout.splitlines(), result.stderr.splitlines())

    def get_fact(self, fact: type, **arguments: Any) -> Any:
        instance = fact()
        return instance.process(self.shell(instance.command(**arguments)).stdout.splitlines())

    def kubectl(self, arguments: str) -> subprocess.CompletedProcess[str]:
        return self.shell(f"kubectl --kubeconfig {shlex.quote(str(self.kubeconfig))} {arguments}")

    def register(self, node: str) -> None:
        """What the stand-in kubelet does when it starts: the Node registers and reports."""
        token = self.node_tokens[node]
        status, answer = request(
            "POST", f"http://{self.server}/kubehaus/nodes/register", {"kubeletVersion": "v1.34.2"}, token
        )
        assert status == 200, answer

    def recorded(self) -> list[list[str]]:
        """Every kubectl argv run so far (the recorder writes each argument NUL-ended, one per line)."""
        if not self.log.exists():
            return []
        return [line.split("\0")[:-1] for line in self.log.read_text().split("\n") if line]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, real_kubectl: Path) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("real-kubectl")
    pki.make_pki(str(directory / "pki"), ["127.0.0.1", "localhost"])
    ca_der = pki.pem_to_der((directory / "pki/ca.crt").read_text())
    schemas = directory / "schemas.json"
    schemas.write_text(kubernetes_schema_bundle("1.34.2-1.1"))
    state = apiserver.new_state("1.34.2", "127.0.0.1:6443", {}, (ca_der, pki.public_key_hash(ca_der)))
    state["credentials"]["admin-token"] = {"user": "kubernetes-admin", "admin": True}
    tokens = {}
    for node in ("cp-1", "w-1", "w-2", "w-3"):
        tokens[node] = f"node-token-{node}"
        state["credentials"][tokens[node]] = {"user": f"system:node:{node}", "node": node}
    state_file = directory / "state.json"
    state_file.write_text(json.dumps(state))
    server = apiserver.make_server(
        str(state_file),
        str(schemas),
        "127.0.0.1",
        0,
        str(directory / "pki/apiserver.crt"),
        str(directory / "pki/apiserver.key"),
    )
    address = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = directory / "admin.conf"
    kubeconfig.write_text(
        kubeconfig_text(f"https://{address}", "kubernetes-admin", "admin-token", state["ca"])
    )
    kubeconfig.chmod(0o600)
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(RECORDER)
    (bin_dir / "kubectl").chmod(0o755)
    log = directory / "kubectl.log"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(directory),  # kubectl's discovery cache, this cluster's own
        "KUBECTL_LOG": str(log),
        "REAL_KUBECTL": str(real_kubectl),
    }
    found = Cluster(directory, address, kubeconfig, env, log, tokens)
    for node in tokens:
        found.register(node)
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


def manifests(directory: Path) -> list[str]:
    """Add-on manifests of the shapes kubehaus applies: built-in kinds, a CRD, then its objects."""
    reference = Path(os.environ.get("KUBEHAUS_SHARED", ROOT.parent / "shared")) / "reference"
    crds = directory / "crds.yaml"
    crds.write_text((reference / "crds/kai-v0.12.0-scheduling.run.ai_queues.yaml").read_text())
    dranet = directory / "dranet.yaml"
    dranet.write_text((reference / "dranet-v1.0.1-install.yaml").read_text())
    queues = directory / "queues.yaml"
    queue = {
        "apiVersion": "scheduling.run.ai/v2",
        "kind": "Queue",
        "metadata": {"name": "research"},
        "spec": {
            "resources": {
                r: {"quota": -1, "limit": -1, "overQuotaWeight": 1} for r in ("gpu", "cpu", "memory")
            }
        },
    }
    queues.write_text(yaml.safe_dump(queue))
    return [str(crds), str(dranet), str(queues)]


def test_discovery_and_openapi_are_what_the_client_reads(cluster: Cluster) -> None:
    """Aggregated discovery first (no fallback round trips), and the OpenAPI v3 documents apply reads."""
    result = cluster.kubectl("api-resources -o name")
    assert result.returncode == 0, result.stderr
    names = set(result.stdout.split())
    assert {
        "nodes",
        "pods",
        "poddisruptionbudgets.policy",
        "daemonsets.apps",
        "deviceclasses.resource.k8s.io",
    } <= names
    verbose = cluster.kubectl("get nodes -o name -v=6 --cache-dir /nonexistent-cache")
    urls = re.findall(r'url="https://[^/]+(/[^"?]*)', verbose.stderr)
    assert urls[:2] == ["/api", "/apis"] and "/api/v1" not in urls  # aggregated: no per-group requests


def test_cluster_read_and_node_listing(cluster: Cluster, tmp_path: Path) -> None:
    """Discovery's cluster read (nodes, version, one dry run of every manifest), then join's listing."""
    paths = manifests(tmp_path)
    lines = cluster.shell(
        ClusterQuery(kubeconfig=ADMIN_KUBECONFIG, manifests=tuple(paths[:2])).command()
    ).stdout
    observed = parse_cluster(lines.splitlines())
    assert observed is not None and observed.version == "1.34.2"
    assert set(observed.nodes or {}) == {"cp-1", "w-1", "w-2", "w-3"}
    assert observed.pending == {}  # not applied yet: each manifest's own dry run will say what
    assert join.registered_nodes(cluster) == {"cp-1", "w-1", "w-2", "w-3"}
    assert node_maintenance.api_server_version(cluster) == "1.34.2"
    assert set(cluster.get_fact(KubernetesNodes, kubeconfig=ADMIN_KUBECONFIG)) == {
        "cp-1",
        "w-1",
        "w-2",
        "w-3",
    }
    assert cluster.get_fact(ApiServerVersion, kubeconfig=ADMIN_KUBECONFIG) == "1.34.2"


def test_manifests_apply_once_and_then_are_in_sync(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = manifests(tmp_path)
    monkeypatch.setattr(operations, "host", cluster)
    for path in paths:
        pending = cluster.get_fact(ManifestPending, path=path, kubeconfig=ADMIN_KUBECONFIG)
        assert pending and all("created (server dry run)" in line for line in pending), pending
        for command in operations.manifest_applied._inner(path, ADMIN_KUBECONFIG):
            ok, output = cluster.run_shell_command(command)
            assert ok, output.stderr_lines
        assert cluster.get_fact(ManifestPending, path=path, kubeconfig=ADMIN_KUBECONFIG) == []
        assert list(operations.manifest_applied._inner(path, ADMIN_KUBECONFIG)) == []
    # a changed image is a strategic merge patch: the container list merged by name, not replaced
    changed = tmp_path / "dranet-changed.yaml"
    changed.write_text(
        re.sub(
            r"image: ghcr.io/google/dranet:\S+", "image: ghcr.io/google/dranet:v9", Path(paths[1]).read_text()
        )
    )
    pending = cluster.get_fact(ManifestPending, path=str(changed), kubeconfig=ADMIN_KUBECONFIG)
    assert pending == ["daemonset.apps/dranet configured (server dry run)"]
    for command in operations.manifest_applied._inner(str(changed), ADMIN_KUBECONFIG):
        assert cluster.run_shell_command(command)[0]
    daemonset = json.loads(cluster.kubectl("get daemonset dranet -n kube-system -o json").stdout)
    containers = daemonset["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["ghcr.io/google/dranet:v9"]
    # the whole cluster read agrees: nothing pending once everything is applied
    lines = cluster.shell(
        ClusterQuery(kubeconfig=ADMIN_KUBECONFIG, manifests=(paths[0], str(changed), paths[2])).command()
    ).stdout
    observed = parse_cluster(lines.splitlines())
    assert observed is not None and set(observed.pending) == {paths[0], str(changed), paths[2]}


def test_a_manifest_a_chart_replaces_is_deleted_then_its_file_removed(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dranet v1.0's manifest, before its v1.4 chart installs (docs/versions.md): the objects go through
    the real kubectl, then kubehaus's copy of the file; once removed, nothing is asked again."""
    monkeypatch.setattr(operations, "host", cluster)
    dranet = tmp_path / "dranet.yaml"
    dranet.write_text(Path(manifests(tmp_path)[1]).read_text())
    assert cluster.kubectl(f"apply -f {dranet}").returncode == 0
    assert cluster.kubectl("get daemonset dranet -n kube-system").returncode == 0
    for command in operations.manifest_removed._inner(str(dranet), ADMIN_KUBECONFIG):
        ok, output = cluster.run_shell_command(command)
        assert ok, output.stderr_lines
    assert cluster.kubectl("get daemonset dranet -n kube-system").returncode != 0
    assert cluster.kubectl("get clusterrole dranet").returncode != 0
    assert not dranet.exists()
    assert list(operations.manifest_removed._inner(str(dranet), ADMIN_KUBECONFIG)) == []


def test_the_renamed_dra_chart_replaces_its_old_release_keeping_compute_domains(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The stand-in helm as Helm 3 behaves where the migration depends on it (docs/versions.md): the
    0.4 chart cannot install beside the 25.8 release (it would take over its DeviceClasses); after
    ``helm uninstall`` of the old release its DeviceClasses are gone, its CRD and the ComputeDomains
    under it stay, and the new chart installs."""
    files_area.build_files_area(tmp_path / "files")
    charts, namespace = tmp_path / "files" / "charts", "nvidia-dra-driver-gpu"
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(dra_gpu_driver_values(Addons())))
    config = ["--kubeconfig", str(cluster.kubeconfig), "-n", namespace]

    def install(release: str, chart: str) -> None:
        helm.main([*config, "upgrade", "--install", release, str(charts / chart), "--create-namespace",
                   "-f", str(values)])  # fmt: skip

    install("nvidia-dra-driver-gpu", "nvidia-dra-driver-gpu-25.8.1.tgz")
    domain = tmp_path / "cd.yaml"
    domain.write_text(
        yaml.safe_dump({"apiVersion": "resource.nvidia.com/v1beta1", "kind": "ComputeDomain",
                        "metadata": {"name": "cd-1", "namespace": namespace},
                        "spec": {"numNodes": 1, "channel": {"resourceClaimTemplate": {"name": "c"}}}})
    )  # fmt: skip
    assert cluster.kubectl(f"apply -f {domain}").returncode == 0
    with pytest.raises(SystemExit):  # the old release owns gpu.nvidia.com
        install("dra-driver-nvidia-gpu", "dra-driver-nvidia-gpu-0.4.1.tgz")
    helm.main([*config, "uninstall", "nvidia-dra-driver-gpu", "--wait"])
    assert cluster.kubectl("get deviceclass gpu.nvidia.com").returncode != 0
    assert cluster.kubectl(f"get computedomain cd-1 -n {namespace}").returncode == 0
    install("dra-driver-nvidia-gpu", "dra-driver-nvidia-gpu-0.4.1.tgz")
    owner = json.loads(cluster.kubectl("get deviceclass gpu.nvidia.com -o json").stdout)["metadata"]
    assert owner["annotations"]["meta.helm.sh/release-name"] == "dra-driver-nvidia-gpu"
    assert cluster.kubectl(f"get computedomain cd-1 -n {namespace}").returncode == 0
    assert cluster.kubectl("get crd computedomaincliques.resource.nvidia.com").returncode == 0


def test_what_the_real_server_refuses_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\ndta: {}\n")
    for flags in ("--dry-run=server ", ""):
        result = cluster.kubectl(f"apply {flags}-f {bad}")
        assert result.returncode != 0 and "dta" in result.stderr
    missing = tmp_path / "queue.yaml"
    missing.write_text("apiVersion: kai.scheduler/v1alpha1\nkind: Topology\nmetadata: {name: t}\nspec: {}\n")
    result = cluster.kubectl(f"apply -f {missing}")
    assert result.returncode != 0 and 'no matches for kind "Topology"' in result.stderr
    assert cluster.kubectl("get configmap c -n default").returncode != 0
    label = cluster.kubectl("label node w-3 'bad key!=x'")
    assert label.returncode != 0


def test_the_other_patch_types_and_dry_runs(cluster: Cluster, tmp_path: Path) -> None:
    """Server-side apply, JSON and merge patches, and dry runs that change nothing (not used by
    kubehaus today; the store serves them as a real server does)."""
    config = tmp_path / "cm.yaml"
    config.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa, namespace: default}\ndata: {a: '1'}\n"
    )
    assert cluster.kubectl(f"apply --server-side --dry-run=server -f {config}").returncode == 0
    assert cluster.kubectl("get configmap ssa -n default").returncode != 0  # the dry run stored nothing
    applied = cluster.kubectl(f"apply --server-side -f {config}")
    assert applied.stdout.strip() == "configmap/ssa serverside-applied", applied.stderr
    patches = (
        """--type json -p '[{"op":"add","path":"/data/b","value":"2"}]'""",
        """--type merge -p '{"data":{"c":"3"}}'""",
        """-p '{"data":{"d":"4"}}'""",  # strategic merge, kubectl patch's default
    )
    for patch in patches:
        result = cluster.kubectl(f"patch configmap ssa -n default {patch}")
        assert result.returncode == 0, result.stderr
    data = json.loads(cluster.kubectl("get configmap ssa -n default -o json").stdout)["data"]
    assert data == {"a": "1", "b": "2", "c": "3", "d": "4"}
    assert cluster.kubectl("delete configmap ssa -n default --dry-run=server").returncode == 0
    assert cluster.kubectl("get configmap ssa -n default -o name").stdout.strip() == "configmap/ssa"
    assert cluster.kubectl("delete configmap ssa -n default").returncode == 0
    assert cluster.kubectl("get configmap ssa -n default").returncode != 0


def test_labels_and_taints_through_the_operation(cluster: Cluster) -> None:
    node = json.loads(cluster.kubectl("get node w-1 -o json").stdout)
    labels = {"kubehaus.io/rack": "r1", "nvidia.com/gpu.present": "true"}
    taints = [{"key": "kubehaus.io/unhealthy", "value": "NVLINK", "effect": "NoSchedule"}]
    commands = list(operations.node_metadata._inner("w-1", node, labels, taints, [], ADMIN_KUBECONFIG))
    assert len(commands) == 3  # the labels, the taint, the record of kubehaus's labels
    for command in commands:
        ok, output = cluster.run_shell_command(command)
        assert ok, output.stderr_lines
    node = json.loads(cluster.kubectl("get node w-1 -o json").stdout)
    assert {k: node["metadata"]["labels"][k] for k in labels} == labels
    assert node["metadata"]["annotations"][operations.MANAGED_LABELS] == ",".join(sorted(labels))
    assert node["spec"]["taints"] == taints
    assert list(operations.node_metadata._inner("w-1", node, labels, taints, [], ADMIN_KUBECONFIG)) == []
    # a label the inventory stops naming is removed; one kubehaus never set stays
    assert cluster.kubectl("label node w-1 team=ml").returncode == 0
    node = json.loads(cluster.kubectl("get node w-1 -o json").stdout)
    fewer = {"nvidia.com/gpu.present": "true"}
    for command in operations.node_metadata._inner("w-1", node, fewer, taints, [], ADMIN_KUBECONFIG):
        assert cluster.run_shell_command(command)[0]
    node = json.loads(cluster.kubectl("get node w-1 -o json").stdout)
    assert "kubehaus.io/rack" not in node["metadata"]["labels"]
    after = node["metadata"]["labels"]
    assert after["team"] == "ml" and after["nvidia.com/gpu.present"] == "true"
    assert node["metadata"]["annotations"][operations.MANAGED_LABELS] == "nvidia.com/gpu.present"
    assert list(operations.node_metadata._inner("w-1", node, fewer, taints, [], ADMIN_KUBECONFIG)) == []
    labels = fewer
    removal = list(
        operations.node_metadata._inner("w-1", node, labels, [], ["kubehaus.io/unhealthy"], ADMIN_KUBECONFIG)
    )
    for command in removal:
        assert cluster.run_shell_command(command)[0]
    assert "taints" not in json.loads(cluster.kubectl("get node w-1 -o json").stdout)["spec"]


def test_kai_queues_kubehaus_made_converge_and_one_in_use_stays(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queues the inventory stops naming are deleted, children first; an operator's queue (no mark)
    stays; one KAI accounts resources to, or that parents a queue that stays, is kept and the step
    fails saying why, until a later apply finds it idle. Before KAI's CRD exists there are none."""
    monkeypatch.setattr(operations, "host", cluster)
    reference = Path(os.environ.get("KUBEHAUS_SHARED", ROOT.parent / "shared")) / "reference"
    crd = tmp_path / "crd.yaml"
    crd.write_text((reference / "crds/kai-v0.17.0-scheduling.run.ai_queues.yaml").read_text())
    cluster.kubectl("delete crd queues.scheduling.run.ai --ignore-not-found")
    assert cluster.get_fact(KaiQueues, kubeconfig=ADMIN_KUBECONFIG) == {}
    assert cluster.kubectl(f"apply -f {crd}").returncode == 0
    others = set(cluster.get_fact(KaiQueues, kubeconfig=ADMIN_KUBECONFIG))  # queues earlier tests left

    def run(kept: list[str]) -> list[str]:
        """The operation's commands, run in order; the failure's message (empty: all ran)."""
        for command in operations.kai_queues_pruned._inner(kept, ADMIN_KUBECONFIG):
            ok, output = cluster.run_shell_command(command)
            if not ok:
                return output.stderr_lines
        return []

    def names() -> set[str]:
        return set(cluster.get_fact(KaiQueues, kubeconfig=ADMIN_KUBECONFIG)) - others

    inventory = KaiScheduler.model_validate(
        {"queues": [{"name": "org"}, {"name": "team-a", "parent": "org"}, {"name": "team-b"}]}
    )
    ours = tmp_path / "queues.yaml"
    ours.write_text(yaml.safe_dump_all(kai_queues(inventory)))
    own = tmp_path / "own.yaml"
    unmarked = [
        {**queue, "metadata": {"name": name}, "spec": {**queue["spec"], "parentQueue": parent}}
        for queue, (name, parent) in zip(
            kai_queues(inventory)[:2], [("lab-own", "org"), ("lab-child", "team-b")], strict=True
        )
    ]
    own.write_text(yaml.safe_dump_all(unmarked))
    for path in (ours, own):
        assert cluster.kubectl(f"apply -f {path}").returncode == 0
    assert names() == {"org", "team-a", "team-b", "lab-own", "lab-child"}
    assert run(["org", "team-a", "team-b"]) == []  # all still named: nothing to do
    assert list(operations.kai_queues_pruned._inner(["org", "team-a", "team-b"], ADMIN_KUBECONFIG)) == []
    # the inventory names none: team-a goes; team-b parents the operator's lab-child, org its lab-own
    failure = run([])
    assert names() == {"org", "team-b", "lab-own", "lab-child"}
    assert "org (parent of queue lab-own); team-b (parent of queue lab-child)" in " ".join(failure), failure
    # the cluster read sees the same queues
    read = parse_cluster(
        cluster.shell(ClusterQuery(kubeconfig=ADMIN_KUBECONFIG, queues=True).command()).stdout.splitlines()
    )
    assert read is not None and read.queues == cluster.get_fact(KaiQueues, kubeconfig=ADMIN_KUBECONFIG)
    # the operator moves their queues away; KAI accounts GPUs to org's jobs: org stays until idle
    assert cluster.kubectl("delete queues.scheduling.run.ai lab-child lab-own").returncode == 0
    solo = {
        **unmarked[0],
        "metadata": {"name": "lab-solo"},
        "spec": {**unmarked[0]["spec"], "parentQueue": None},
    }
    own.write_text(yaml.safe_dump(solo))
    assert cluster.kubectl(f"apply -f {own}").returncode == 0
    busy = """patch queues.scheduling.run.ai org --subresource=status --type=merge -p '{"status":%s}'"""
    in_use = cluster.kubectl(
        busy % json.dumps({"allocated": {"gpu": "2", "cpu": "0"}, "requested": {"memory": "0Mi"}})
    )
    assert in_use.returncode == 0, in_use.stderr
    failure = run([])
    assert names() == {"org", "lab-solo"} and "org (gpu=2 allocated)" in " ".join(failure), failure
    assert cluster.kubectl(busy % json.dumps({"allocated": {"gpu": "0", "cpu": "0m"}})).returncode == 0
    assert run([]) == [] and names() == {"lab-solo"}
    assert list(operations.kai_queues_pruned._inner([], ADMIN_KUBECONFIG)) == []


LAB_PODS = """
apiVersion: v1
kind: Namespace
metadata: {name: lab-work}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web, namespace: lab-work, uid: 7d0c2c6e-0000-4000-8000-000000000001}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: busybox}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: lab-work}
spec: {minAvailable: 2, selector: {matchLabels: {app: web}}}
"""


def lab_pod(name: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "lab-work",
            "labels": {"app": "web"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web",
                    "uid": "7d0c2c6e-0000-4000-8000-000000000001",
                    "controller": True,
                }
            ],
        },
        "spec": {"nodeName": node, "containers": [{"name": "web", "image": "busybox"}]},
    }


def test_node_maintenance_and_a_drain_a_budget_blocks(cluster: Cluster, tmp_path: Path) -> None:
    """cordon, annotate, drain (evictions against a PodDisruptionBudget), uncordon, remove."""
    objects = tmp_path / "pods.yaml"
    objects.write_text(
        LAB_PODS + "---\n" + yaml.safe_dump_all([lab_pod("web-1", "w-2"), lab_pod("web-2", "w-3")])
    )
    assert cluster.kubectl(f"apply -f {objects}").returncode == 0
    node_maintenance.annotate(cluster, "w-2", {node_maintenance.UPGRADE_ANNOTATION: "v1.35.0", "gone": None})
    node_maintenance.cordon(cluster, "w-2")
    node = node_maintenance.node_object(cluster, "w-2")
    assert node["spec"]["unschedulable"] is True
    assert node["metadata"]["annotations"][node_maintenance.UPGRADE_ANNOTATION] == "v1.35.0"
    with pytest.raises(node_maintenance.MaintenanceError) as blocked:
        node_maintenance.drain(cluster, "w-2", timeout_seconds=3, attempts=1)
    assert "lab-work/web (disruptions allowed 0: 2 healthy, 2 needed)" in str(blocked.value)
    assert "global timeout reached" in str(blocked.value)
    assert cluster.kubectl("get pod web-1 -n lab-work -o name").stdout.strip() == "pod/web-1"
    relaxed = cluster.kubectl("""patch pdb web -n lab-work --type merge -p '{"spec":{"minAvailable":1}}'""")
    assert relaxed.returncode == 0, relaxed.stderr
    node_maintenance.drain(cluster, "w-2", timeout_seconds=30, attempts=1)
    assert cluster.kubectl("get pod web-1 -n lab-work").returncode != 0  # evicted
    budget = json.loads(cluster.kubectl("get pdb web -n lab-work -o json").stdout)["status"]
    assert (budget["currentHealthy"], budget["disruptionsAllowed"]) == (1, 0)
    node_maintenance.cordon(cluster, "w-2", False)
    node_maintenance.annotate(cluster, "w-2", {node_maintenance.UPGRADE_ANNOTATION: None})
    node = node_maintenance.node_object(cluster, "w-2")
    assert "unschedulable" not in node["spec"] and not node["metadata"].get("annotations")
    events = json.loads(cluster.kubectl("get --raw /kubehaus/events").stdout)["items"]
    actions = [e["action"] for e in events if e["node"] == "w-2"]
    order = [actions.index(a) for a in ("cordoned", "eviction-refused", "evicted", "drained", "uncordoned")]
    assert order == sorted(order), actions
    assert node_maintenance.remove_from_cluster(cluster, "w-2") is True
    assert node_maintenance.remove_from_cluster(cluster, "w-2") is False
    assert "w-2" not in join.registered_nodes(cluster)


# -- every invocation in the code -----------------------------------------------------------------

SHELL_END = re.compile(r"\s*(?:;|&&|\|\||\||>|2>&1|\)|$)")


def test_a_chart_upgrade_applies_its_crds_first_then_the_add_ons_serve(
    cluster: Cluster, tmp_path: Path
) -> None:
    """helm_release's CRD step through the real kubectl (server-side apply over Helm's install-time
    CRD): after KAI v0.12 -> v0.17 the Topology CRD has v0.17's alias and a Topology with aliases is
    accepted; then the serving reads, through the same binary, show KAI ready with its queues and the
    kubelet plugins' ResourceSlices that a heartbeat's devices make (phase_support/serving.py)."""
    files_area.build_files_area(tmp_path / "files")
    charts, bin_dir = tmp_path / "files" / "charts", Path(cluster.env["PATH"].split(":")[0])
    helm_tool = bin_dir / "helm"
    helm_tool.write_text(
        f"#!/bin/sh\nPYTHONPATH={shlex.quote(str(ROOT))} exec {shlex.quote(sys.executable)} -c "
        "'import sys; from bootstrap.lab.standin_tools import helm; helm.main(sys.argv[1:])' \"$@\"\n"
    )
    helm_tool.chmod(0o755)
    values = tmp_path / "kai-values.yaml"
    values.write_text("{}\n")
    topology = tmp_path / "topology.yaml"
    topology.write_text(yaml.safe_dump({"apiVersion": "kai.scheduler/v1alpha1", "kind": "Topology",
                                        "metadata": {"name": "aliased"},
                                        "spec": {"levels": [{"nodeLabel": "kubernetes.io/hostname",
                                                             "alias": "host"}]}}))  # fmt: skip
    for version in ("v0.12.0", "v0.17.0"):
        reference = str(charts / f"kai-scheduler-{version}.tgz")
        commands = commands_of_release(reference, version, str(values))
        assert len(commands) == 2 and "helm show crds" in commands[0]
        for command in commands:
            done = cluster.shell(command)
            assert done.returncode == 0, (command, done.stderr)
        accepted = cluster.kubectl(f"apply --dry-run=server -f {topology}")
        assert (accepted.returncode == 0) is (version == "v0.17.0"), accepted.stderr
    crd = json.loads(cluster.kubectl("get crd topologies.kai.scheduler -o json").stdout)
    levels = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert "alias" in levels["levels"]["items"]["properties"]
    assert cluster.kubectl(f"apply -f {topology}").returncode == 0
    dra = str(charts / "dra-driver-nvidia-gpu-0.4.1.tgz")
    dra_values = tmp_path / "dra-values.yaml"
    dra_values.write_text(yaml.safe_dump(dra_gpu_driver_values(Addons())))
    for command in commands_of_release(
        dra, "0.4.1", str(dra_values), "dra-driver-nvidia-gpu", "nvidia-dra-driver-gpu"
    ):
        assert cluster.shell(command).returncode == 0, command
    labelled = cluster.kubectl("label node w-1 nvidia.com/gpu.present=true --overwrite")
    assert labelled.returncode == 0, labelled.stderr
    devices = {"gpus": [{"index": "0", "uuid": "GPU-1", "name": "NVIDIA H100"}], "rdma": []}
    for node, withheld in (("w-1", []), ("w-2", [])):
        status, _ = request("POST", f"http://{cluster.server}/kubehaus/nodes/register",
                            {"kubeletVersion": "v1.34.2", "devices": devices, "withheld": withheld},
                            cluster.node_tokens[node])  # fmt: skip
        assert status == 200
    wanted = serving.Expected(kai_namespace="kai-scheduler", queues=("default-queue",), gpu_nodes=("w-1",))
    observed = serving_phase.observe(cluster, wanted)  # type: ignore[arg-type]
    assert not observed.errors, observed.errors
    assert serving.problems(wanted, observed) == {}
    # w-2 has no GPU label: the plugin's DaemonSet does not land there, so it has no slice
    unmet = serving.problems(serving.Expected(gpu_nodes=("w-1", "w-2")), observed)
    gone = "w-2: no ResourceSlice of driver gpu.nvidia.com (its kubelet plugin has not registered)"
    assert unmet == {"DRA GPU driver": [gone]}
    # no RDMA NIC in any heartbeat: Dranet (not installed here) is reported missing on an RDMA node
    rdma = serving_phase.observe(cluster, serving.Expected(rdma_nodes=("w-1",)))  # type: ignore[arg-type]
    assert serving.problems(serving.Expected(rdma_nodes=("w-1",)), rdma) == {"Dranet": [
        "w-1: no ResourceSlice of driver dra.net", "w-1: DaemonSet kube-system/dranet no pod"]}  # fmt: skip
    (pod,) = json.loads(cluster.kubectl("get pods -n nvidia-dra-driver-gpu -o json").stdout)["items"]
    assert pod["spec"]["nodeName"] == "w-1" and serving.ready(pod)


def commands_of_release(
    reference: str,
    version: str,
    values: str,
    release: str = "kai-scheduler",
    namespace: str = "kai-scheduler",
) -> list[str]:
    """What helm_release runs for a release not yet at this version (its fact: no release found)."""
    with mock.patch.object(operations, "host", mock.Mock(get_fact=lambda *a, **k: None)):
        return list(
            operations.helm_release._inner(
                release=release, namespace=namespace, chart=release, version=version, reference=reference,
                values_path=values, values={}, kubeconfig=ADMIN_KUBECONFIG,
            )
        )  # fmt: skip


def _alternatives(node: ast.expr, prefixes: frozenset[str] = frozenset()) -> list[str]:
    """The texts a string expression can take, with ``{}`` for what is computed at run time;
    ``prefixes``: the names that hold a ``kubectl --kubeconfig ...`` prefix in this file."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        texts = [""]
        for part in node.values:
            if isinstance(part, ast.Constant):
                texts = [t + str(part.value) for t in texts]
                continue
            assert isinstance(part, ast.FormattedValue)
            value = part.value
            if isinstance(value, ast.Name) and value.id in prefixes:
                options = ["\0kubectl "]
            elif isinstance(value, ast.IfExp):
                options = [*_alternatives(value.body, prefixes), *_alternatives(value.orelse, prefixes)]
            else:
                options = ["{}"]
            texts = [t + o for t in texts for o in options]
        return texts
    return ["{}"]


def _invocations_in(text: str) -> list[str]:
    text = text.replace("kubectl --kubeconfig {} ", "\0kubectl ").replace(
        "kubectl --kubeconfig {}", "\0kubectl "
    )
    found = []
    for piece in text.split("\0kubectl ")[1:]:
        words = SHELL_END.split(piece, maxsplit=1)[0].strip()
        if words and words != "{}":
            found.append(words)
    return found


def test_the_health_token_is_issued_by_kubectl_and_held_to_its_node(cluster: Cluster) -> None:
    """apply's credential objects and TokenRequest through the real kubectl; then the node check's
    own client (node_agent/check.py, TLS against the cluster CA) with that token: its own Node's
    condition and taint pass, another Node and a label are refused by the policy (CEL)."""
    from bootstrap.health.credential import cluster_objects
    from bootstrap.health.node_token import parse_token_answer, token_command
    from bootstrap.node_agent import check

    for name in ("gpu-1", "gpu-2"):  # Nodes of their own: earlier tests delete and drain theirs
        apiserver.Handler.store.register_node(name, {"kubeletVersion": "v1.34.2"})
    credential = cluster.directory / "kubehaus-health-credential.yaml"
    credential.write_text(yaml.safe_dump_all(cluster_objects("1.34.2")))
    applied = cluster.kubectl(f"apply -f {shlex.quote(str(credential))}")
    assert applied.returncode == 0, applied.stderr
    ok, output = cluster.run_shell_command(token_command(ADMIN_KUBECONFIG, "gpu-2"))
    assert ok, output.stderr_lines
    issued = parse_token_answer("gpu-2", output.stdout_lines)
    token_file = cluster.directory / "gpu-2.token"
    token_file.write_text(issued.token + "\n")
    api = check.Api(f"https://{cluster.server}", str(cluster.directory / "pki/ca.crt"), str(token_file))
    node = api.request("GET", check.node_path("gpu-2"))
    taint = {"key": "kubehaus.io/unhealthy", "value": "NVLINK_DOWN", "effect": "NoSchedule"}
    version = node["metadata"]["resourceVersion"]
    spec = {
        "metadata": {"resourceVersion": version},
        "spec": {"taints": [*node["spec"].get("taints", []), taint]},
    }
    api.request("PATCH", check.node_path("gpu-2"), spec, "application/merge-patch+json")
    condition = {
        "type": "KubehausHardwareHealthy",
        "status": "False",
        "reason": "NVLINK_DOWN",
        "message": "m",
    }
    status = {"status": {"conditions": [condition]}}
    api.request(
        "PATCH", check.node_path("gpu-2") + "/status", status, "application/strategic-merge-patch+json"
    )
    seen = json.loads(cluster.kubectl("get node gpu-2 -o json").stdout)
    assert taint in seen["spec"]["taints"]
    assert any(c["type"] == "KubehausHardwareHealthy" for c in seen["status"]["conditions"])
    with pytest.raises(check.ApiFailure, match=r"HTTP 403.*change only the Node its token is bound to"):
        api.request(
            "PATCH",
            check.node_path("gpu-1"),
            {"spec": {"unschedulable": True}},
            "application/merge-patch+json",
        )
    with pytest.raises(check.ApiFailure, match="HTTP 403"):
        api.request(
            "PATCH",
            check.node_path("gpu-2"),
            {"metadata": {"labels": {"x": "y"}}},
            "application/merge-patch+json",
        )
    with pytest.raises(check.ApiFailure, match=r"HTTP 403.*cannot list resource"):
        api.request("GET", "/api/v1/nodes")
    # the token dies with its Node
    cluster.kubectl("delete node gpu-2")
    with pytest.raises(check.ApiFailure, match="HTTP 401"):
        api.request("GET", check.node_path("gpu-2"))


def invocations_in_code() -> dict[str, str]:
    """Every kubectl command line in bootstrap/ and deploys/ (the lab's own tools aside), as a
    pattern with ``{}`` for computed parts -> where it is."""
    found: dict[str, str] = {}
    files = sorted([*(ROOT / "bootstrap").rglob("*.py"), *(ROOT / "deploys").rglob("*.py")])
    for file in files:
        if "lab" in file.relative_to(ROOT).parts[:2]:
            continue
        tree = ast.parse(file.read_text())
        prefixes = frozenset(
            target.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            for target in n.targets
            if isinstance(target, ast.Name)
            and any(t.startswith("kubectl --kubeconfig {}") for t in _alternatives(n.value))
        )
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
            and n.body
            and isinstance(n.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            where = f"{file.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "kubectl":
                for text in _alternatives(
                    node.args[1], prefixes
                ):  # node_maintenance.kubectl(host, arguments)
                    found.setdefault(text.strip(), where)
            elif isinstance(node, (ast.Constant, ast.JoinedStr)) and id(node) not in docstrings:
                if isinstance(node, ast.Constant) and not isinstance(node.value, str):
                    continue
                for text in _alternatives(node, prefixes):
                    for invocation in _invocations_in(text):
                        found.setdefault(invocation, where)
    return found


def matches(pattern: str, argv: list[str]) -> bool:
    """Whether a recorded argv (``--kubeconfig`` aside) is an instance of a code pattern."""
    words = list(argv)
    if words[:1] == ["--kubeconfig"]:
        words = words[2:]
    # a computed part is one or more words, never a flag the pattern does not name
    computed = r"[^ ]+(?: (?!--)[^ ]+)*?"
    regex = "".join(computed if part == "{}" else re.escape(part) for part in re.split(r"(\{\})", pattern))
    return re.fullmatch(regex, " ".join(words)) is not None


def test_the_invocation_list_reads_the_code_it_claims() -> None:
    """The extraction finds what kubehaus is known to issue (a guard on the scanner itself)."""
    found = invocations_in_code()
    for expected in (
        "get nodes -o json",
        "get --raw /version",
        "cordon {}",
        "uncordon {}",
        "apply -f {}",
        "get nodes -o name",
    ):
        assert expected in found, sorted(found)
    assert any(p.startswith("apply --dry-run=server") for p in found)
    assert any(p.startswith("drain {} --ignore-daemonsets --delete-emptydir-data --timeout=") for p in found)


def test_every_kubectl_invocation_in_the_code_is_exercised(cluster: Cluster) -> None:
    """Runs last in this module: each command line the code can issue was run by the real kubectl."""
    recorded = cluster.recorded()
    assert recorded, "nothing was recorded: the recording kubectl was not on PATH"
    missing = {
        pattern: where
        for pattern, where in invocations_in_code().items()
        if not any(matches(pattern, argv) for argv in recorded)
    }
    assert not missing, f"kubectl invocations no test ran through the real binary: {missing}"
    seen = json.loads(cluster.kubectl("get --raw /kubehaus/kubectl-commands").stdout)["items"]
    verbs = {pattern.split()[0] for pattern in invocations_in_code()}
    assert {f"kubectl {verb} (kubectl/v{KUBECTL_BUILD.upstream})" for verb in verbs} <= set(seen)
