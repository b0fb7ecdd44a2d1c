"""``kubehaus apply`` against the lab, asserted through the stand-ins' cluster state.

The lab: a control plane, healthy DGX H100, DGX A100, L40S and GB200 machines, one DGX with a
failed NVLink and one with a fabric-manager version mismatch and an Xid. Two applies run, as a
user runs them (the CLI); the second must change nothing.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shlex
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bootstrap import quickstart
from bootstrap.inventory import defaults
from bootstrap.inventory.models import Addons
from bootstrap.lab.mirror import PORT
from bootstrap.lab.oci_image import REFERENCE
from bootstrap.lab.real_packages import CONTAINERD_SERVED_AS
from bootstrap.lab.registry import CA_IN_MIRROR, hosts_toml
from bootstrap.outcome import EXIT_FAILED, EXIT_HELD_OUT
from bootstrap.render.addons import MANAGED_BY, MANAGED_BY_LABEL, dra_gpu_driver_values

from .lab_fixture import KUBECTL, Lab, on

pytestmark = pytest.mark.lab

TOKEN = re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b")
CERTIFICATE_KEY = re.compile(r"\b[a-f0-9]{64}\b")
# the mirror's other real containerd build (trixie's 1.7.24): apply must put the pinned one back
DOWNGRADE_CONTAINERD = (
    "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-change-held-packages --allow-downgrades "
    "containerd.io=1.7.24-1 >/dev/null 2>&1"
)
MEMBERS = {"cp-1", "dgx-1", "l40s-1", "a100-1", "gb200-1", "dgx-4"}


@dataclass
class Run:
    code: int
    report: dict
    stdout: str
    stderr: str


def kubectl_json(lab: Lab, arguments: str) -> dict:
    result = on(lab, "cp-1", f"{KUBECTL} {arguments} -o json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def lab(apply_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """The apply lab, its inventory asking for ComputeDomains (GB200 multi-node NVLink) too."""
    inventory = yaml.safe_load(apply_lab.inventory.read_text())
    inventory["addons"]["dra_gpu_driver"] = {"compute_domains": True}
    site = tmp_path_factory.mktemp("site") / "inventory.yaml"
    site.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return dataclasses.replace(apply_lab, inventory=site)


# What a plan must leave exactly as it was: packages, every file under /etc and /var/lib/kubelet,
# the running units.
SNAPSHOT = (
    "(dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n'; "
    "find /etc /var/lib/kubelet -type f -exec sha256sum {} + 2>/dev/null | sort; "
    "systemctl list-units --state=active --no-legend --plain | awk '{print $1}' | sort) | sha256sum"
)


def kubehaus(verb: str, inventory: Path) -> Run:
    result = subprocess.run(
        [sys.executable, "-m", "bootstrap", verb, str(inventory), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"{verb} printed no JSON report: {result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return Run(result.returncode, report, result.stdout, result.stderr)


def apply(inventory: Path) -> Run:
    return kubehaus("apply", inventory)


@dataclass
class Before:
    verify: dict
    plan: Run
    unchanged: dict[str, bool]  # machine -> its snapshot is the same after the plan


@pytest.fixture(scope="module")
def before(lab: Lab) -> Before:
    """The health gate and a plan on the bare lab, before anything is installed."""
    machines = [m.name for m in lab.spec.machines]
    snapshots = {m: on(lab, m, SNAPSHOT).stdout for m in machines}
    verify = kubehaus("verify", lab.inventory).report
    plan = kubehaus("plan", lab.inventory)
    return Before(verify, plan, {m: on(lab, m, SNAPSHOT).stdout == snapshots[m] for m in machines})


@pytest.fixture(scope="module")
def runs(lab: Lab, before: Before) -> tuple[Run, Run]:
    return apply(lab.inventory), apply(lab.inventory)


def test_only_healthy_nodes_join(runs: tuple[Run, Run], lab: Lab) -> None:
    first, _ = runs
    nodes = {n["metadata"]["name"] for n in kubectl_json(lab, "get nodes")["items"]}
    assert nodes == MEMBERS, first.stderr[-3000:]
    hosts = first.report["hosts"]
    assert hosts["dgx-2"]["cluster"] == "quarantined: NVLINK_DOWN"
    assert hosts["dgx-3"]["cluster"].startswith("quarantined: ")
    assert hosts["dgx-3"]["health"]["codes"] == ["FABRIC_MANAGER_VERSION", "GPU_LOST", "XID_EVENT"]
    assert {h: e["cluster"] for h, e in hosts.items() if h in MEMBERS} == {
        "cp-1": "control plane (first)",
        "dgx-1": "joined",
        "l40s-1": "joined",
        "a100-1": "joined",
        "gb200-1": "joined",
        "dgx-4": "joined",
    }
    # converged, with quarantined nodes held out: its own exit code, apart from success and failure
    assert first.code == EXIT_HELD_OUT, first.report.get("outcome")
    outcome = first.report["outcome"]
    assert outcome["failed"] == [] and set(outcome["held_out"]) == {"dgx-2", "dgx-3"}
    steps = {(s["step"], s["name"]): s["result"] for s in first.report["steps"]}
    assert steps[("init", "kubeadm init")] == "done"
    assert {name: result for (kind, name), result in steps.items() if kind == "join"} == {
        **{h: "done" for h in MEMBERS - {"cp-1"}},
        "dgx-2": "held out",
        "dgx-3": "held out",
    }
    addons = {name: result for (kind, name), result in steps.items() if kind == "add-on"}
    wanted = {f"DRA GPU driver {defaults.DRA_GPU_DRIVER}", f"KAI scheduler {defaults.KAI_SCHEDULER}"}
    assert set(addons) >= wanted | {f"Dranet {defaults.DRANET}", "KAI queues and topology"}
    assert set(addons.values()) == {"done"}
    assert quickstart.check_first_apply(first.code, first.report) == []


def test_a_node_without_its_driver_is_judged_again_once_it_has_one(
    before: Before, runs: tuple[Run, Run]
) -> None:
    bare = before.verify["nodes"]["dgx-4"]
    assert (bare["action"], [f["code"] for f in bare["findings"]]) == ("join", ["NVML_UNAVAILABLE"])
    first, second = runs
    entry = first.report["hosts"]["dgx-4"]
    assert entry["phases"] == ["os", "nvidia", "rediscover", "runtime", "kubernetes", "join", "health-token"]
    assert entry["health"] == {
        "healthy": True,
        "action": "join",
        "codes": [],
    }  # the verdict after rediscovery
    assert entry["topology"]["gpus"] == 8 and entry["topology"]["driver"] == defaults.NVIDIA_DRIVER
    assert "nvidia: NVIDIA driver pinned" in entry["changes"]
    assert "rediscover" not in second.report["hosts"]["dgx-4"]["phases"]  # the driver is there now


def test_plan_changes_nothing_and_says_what_apply_will_do(
    before: Before, runs: tuple[Run, Run], lab: Lab
) -> None:
    assert before.unchanged == {m.name: True for m in lab.spec.machines}
    plan = before.plan
    assert plan.code == 0 and plan.report["dry_run"] is True
    hosts = plan.report["hosts"]
    assert hosts["cp-1"]["cluster"] == "would initialise the cluster (kubeadm init)"
    assert hosts["dgx-1"]["cluster"] == "would join" and "join: kubeadm join" in hosts["dgx-1"]["changes"]
    assert hosts["dgx-2"]["cluster"] == "quarantined: NVLINK_DOWN"
    assert "nvidia: NVIDIA driver pinned" in hosts["dgx-1"]["changes"]
    first, _ = runs
    for name, entry in first.report["hosts"].items():  # everything apply changed, the plan announced
        planned = set(hosts[name].get("changes", []))
        # (a restart depends on whether a unit happened to be running at that moment)
        done = {c for c in entry.get("changes", []) if not c.startswith("join:") and "restarted" not in c}
        assert done <= planned, name
    after = kubehaus("plan", lab.inventory)
    assert {h: e.get("changes") for h, e in after.report["hosts"].items()} == {
        h: [] for h in after.report["hosts"]
    }


def test_quarantined_nodes_are_prepared_but_not_joined(runs: tuple[Run, Run], lab: Lab) -> None:
    first, _ = runs
    assert first.report["hosts"]["dgx-2"]["phases"] == ["os", "nvidia", "runtime", "kubernetes"]
    state = on(
        lab, "dgx-2", "dpkg-query -W kubelet containerd.io; test -e /etc/kubernetes/kubelet.conf; echo $?"
    )
    assert f"kubelet\t{defaults.KUBERNETES}" in state.stdout and state.stdout.strip().endswith("1")


def test_a_second_apply_changes_nothing(runs: tuple[Run, Run]) -> None:
    _, second = runs
    assert {h: e.get("changes") for h, e in second.report["hosts"].items()} == {
        h: [] for h in second.report["hosts"]
    }, second.stderr[-3000:]
    assert {h: e["cluster"] for h, e in second.report["hosts"].items() if h in MEMBERS - {"cp-1"}} == {
        h: "member" for h in MEMBERS - {"cp-1"}
    }
    # and it succeeded: every cluster step in place (0 changes alone would pass over a failure)
    assert second.code == EXIT_HELD_OUT and second.report["outcome"]["failed"] == []
    assert {s["result"] for s in second.report["steps"] if s["step"] != "join"} == {"in place"}
    assert quickstart.check_second_apply(second.code, second.report) == []


NODE_DEPLOYS = {"os", "nvidia", "runtime", "kubernetes"}


def test_a_no_op_apply_skips_the_node_deploys(runs: tuple[Run, Run]) -> None:
    """Discovery's one command also read each node's managed state: nothing differed, nothing ran."""
    _, second = runs
    for name, entry in second.report["hosts"].items():
        if entry["status"] == "ok":
            assert "state-check" in entry["phases"] and not NODE_DEPLOYS & set(entry["phases"]), name


def test_drift_is_detected_and_repaired(runs: tuple[Run, Run], lab: Lab) -> None:
    """A file edited by hand, a package at another version, a stopped service: each node repaired."""
    edit = on(lab, "dgx-1", "echo '# edited by hand' >> /etc/sysctl.d/50-kubehaus.conf")
    other_version = on(
        lab,
        "l40s-1",
        DOWNGRADE_CONTAINERD,
    )
    stopped = on(lab, "a100-1", "systemctl stop nvidia-persistenced")
    # a file only the first control plane has, whose check the discovery read made free
    kubeadm = on(lab, "cp-1", "echo '# edited by hand' >> /etc/kubernetes/kubehaus-kubeadm.yaml")
    assert edit.returncode == other_version.returncode == stopped.returncode == kubeadm.returncode == 0
    run = apply(lab.inventory)
    hosts = run.report["hosts"]
    assert "os: sysctl drop-in" in hosts["dgx-1"]["changes"]
    assert "runtime: containerd pinned" in hosts["l40s-1"]["changes"]
    assert "nvidia: persistence daemon" in hosts["a100-1"]["changes"]
    assert hosts["cp-1"]["changes"] == ["control-plane: kubeadm configuration"]
    for name in MEMBERS - {"dgx-1", "l40s-1", "a100-1", "cp-1"}:
        assert hosts[name]["changes"] == [] and "state-check" in hosts[name]["phases"], name
    assert "edited by hand" not in on(lab, "dgx-1", "cat /etc/sysctl.d/50-kubehaus.conf").stdout
    assert "edited by hand" not in on(lab, "cp-1", "cat /etc/kubernetes/kubehaus-kubeadm.yaml").stdout
    assert (
        on(lab, "l40s-1", "dpkg-query -W -f='${Version}' containerd.io").stdout == f"{defaults.CONTAINERD}-1"
    )
    assert on(lab, "a100-1", "systemctl is-active nvidia-persistenced").stdout.strip() == "active"
    again = apply(lab.inventory)
    assert all(not entry["changes"] for entry in again.report["hosts"].values())
    assert all("state-check" in again.report["hosts"][name]["phases"] for name in MEMBERS)


def test_cluster_drift_is_found_by_the_read_in_discovery(runs: tuple[Run, Run], lab: Lab) -> None:
    """A label removed and a KAI queue deleted by hand, every node in state: the cluster read riding in
    discovery's command shows both, the labels and addons phases repair them, node deploys stay skipped."""
    removed = on(lab, "cp-1", f"{KUBECTL} label node dgx-1 kubehaus.io/rack-")
    deleted = on(lab, "cp-1", f"{KUBECTL} delete queue team-a")
    assert removed.returncode == deleted.returncode == 0, removed.stderr + deleted.stderr
    run = apply(lab.inventory)
    hosts = run.report["hosts"]
    assert hosts["cp-1"]["changes"] == [
        "addons: KAI queues and topology",
        "labels: labels and taints of dgx-1",
    ]
    for name in MEMBERS - {"cp-1"}:
        assert hosts[name]["changes"] == [] and "state-check" in hosts[name]["phases"], name
    labels = kubectl_json(lab, "get node dgx-1")["metadata"]["labels"]
    assert labels["kubehaus.io/rack"] == "r1"
    assert kubectl_json(lab, "get queue team-a")["spec"]["parentQueue"] == "research"
    again = apply(lab.inventory)
    assert all(not entry["changes"] for entry in again.report["hosts"].values())


