"""kubelet stand-in: refuses the configurations the real kubelet refuses, then registers the node.

Run by systemd (kubelet.service with kubeadm's drop-in), it crash-loops like the real one until
kubeadm has written its config; a bad configuration makes it exit 1 with the real error text, so
``kubeadm init/join`` fails the same way it would on a real node. Once running it registers the
node with the stand-in API server and keeps it registered.
"""

from __future__ import annotations

import json
import os
import sys
import time

from . import kubelet_config
from .common import Client, die, path, request, upstream_version, version_line
from .node import CRI_SOCKET, cri_problem, cri_runtime_version, sysfs_root

VALUE_FLAGS = {
    "config", "config-dir", "kubeconfig", "bootstrap-kubeconfig", "node-labels", "container-runtime-endpoint",
    "hostname-override", "register-with-taints", "node-ip", "pod-infra-container-image", "v", "cert-dir",
    "root-dir", "runtime-cgroups", "cloud-provider", "provider-id",
}  # fmt: skip


def parse_flags(argv: list[str]) -> dict[str, str]:
    flags: dict[str, str] = {}
    index = 0
    while index < len(argv):
        arg = argv[index]
        if not arg.startswith("--"):
            die(f'E0000 run.go] "command failed" err="unknown command {arg!r} for kubelet"')
        name, equals, value = arg[2:].partition("=")
        if name not in VALUE_FLAGS:
            die(f'E0000 run.go] "command failed" err="unknown flag: --{name}"')
        if not equals:
            index += 1
            value = argv[index] if index < len(argv) else ""
        flags[name] = value
        index += 1
    return flags


def hardware_problems(config: dict) -> list[str]:
    """Reservations must name NUMA nodes and CPUs this machine has (the simulated sysfs on lab machines)."""
    root = sysfs_root()
    problems = []
    for entry in config.get("reservedMemory") or []:
        node = entry.get("numaNode")
        if not os.path.isdir(os.path.join(root, f"sys/devices/system/node/node{node}")):
            problems.append(
                f"failed to initialize memory manager: the specified NUMA node {node} does not exist "
                "(reservedMemory)"
            )
    cpus = config.get("reservedSystemCPUs")
    online_file = os.path.join(root, "sys/devices/system/cpu/online")
    if cpus and os.path.exists(online_file):
        with open(online_file) as handle:
            online = expand(handle.read().strip())
        missing = sorted(expand(cpus) - online)
        if missing:
            problems.append(
                f"invalid configuration: reservedSystemCPUs {cpus!r} names CPUs this machine lacks: {missing[:4]}"
            )
    return problems


def expand(cpulist: str) -> set[int]:
    cpus: set[int] = set()
    for part in str(cpulist).split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def parse_labels(text: str) -> dict[str, str]:
    labels = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        labels[key] = value
    return labels


def parse_taints(items: list) -> list[dict[str, str]]:
    taints = []
    for item in items:
        if isinstance(item, dict):
            taints.append({k: v for k, v in item.items() if v})
            continue
        key_value, _, effect = item.rpartition(":")
        key, _, value = key_value.partition("=")
        taints.append({k: v for k, v in {"key": key, "value": value, "effect": effect}.items() if v})
    return taints


NVML_PROFILE = "/etc/kubehaus-lab/nvml-profile"  # the simulated GPUs, as the lab's libnvidia-ml reads them
MACHINE_FILE = "/etc/kubehaus-lab/machine.json"
HEARTBEAT_SECONDS = 5


def node_devices() -> dict[str, list[dict[str, str]]]:
    """What a kubelet plugin on this node would find: GPUs (NVML) and RDMA NICs with their netdevs
    (sysfs), sent with each heartbeat for the API store's stand-in plugins (daemons.py)."""
    gpus: dict[str, dict[str, str]] = {}
    try:
        with open(path(NVML_PROFILE)) as handle:
            for line in handle:
                parts = line.split(" ", 3)
                if len(parts) >= 4 and parts[0] == "gpu" and parts[2] in ("uuid", "name"):
                    gpus.setdefault(parts[1], {"index": parts[1]})[parts[2]] = parts[3].strip()
    except OSError:
        pass  # no driver yet: the GPU plugin finds nothing
    rdma = []
    root = os.path.join(sysfs_root(), "sys/class/infiniband")
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        net = os.path.join(root, name, "device/net")
        for netdev in sorted(os.listdir(net)) if os.path.isdir(net) else []:
            rdma.append({"name": name, "netdev": netdev})
    return {"gpus": [g for g in gpus.values() if "uuid" in g], "rdma": rdma}


def withheld_drivers() -> list[str]:
    """The drivers whose plugin must not register here (the lab machine's plugins_unregistered)."""
    try:
        with open(path(MACHINE_FILE)) as handle:
            return list(json.load(handle).get("plugins_unregistered") or [])
    except (OSError, ValueError):
        return []


def boot_id() -> str:
    """The kernel's boot ID (nodeInfo.bootID): how the cluster sees that a node rebooted."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["version"]):
        print(version_line("Kubernetes"))
        return
    flags = parse_flags(argv)
    if "config" not in flags:
        die('E0000 run.go] "command failed" err="the kubelet stand-in needs --config (kubeadm writes it)"')
    try:
        config = kubelet_config.load(flags["config"], flags.get("config-dir"))
    except kubelet_config.ConfigError as exc:
        die(f'E0000 run.go] "command failed" err="{exc}"')
    problems = kubelet_config.validate(config) + hardware_problems(config)
    if problems:
        die("\n".join(f'E0000 run.go] "command failed" err="{p}"' for p in problems))
    runtime_problem = cri_problem(CRI_SOCKET)
    if runtime_problem:
        die(f'E0000 run.go] "command failed" err="failed to run Kubelet: {runtime_problem}"')
    if path("/") == "/":  # the real containerd's own answer to the CRI Version call, as the kubelet logs it
        runtime = cri_runtime_version(CRI_SOCKET)
        print(
            f'I0000 kuberuntime_manager.go] "Container runtime initialized" '
            f'containerRuntime="{runtime.get("runtimeName")}" version="{runtime.get("runtimeVersion")}" '
            f'apiVersion="{runtime.get("runtimeApiVersion")}"',
            flush=True,
        )
    kubeconfig = flags.get("kubeconfig")
    print(f"I0000 server.go] kubelet v{upstream_version()} (stand-in) started", flush=True)
    if not kubeconfig or not os.path.exists(kubeconfig):
        print("I0000 kubelet.go] no kubeconfig: standalone mode, not registering", flush=True)
        while True:
            time.sleep(3600)
    client = Client(kubeconfig)
    body = {
        "labels": parse_labels(flags.get("node-labels", "")),
        "taints": parse_taints(
            list(config.get("registerWithTaints") or [])
            + [t for t in flags.get("register-with-taints", "").split(",") if t]
        ),
        "kubeletVersion": f"v{upstream_version()}",
        "bootID": boot_id(),
    }
    marker = path("/var/lib/kubelet/registered")
    while True:
        body.update(devices=node_devices(), withheld=withheld_drivers())
        status, answer = request("POST", client.server + "/kubehaus/nodes/register", body, client.token)
        if status == 200:
            if not os.path.exists(marker):
                print(f"I0000 kubelet_node_status.go] {answer.get('result')}", flush=True)
                with open(marker, "w") as handle:
                    handle.write("registered\n")
        else:
            print(f"E0000 kubelet_node_status.go] unable to register node: {answer}", flush=True)
        time.sleep(HEARTBEAT_SECONDS)


if __name__ == "__main__":
    main()
