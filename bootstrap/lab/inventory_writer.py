"""The kubehaus inventory matching a lab spec, so `kubehaus apply` works right after `lab up`."""

from __future__ import annotations

from io import StringIO
from typing import Any

from ruamel.yaml import YAML

from .hardware import MachineHardware
from .mirror import KEYRING
from .paths import LabPaths
from .profiles import build_machine
from .spec import LabSpec

KUBELET_GPU = {
    "topology_manager_policy": "single-numa-node",
    "topology_manager_scope": "pod",
    "cpu_manager_policy": "static",
    "memory_manager_policy": "Static",
}
KUBELET_PLAIN = {"cpu_manager_policy": "none", "memory_manager_policy": "None"}


def expectations(hw: MachineHardware) -> dict[str, Any]:
    """A profile's expectations, read off the healthy simulated machine."""
    profile: dict[str, Any] = {"description": f"lab machine, simulated {hw.profile}"}
    if hw.gpus:
        first = hw.gpus[0]
        profile["gpus"] = {
            "count": len(hw.gpus),
            "model": first.name.removeprefix("NVIDIA ").strip(),
            "nvlinks_per_gpu": len(first.nvlinks),
        }
        switches = {
            link.remote_bdf for gpu in hw.gpus for link in gpu.nvlinks if link.remote_type == "switch"
        }
        profile["nvswitches"] = len(switches)
        if first.pci.link:
            profile["pcie"] = {
                "min_generation": first.pci.link.max_gen,
                "min_width": first.pci.link.max_width,
            }
        profile["rdma_nic_per_gpu"] = hw.profile in ("dgx-h100", "dgx-a100")
        profile["fabric_manager"] = hw.fabric_manager is not None
        if any(g.fabric.cluster_uuid.strip("0-") for g in hw.gpus):
            profile["multi_node_nvlink"] = True  # stated, never implied by the model name
    profile["numa_nodes"] = len(hw.numa)
    profile["kubelet"] = dict(KUBELET_GPU if hw.gpus else KUBELET_PLAIN)
    return profile


def render_lab_inventory(spec: LabSpec, paths: LabPaths, mirror_port: int = 8080) -> str:
    used = sorted({m.profile for m in spec.machines})
    inventory: dict[str, Any] = {
        "api_version": "kubehaus/v1",
        "cluster": {
            "name": spec.name,
            # no version pins: a lab cluster is built on kubehaus's defaults, which its mirror serves
            "state_dir": str(paths.cluster_state),
        },
        "ssh": {"user": "root", "private_key": str(paths.private_key), "known_hosts": str(paths.known_hosts)},
        "artifacts": {
            "source": "mirror",
            "mirror_url": f"http://{spec.bridge_address}:{mirror_port}",
            # the key is read from the lab's own files, not fetched over the HTTP it verifies
            "mirror_key": str(paths.mirror / KEYRING),
        },
        "profiles": {name: expectations(build_machine("profile", name)) for name in used},
        "addons": {
            "kai_scheduler": {
                "queues": [
                    {"name": "research", "resources": {"gpu": {"quota": 8, "limit": -1}}},
                    {"name": "team-a", "parent": "research", "resources": {"gpu": {"quota": 8, "limit": -1}}},
                ],
                "topology": {"name": spec.name, "levels": ["block", "rack"]},
            }
        },
        "hosts": [],
    }
    for machine in spec.machines:
        host: dict[str, Any] = {
            "name": machine.name,
            "address": spec.address_of(machine),
            "roles": [machine.role],
            "profile": machine.profile,
        }
        if machine.topology:
            host["topology"] = dict(machine.topology)
        inventory["hosts"].append(host)
    if not any(m.topology for m in spec.machines if m.role == "worker"):
        del inventory["addons"]["kai_scheduler"]["topology"]
    stream = StringIO()
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.dump(inventory, stream)
    header = (
        f"# Written by `kubehaus lab up` for the lab {spec.name!r}; regenerated on every lab up.\n"
        "# Hosts are simulated machines (systemd-nspawn) on the lab bridge; see docs/lab.md.\n"
    )
    return header + stream.getvalue()