def test_labels_and_taints(runs: tuple[Run, Run], lab: Lab) -> None:
    nodes = {n["metadata"]["name"]: n for n in kubectl_json(lab, "get nodes")["items"]}
    dgx = nodes["dgx-1"]["metadata"]["labels"]
    assert dgx["nvidia.com/gpu.present"] == "true"
    assert (dgx["kubehaus.io/block"], dgx["kubehaus.io/rack"]) == ("b1", "r1")
    assert dgx["kubehaus.io/gpu-product"] == "NVIDIA-H100-80GB-HBM3" and dgx["kubehaus.io/gpu-count"] == "8"
    assert dgx["kubehaus.io/numa-nodes"] == "2" and dgx["kubehaus.io/nvlink-domain"] == "dgx-1"
    assert nodes["a100-1"]["metadata"]["labels"]["kubehaus.io/numa-nodes"] == "8"
    assert "nvidia.com/gpu.clique" in nodes["gb200-1"]["metadata"]["labels"]
    assert "nvidia.com/gpu.present" not in nodes["cp-1"]["metadata"]["labels"]
    assert nodes["cp-1"]["spec"]["taints"] == [
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    ]
    assert all("taints" not in nodes[n]["spec"] for n in MEMBERS - {"cp-1"})


def test_addons_at_pinned_versions_with_their_values(runs: tuple[Run, Run], lab: Lab) -> None:
    releases = json.loads(on(lab, "cp-1", "helm list -A -o json").stdout)
    assert {(r["name"], r["chart"], r["status"]) for r in releases} == {
        ("dra-driver-nvidia-gpu", f"dra-driver-nvidia-gpu-{defaults.DRA_GPU_DRIVER}", "deployed"),
        ("dranet", f"dranet-{defaults.DRANET}", "deployed"),
        ("kai-scheduler", f"kai-scheduler-{defaults.KAI_SCHEDULER}", "deployed"),
    }
    assert all(r["revision"] == "1" for r in releases)  # the second apply did not upgrade them
    assert quickstart.check_releases(quickstart.expected_releases(lab.inventory), releases) == []
    values = json.loads(
        on(lab, "cp-1", "helm get values dra-driver-nvidia-gpu -n nvidia-dra-driver-gpu -o json").stdout
    )
    assert values == dra_gpu_driver_values(
        Addons.model_validate({"dra_gpu_driver": {"compute_domains": True}})
    )
    assert values["resources"]["computeDomains"]["enabled"] is True
    daemonset = kubectl_json(lab, "get daemonset dranet -n kube-system")
    assert [c["image"] for c in daemonset["spec"]["template"]["spec"]["containers"]] == [
        f"registry.k8s.io/networking/dranet:{defaults.DRANET}"  # the chart's, pinned to the release
    ]
    classes = {c["metadata"]["name"] for c in kubectl_json(lab, "get deviceclasses")["items"]}
    assert {"dranet", "gpu.nvidia.com"} <= classes


def test_kai_queues_and_topology(runs: tuple[Run, Run], lab: Lab) -> None:
    queues = {q["metadata"]["name"]: q for q in kubectl_json(lab, "get queues")["items"]}
    assert queues["team-a"]["spec"]["parentQueue"] == "research"
    assert queues["research"]["spec"]["resources"]["gpu"]["quota"] == 8
    # marked as kubehaus's, so that one the inventory stops naming is deleted (docs/apply.md)
    marked = {
        n for n, q in queues.items() if q["metadata"].get("labels", {}).get(MANAGED_BY_LABEL) == MANAGED_BY
    }
    assert {"research", "team-a"} <= marked
    topology = kubectl_json(lab, "get topology khapply")
    assert [level["nodeLabel"] for level in topology["spec"]["levels"]] == [
        "kubehaus.io/block",
        "kubehaus.io/rack",
        "nvidia.com/gpu.clique",
        "kubernetes.io/hostname",
    ]


def test_nodes_run_the_stack_with_numa_aware_kubelets(runs: tuple[Run, Run], lab: Lab) -> None:
    result = on(
        lab,
        "dgx-1",
        "systemctl is-active kubelet containerd nvidia-fabricmanager nvidia-persistenced; "
        "cat /etc/kubernetes/kubelet.conf.d/50-kubehaus-numa.conf",
    )
    lines = result.stdout.splitlines()
    assert lines[:4] == ["active"] * 4, result.stdout
    drop_in = yaml.safe_load("\n".join(lines[4:]))
    assert [entry["numaNode"] for entry in drop_in["reservedMemory"]] == [0, 1]
    assert on(lab, "dgx-1", "test -e /etc/kubernetes/kubehaus-join.yaml").returncode == 1


def containerd_config(lab: Lab, machine: str) -> dict:
    """What the real containerd makes of its configuration (``containerd config dump``)."""
    dump = on(lab, machine, "containerd config dump")
    assert dump.returncode == 0, dump.stderr
    return tomllib.loads(dump.stdout)


def test_real_containerd_runs_with_cdi_nri_and_systemd_cgroups(runs: tuple[Run, Run], lab: Lab) -> None:
    """The real containerd (Debian's build, served as containerd.io) reads kubehaus's drop-in."""
    for machine in ("dgx-1", "cp-1"):
        version = on(lab, machine, "containerd --version; dpkg-query -W -f='${Version}' containerd.io")
        # the binary is the real build behind the pin (no Debian suite has 2.3: docs/lab.md)
        binary = CONTAINERD_SERVED_AS.get(defaults.CONTAINERD, defaults.CONTAINERD)
        assert f"containerd github.com/containerd/containerd/v2 {binary}" in version.stdout
        assert version.stdout.endswith(f"{defaults.CONTAINERD}-1"), version.stdout
        config = containerd_config(lab, machine)
        assert config["version"] == 3 and config["imports"] == ["/etc/containerd/conf.d/*.toml"]
        runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
        assert runtime["enable_cdi"] is True and runtime["cdi_spec_dirs"] == ["/etc/cdi", "/var/run/cdi"]
        assert runtime["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
        nri = config["plugins"]["io.containerd.nri.v1.nri"]
        assert nri["disable"] is False and nri["socket_path"] == "/var/run/nri/nri.sock"
        assert "cri" not in config.get("disabled_plugins", [])
        # and the daemon loaded them: the CRI service and NRI answer over the socket
        plugins = on(lab, machine, "ctr plugins ls").stdout.splitlines()
        loaded = {tuple(line.split()[:2]): line.split()[-1] for line in plugins[1:]}
        assert loaded[("io.containerd.grpc.v1", "cri")] == "ok", plugins
        assert loaded[("io.containerd.nri.v1", "nri")] == "ok", plugins
        assert loaded[("io.containerd.cri.v1", "runtime")] == "ok", plugins


def test_an_invalid_containerd_drop_in_is_refused_and_repaired(runs: tuple[Run, Run], lab: Lab) -> None:
    """Hand-edited into invalid TOML, the drop-in stops the real containerd; the next apply repairs it."""
    broken = on(
        lab,
        "l40s-1",
        "echo '[plugins.broken' >> /etc/containerd/conf.d/50-kubehaus.toml; "
        "systemctl restart containerd; sleep 1; systemctl is-active containerd",
    )
    assert broken.stdout.strip() != "active", broken.stdout
    refused = on(lab, "l40s-1", "containerd config dump")
    assert refused.returncode != 0 and "50-kubehaus.toml" in refused.stderr, refused.stderr
    assert on(lab, "l40s-1", "ctr version").returncode != 0  # nothing answers on the socket
    changes = apply(lab.inventory).report["hosts"]["l40s-1"]["changes"]
    assert "runtime: containerd drop-in (systemd cgroups, CDI, NRI)" in changes
    assert on(lab, "l40s-1", "systemctl is-active containerd").stdout.strip() == "active"
    assert containerd_config(lab, "l40s-1")["plugins"]["io.containerd.nri.v1.nri"]["disable"] is False
    assert on(lab, "l40s-1", "ctr version").returncode == 0
    again = apply(lab.inventory)
    assert all(not entry["changes"] for entry in again.report["hosts"].values())


def test_the_real_containerd_pulls_from_the_lab_registry_only_trusting_the_lab_ca(
    runs: tuple[Run, Run], lab: Lab
) -> None:
    """The mirror's registry (Debian's docker-registry) serves the pushed image over TLS from the lab
    CA: containerd refuses it without the CA and pulls it through a certs.d hosts dir with it."""
    assert lab.record.registry_url and lab.record.mirror_url
    host = lab.record.registry_url.removeprefix("https://")
    reference = f"{host}/kubehaus-lab/busybox:lab"
    refused = on(lab, "l40s-1", f"ctr images pull --snapshotter native {reference}")  # the daemon pulls
    assert refused.returncode != 0, refused.stdout
    assert "x509: certificate signed by unknown authority" in refused.stderr, refused.stderr
    hosts_dir = f"/tmp/kh-test-certs.d/{host}"
    setup = on(
        lab,
        "l40s-1",
        f"mkdir -p {hosts_dir} && python3 -c 'import urllib.request as u; "
        f'u.urlretrieve("{lab.record.mirror_url}/{CA_IN_MIRROR}", "{hosts_dir}/ca.crt")\' && '
        f"printf %s {shlex.quote(hosts_toml(host, f'{hosts_dir}/ca.crt'))} > {hosts_dir}/hosts.toml",
    )
    assert setup.returncode == 0, setup.stderr
    try:
        # --local: ctr's own containerd client resolves and fetches (the daemon's transfer service
        # has no unpack platform for the native snapshotter, the only one that works in a machine)
        pulled = on(
            lab,
            "l40s-1",
            f"ctr images pull --local --hosts-dir /tmp/kh-test-certs.d --snapshotter native {reference} "
            f"&& ctr images check name=={reference}",
        )
        assert pulled.returncode == 0, pulled.stderr
        assert "complete" in pulled.stdout, pulled.stdout
        with tarfile.open(fileobj=io.BytesIO(busybox_layout(lab))) as layout:
            pushed = json.load(layout.extractfile("index.json"))  # type: ignore[arg-type]
        listed = on(lab, "l40s-1", f"ctr images ls name=={reference}").stdout
        assert pushed["manifests"][0]["digest"] in listed, listed
    finally:
        on(lab, "l40s-1", f"ctr images rm {reference}; rm -rf /tmp/kh-test-certs.d")


def busybox_layout(lab: Lab) -> bytes:
    return (lab.paths.mirror / "images" / "busybox-lab.oci.tar").read_bytes()


def test_the_kubelet_asks_the_real_containerd_over_cri(runs: tuple[Run, Run], lab: Lab) -> None:
    """The kubelet stand-in's RuntimeService/Version call (gRPC over the socket) and the real
    containerd's answers: its version, Unimplemented from a containerd with CRI disabled (the
    containerd.io default), Unavailable with no daemon."""
    journal = on(lab, "dgx-1", "journalctl -u kubelet --no-pager -o cat").stdout
    binary = CONTAINERD_SERVED_AS.get(defaults.CONTAINERD, defaults.CONTAINERD)  # the build behind the pin
    assert (
        '"Container runtime initialized" containerRuntime="containerd" '
        f'version="{binary}+unknown" apiVersion="v1"'
    ) in journal, journal[-2000:]
    check = (
        "PYTHONPATH=/usr/lib/kubehaus-standin/kubelet python3 -c "
        "'import sys; from standin_tools.node import cri_problem; print(cri_problem(sys.argv[1]))' "
    )
    no_cri_config = (
        'version = 3\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        'root = "/tmp/kh-nocri/root"\nstate = "/tmp/kh-nocri/state"\n'
        '[grpc]\n  address = "/tmp/kh-nocri/containerd.sock"\n'
        '[ttrpc]\n  address = "/tmp/kh-nocri/ttrpc.sock"\n'
    )
    start_no_cri = (
        f"mkdir -p /tmp/kh-nocri && printf %s {shlex.quote(no_cri_config)} > /tmp/kh-nocri/config.toml && "
        "{ containerd --config /tmp/kh-nocri/config.toml </dev/null >/tmp/kh-nocri/log 2>&1 & "
        "echo $! > /tmp/kh-nocri/pid; } "
        "&& for i in $(seq 50); do test -S /tmp/kh-nocri/containerd.sock && break; sleep 0.2; done; "
    )
    try:
        answers = on(
            lab,
            "dgx-1",
            start_no_cri + check + "/tmp/kh-nocri/containerd.sock; " + check + "/tmp/kh-none.sock",
        )
    finally:
        on(lab, "dgx-1", "kill $(cat /tmp/kh-nocri/pid); sleep 0.5; rm -rf /tmp/kh-nocri")
    disabled, absent = answers.stdout.splitlines()[-2:]
    assert "rpc error: code = Unimplemented desc = unknown service runtime.v1.RuntimeService" in disabled, (
        answers.stdout + answers.stderr
    )
    assert "rpc error: code = Unavailable" in absent and "kh-none.sock" in absent, absent


def test_cni_plugins_are_debians_real_build_and_wire_a_network_namespace(
    runs: tuple[Run, Run], lab: Lab
) -> None:
    """kubernetes-cni on the nodes is Debian's containernetworking-plugins: the bridge plugin with
    host-local IPAM really creates a bridge, a veth and an address in a namespace, and removes them."""
    package = on(lab, "dgx-1", "dpkg-query -W -f='${Version} ${Description}' kubernetes-cni").stdout
    assert package.startswith("1.9.1-1.1 Debian's containernetworking-plugins 1.9.1+ds1-1 (sid)"), package
    version = on(lab, "dgx-1", "CNI_COMMAND=VERSION /opt/cni/bin/bridge")
    assert json.loads(version.stdout)["cniVersion"] == "1.1.0", version.stdout + version.stderr
    config = shlex.quote(
        json.dumps(
            {
                "cniVersion": "1.0.0",
                "name": "kh-test",
                "type": "bridge",
                "bridge": "khcnitest0",
                "isGateway": True,
                "ipam": {"type": "host-local", "subnet": "10.244.77.0/24", "dataDir": "/tmp/kh-cni-ipam"},
            }
        )
    )
    plugin = "CNI_CONTAINERID=kh-test CNI_NETNS=/run/netns/kh-cni-test CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin"
    try:
        added = on(
            lab,
            "dgx-1",
            f"ip netns add kh-cni-test && echo {config} | CNI_COMMAND=ADD {plugin} /opt/cni/bin/bridge",
        )
        assert added.returncode == 0, added.stdout + added.stderr
        assert json.loads(added.stdout)["ips"][0]["address"] == "10.244.77.2/24", added.stdout
        inside = on(
            lab, "dgx-1", "ip -n kh-cni-test -4 -o addr show eth0; ip -4 -o addr show khcnitest0"
        ).stdout
        assert "inet 10.244.77.2/24" in inside and "inet 10.244.77.1/24" in inside, inside
        deleted = on(lab, "dgx-1", f"echo {config} | CNI_COMMAND=DEL {plugin} /opt/cni/bin/bridge")
        assert deleted.returncode == 0, deleted.stderr
        assert on(lab, "dgx-1", "ip -n kh-cni-test -o link show eth0").returncode != 0  # veth gone
    finally:
        on(lab, "dgx-1", "ip netns del kh-cni-test; ip link del khcnitest0; rm -rf /tmp/kh-cni-ipam")


def test_the_control_plane_runs_kubeadms_etcd_member_for_real(runs: tuple[Run, Run], lab: Lab) -> None:
    """kubeadm init (stand-in) on the first control plane writes kubeadm's etcd manifest from the
    configuration kubehaus rendered; Debian's real etcd runs exactly its command, answers
    `etcdctl endpoint health` with kubeadm's health-check client certificate, and refuses a client
    without one. Workers run no etcd."""
    address = next(m.address for m in lab.record.machines if m.name == "cp-1")
    manifest = yaml.safe_load(on(lab, "cp-1", "cat /etc/kubernetes/manifests/etcd.yaml").stdout)
    command = manifest["spec"]["containers"][0]["command"]
    for flag in (
        "--name=cp-1",
        f"--advertise-client-urls=https://{address}:2379",
        f"--initial-cluster=cp-1=https://{address}:2380",
        f"--listen-client-urls=https://127.0.0.1:2379,https://{address}:2379",
        "--data-dir=/var/lib/etcd",
        "--client-cert-auth=true",
    ):
        assert flag in command, command
    running = on(
        lab, "cp-1", "cat /proc/$(systemctl show -p MainPID --value kubehaus-standin-etcd.service)/cmdline"
    )
    assert running.stdout.split("\0")[:-1] == command, running.stdout
    pki = "/etc/kubernetes/pki/etcd"
    health = on(
        lab,
        "cp-1",
        f"etcd --version | head -1; ETCDCTL_API=3 etcdctl --endpoints=https://{address}:2379 "
        f"--cacert={pki}/ca.crt --cert={pki}/healthcheck-client.crt --key={pki}/healthcheck-client.key "
        "endpoint health",
    )
    assert health.returncode == 0, health.stdout + health.stderr
    assert "etcd Version: 3.5.16" in health.stdout
    assert f"https://{address}:2379 is healthy: successfully committed proposal" in health.stdout
    anonymous = on(
        lab,
        "cp-1",
        f"ETCDCTL_API=3 etcdctl --command-timeout=3s --endpoints=https://{address}:2379 "
        f"--cacert={pki}/ca.crt endpoint health",
    )
    assert anonymous.returncode != 0 and "is unhealthy" in anonymous.stdout + anonymous.stderr
    assert (
        "client didn't provide a certificate"
        in on(lab, "cp-1", "journalctl -u kubehaus-standin-etcd.service --no-pager -o cat | tail -20").stdout
    )
    workers = on(
        lab, "dgx-1", "systemctl is-active etcd.service kubehaus-standin-etcd.service; ls -A /var/lib/etcd"
    )
    assert workers.stdout.split() == ["inactive", "inactive"], workers.stdout


def test_a_container_under_real_runc_is_stopped_by_the_lab_cgroups(runs: tuple[Run, Run], lab: Lab) -> None:
    """The lab's limit, pinned (docs/lab.md): the image imports into the real containerd, but runc
    cannot create the container's cgroup, because nspawn mounts the host's cgroup v1 controllers
    read-only in the machine. When this changes, make this the positive test (a container exits 0)."""
    url = f"http://{lab.spec.bridge_address}:{PORT}/images/busybox-lab.oci.tar"
    imported = on(
        lab,
        "dgx-1",
        f'python3 -c \'import urllib.request as u; u.urlretrieve("{url}", "/tmp/busybox.tar")\' && '
        "ctr image import /tmp/busybox.tar && ctr image check",
    )
    assert imported.returncode == 0, imported.stderr
    assert f"{REFERENCE}" in imported.stdout and "complete" in imported.stdout, imported.stdout
    ran = on(
        lab, "dgx-1", f"ctr run --rm --snapshotter native {REFERENCE} kh-lab-test /bin/echo hello-from-runc"
    )
    assert ran.returncode != 0, (
        f"runc now runs containers in the lab: make this the positive test\n{ran.stdout}"
    )
    assert "runc create failed" in ran.stderr and "/sys/fs/cgroup/" in ran.stderr, ran.stderr
    assert "read-only file system" in ran.stderr, ran.stderr
    # overlayfs, containerd's default snapshotter, cannot stack on the machine's overlayfs root
    overlay = on(lab, "dgx-1", f"ctr run --rm {REFERENCE} kh-lab-test2 /bin/true")
    assert overlay.returncode != 0 and "fstype: overlay" in overlay.stderr, overlay.stderr


# runc as a lab machine lets it run (docs/lab.md, "Containers under real runc"): rootless cgroup
# mode and no cgroups path (runc then skips the machine's read-only cgroup v1 controllers), no
# session keyring (nspawn's seccomp filter refuses keyctl), and the bundle's resources cut to the
# device rules (runc refuses a value such as containerd's default cpu shares it has no cgroup for).
# Given to containerd's shim as its runc binary: ctr run --cgroup '' --runc-binary.
RUNC_IN_A_MACHINE = """#!/bin/sh
bundle=""; prev=""
for a in "$@"; do
  shift
  [ "$prev" = --bundle ] && bundle=$a
  case "$a" in --bundle=*) bundle=${a#--bundle=} ;; esac
  prev=$a
  set -- "$@" "$a"
  if [ "$a" = create ]; then set -- "$@" --no-new-keyring; fi
done
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
  python3 -c 'import json, sys
p = sys.argv[1]; c = json.load(open(p)); linux = c.setdefault("linux", {})
linux["resources"] = {"devices": (linux.get("resources") or {}).get("devices", [])}
linux.pop("cgroupsPath", None); json.dump(c, open(p, "w"))' "$bundle/config.json"
fi
exec /usr/sbin/runc --rootless=true "$@"
"""


def test_a_test_container_pulled_from_the_lab_registry_runs_and_exits_0(
    runs: tuple[Run, Run], lab: Lab
) -> None:
    """The busybox image, pulled by the real containerd from the lab registry (trusting the lab CA),
    runs under real runc (in the lab's mode, above) and exits 0; a failing one reports its status."""
    assert lab.record.registry_url and lab.record.mirror_url
    host = lab.record.registry_url.removeprefix("https://")
    reference = f"{host}/kubehaus-lab/busybox:lab"
    hosts_dir = f"/tmp/kh-run-certs.d/{host}"
    setup = on(
        lab,
        "dgx-1",
        f"mkdir -p {hosts_dir} && python3 -c 'import urllib.request as u; "
        f'u.urlretrieve("{lab.record.mirror_url}/{CA_IN_MIRROR}", "{hosts_dir}/ca.crt")\' && '
        f"printf %s {shlex.quote(hosts_toml(host, f'{hosts_dir}/ca.crt'))} > {hosts_dir}/hosts.toml && "
        f"printf %s {shlex.quote(RUNC_IN_A_MACHINE)} > /tmp/kh-runc && chmod +x /tmp/kh-runc && "
        f"ctr images pull --local --hosts-dir /tmp/kh-run-certs.d --snapshotter native {reference}",
    )
    assert setup.returncode == 0, setup.stderr
    run = f"ctr run --rm --snapshotter native --cgroup '' --runc-binary /tmp/kh-runc {reference}"
    try:
        ran = on(lab, "dgx-1", f"{run} kh-run-test /bin/sh -c 'echo hello-from-runc; id -u' </dev/null")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert ran.stdout.split() == ["hello-from-runc", "0"], ran.stdout
        failed = on(lab, "dgx-1", f"{run} kh-run-test2 /bin/sh -c 'exit 3' </dev/null")
        assert failed.returncode == 3, failed.stdout + failed.stderr  # the container's own status
    finally:
        on(lab, "dgx-1", f"ctr images rm {reference}; rm -rf /tmp/kh-run-certs.d /tmp/kh-runc")


def test_cordon_state_is_kept(runs: tuple[Run, Run], lab: Lab) -> None:
    assert on(lab, "cp-1", f"{KUBECTL} cordon l40s-1").stdout.strip() == "node/l40s-1 cordoned"
    assert kubectl_json(lab, "get node l40s-1")["spec"]["unschedulable"] is True
    assert on(lab, "cp-1", f"{KUBECTL} uncordon l40s-1").stdout.strip() == "node/l40s-1 uncordoned"
    assert "unschedulable" not in kubectl_json(lab, "get node l40s-1")["spec"]


def test_kubeadm_join_checks_token_and_ca_hash(runs: tuple[Run, Run], lab: Lab) -> None:
    endpoint = "198.18.20.10:6443"
    bad_token = on(
        lab, "dgx-2", f"kubeadm join {endpoint} --token nope --discovery-token-ca-cert-hash sha256:{'a' * 64}"
    )
    assert bad_token.returncode != 0 and "was not of the form" in bad_token.stderr
    bad_hash = on(
        lab,
        "dgx-2",
        f"kubeadm join {endpoint} --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash md5:00",
    )
    assert bad_hash.returncode != 0 and "invalid hash" in bad_hash.stderr
    token = "abcdef.0123456789abcdef"
    unknown = on(
        lab,
        "dgx-2",
        f"kubeadm join {endpoint} --token {token} --discovery-token-ca-cert-hash sha256:{'a' * 64}",
    )
    assert unknown.returncode != 0 and "none of the public keys" in unknown.stderr  # the CA is pinned
    assert on(lab, "dgx-2", "test -e /etc/kubernetes/kubelet.conf").returncode == 1


def test_compute_domains_turn_the_host_imex_service_off(runs: tuple[Run, Run], lab: Lab) -> None:
    first, _ = runs
    assert "nvidia: host IMEX masked" in first.report["hosts"]["gb200-1"]["changes"]
    state = on(lab, "gb200-1", "systemctl is-enabled nvidia-imex; systemctl is-active nvidia-imex")
    assert state.stdout.split() == ["masked", "inactive"]
    assert not any("IMEX" in c for c in first.report["hosts"]["dgx-1"]["changes"])  # no IMEX there


def test_kubeconfig_is_private(runs: tuple[Run, Run], lab: Lab) -> None:
    kubeconfig = lab.paths.cluster_state / "admin.conf"
    assert kubeconfig.stat().st_mode & 0o777 == 0o600
    assert (
        yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        == "https://198.18.20.10:6443"
    )


def test_secrets_never_reach_output_or_reports(runs: tuple[Run, Run], lab: Lab) -> None:
    texts = [run.stdout + run.stderr for run in runs]
    texts += [p.read_text() for p in (lab.paths.cluster_state / "runs").rglob("*.json")]
    for text in texts:
        assert not TOKEN.search(text)
        assert not CERTIFICATE_KEY.search(text)


def test_a_second_apply_is_refused_while_one_runs(runs: tuple[Run, Run], lab: Lab) -> None:
    # a converged re-run holds the lock for about a second: give the first apply a package to
    # repair (seconds of apt), and freeze it while it holds the lock, so the second surely meets it
    downgraded = on(
        lab,
        "l40s-1",
        DOWNGRADE_CONTAINERD,
    )
    assert downgraded.returncode == 0, downgraded.stderr
    first = subprocess.Popen(
        [sys.executable, "-m", "bootstrap", "apply", str(lab.inventory), "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while on(lab, "cp-1", "test -e /var/lib/kubehaus/apply.lock").returncode != 0:
            assert first.poll() is None and time.monotonic() < deadline, "the first apply never took the lock"
            time.sleep(0.2)
        first.send_signal(signal.SIGSTOP)
        try:
            second = apply(lab.inventory)
        finally:
            first.send_signal(signal.SIGCONT)
    finally:
        output, _ = first.communicate(timeout=600)
    assert second.code == 1
    assert second.report["aborted"].startswith("another apply holds the cluster lock on cp-1: ")
    assert f"(pid {first.pid})" in second.report["aborted"]
    hosts = json.loads(output)["hosts"]  # the first one carried on undisturbed
    assert hosts["cp-1"]["changes"] == [] and "runtime: containerd pinned" in hosts["l40s-1"]["changes"]
    assert on(lab, "cp-1", "test -e /var/lib/kubehaus/apply.lock").returncode == 1  # released at its end


def changed_inventory(lab: Lab, tmp_path: Path, section: str, key: str, value: str) -> Path:
    inventory = yaml.safe_load(lab.inventory.read_text())
    inventory.setdefault(section, {})[key] = value
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def test_a_plan_for_new_versions_lists_the_rolling_upgrade_and_changes_nothing(
    runs: tuple[Run, Run], lab: Lab, tmp_path: Path
) -> None:
    """The lab runs the newest Kubernetes kubehaus knows (1.37.1): a driver branch change (R595,
    accepted) is planned as a rolling upgrade of the GPU nodes; a Kubernetes downgrade is refused by
    the compatibility check against the cluster, nothing touched. (Kubernetes minor steps: the
    migration test, tests/test_migration_lab.py.)"""
    events = on(lab, "cp-1", f"{KUBECTL} get --raw /kubehaus/events").stdout
    inventory = changed_inventory(lab, tmp_path, "versions", "nvidia_driver", "595.91.07")
    plan = kubehaus("plan", inventory)
    assert plan.code == 0, plan.report.get("aborted")
    changes = plan.report["hosts"]
    assert not any(c.startswith("upgrade:") for c in changes["cp-1"]["changes"])
    assert changes["dgx-1"]["changes"][0] == (
        f"upgrade: cordon, drain, driver {defaults.NVIDIA_DRIVER} -> 595.91.07, "
        "reboot and health re-check, uncordon"
    )
    # members keep their versions outside the upgrade; a quarantined node is simply installed anew
    assert not any(c.startswith(("kubernetes:", "nvidia:")) for c in changes["dgx-1"]["changes"])
    assert "nvidia: NVIDIA driver pinned" in changes["dgx-2"]["changes"]
    older = kubehaus("plan", changed_inventory(lab, tmp_path, "cluster", "kubernetes_version", "1.36.4"))
    assert older.code != 0
    assert (
        f"this cluster runs Kubernetes {defaults.KUBERNETES}; kubeadm does not downgrade to 1.36.4"
        in (older.report["aborted"])
    )
    assert on(lab, "cp-1", f"{KUBECTL} get --raw /kubehaus/events").stdout == events
    assert on(lab, "dgx-1", "dpkg-query -W -f='${Version}' kubelet").stdout == f"{defaults.KUBERNETES}-1.1"


def test_an_unreachable_node_does_not_stop_the_others(
    runs: tuple[Run, Run], lab: Lab, tmp_path: Path
) -> None:
    inventory = yaml.safe_load(lab.inventory.read_text())
    inventory["hosts"].append(
        {"name": "gone-1", "address": "198.18.20.99", "roles": ["worker"], "profile": "cpu-only"}
    )
    changed = tmp_path / "inventory.yaml"
    changed.write_text(yaml.safe_dump(inventory))
    run = apply(changed)
    assert run.code == 1
    assert run.report["hosts"]["gone-1"]["status"] == "failed"
    assert run.report["hosts"]["gone-1"]["failed_phase"] == "connect"
    assert all(
        run.report["hosts"][h]["status"] == "ok" and run.report["hosts"][h]["changes"] == [] for h in MEMBERS
    )


def test_an_add_on_that_cannot_install_fails_the_apply_and_the_quick_start_checks(
    runs: tuple[Run, Run], lab: Lab
) -> None:
    """A mirror missing one chart: apply exits with the failure code, not the held-out one, the report
    says which add-on failed, and each of the quick start's checks catches it."""
    chart = lab.paths.mirror / "files" / "charts" / f"kai-scheduler-{defaults.KAI_SCHEDULER}.tgz"
    hidden = chart.with_name(chart.name + ".hidden")
    assert on(lab, "cp-1", "helm uninstall kai-scheduler -n kai-scheduler").returncode == 0
    chart.rename(hidden)
    try:
        run = apply(lab.inventory)
        listed = json.loads(on(lab, "cp-1", "helm list -A -o json").stdout)
    finally:
        hidden.rename(chart)
    assert run.code == EXIT_FAILED, run.report.get("outcome")
    assert run.report["outcome"]["result"] == "failed" and set(run.report["outcome"]["held_out"]) == {
        "dgx-2",
        "dgx-3",
    }
    steps = {s["name"]: s for s in run.report["steps"] if s["step"] == "add-on"}
    kai = steps[f"KAI scheduler {defaults.KAI_SCHEDULER}"]
    assert kai["result"] == "failed" and not kai["ok"] and "404" in kai["detail"], kai
    assert steps["KAI queues and topology"]["result"] == "not attempted"
    assert steps[f"DRA GPU driver {defaults.DRA_GPU_DRIVER}"]["result"] == "in place"
    assert run.report["hosts"]["cp-1"]["failed_phase"] == "addons"
    assert any("KAI scheduler" in p for p in quickstart.check_first_apply(run.code, run.report))
    assert any("KAI scheduler" in p for p in quickstart.check_second_apply(run.code, run.report))
    expected = quickstart.expected_releases(lab.inventory)
    assert quickstart.check_releases(expected, listed) == [
        "release kai-scheduler in kai-scheduler is not installed"
    ]
    repaired = apply(lab.inventory)  # the chart is back: the next apply installs it
    assert repaired.code == EXIT_HELD_OUT, repaired.report.get("outcome")
    listed = json.loads(on(lab, "cp-1", "helm list -A -o json").stdout)
    assert quickstart.check_releases(expected, listed) == []
