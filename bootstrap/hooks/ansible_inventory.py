"""The Ansible inventory a hook playbook runs against, generated from kubehaus's (pure).

Same hosts, addresses and SSH settings (host keys checked against the cluster's known_hosts,
bastions as ProxyJump), groups per role and per profile, and what kubehaus knows as host vars:
roles, labels, topology levels, the health verdict and a summary of the discovered hardware.
"""

from __future__ import annotations

import shlex
from typing import Any

from ..inventory.inventory import Inventory
from ..inventory.models import Host
from ..render.encode import ssh_config_value
from ..topology.model import Topology


def group_name(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


def hardware_vars(topology: Topology | None) -> dict[str, Any]:
    if topology is None:
        return {}
    return {
        "gpus": len(topology.gpus),
        "gpu_product": topology.gpus[0].name if topology.gpus else None,
        "numa_nodes": len(topology.numa),
        "rdma_nics": [nic.name for nic in topology.nics],
        "driver_version": topology.driver_version,
    }


def ssh_common_args(known_hosts: str, connect_timeout: int, bastion: str | None) -> list[str]:
    """ssh's arguments, one option per argument. Ansible splits the joined line with shlex, so
    ``shlex.join`` gives back exactly this list; ssh then reads each ``-o`` value as an ssh_config
    line, so values are quoted for that too (a space in a path would name two files otherwise)."""
    options = [
        "-o",
        f"UserKnownHostsFile={ssh_config_value(known_hosts)}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"ConnectTimeout={connect_timeout}",
    ]
    if bastion:
        options += ["-o", f"ProxyJump={ssh_config_value(bastion)}"]
    return options


def host_vars(
    inventory: Inventory, host: Host, topology: Topology | None, verdict: str | None
) -> dict[str, Any]:
    ssh = inventory.ssh_of(host)
    options = ssh_common_args(str(inventory.known_hosts), ssh.connect_timeout, ssh.bastion)
    variables: dict[str, Any] = {
        "ansible_host": host.address,
        "ansible_port": ssh.port,
        "ansible_user": ssh.user,
        "ansible_ssh_common_args": shlex.join(options),
        "ansible_python_interpreter": "/usr/bin/python3",
        "kubehaus_roles": list(host.roles),
        "kubehaus_profile": host.profile,
        "kubehaus_labels": dict(host.labels),
        "kubehaus_topology": dict(host.topology),
        "kubehaus_hardware": hardware_vars(topology),
        "kubehaus_health": verdict,
    }
    if ssh.private_key:
        variables["ansible_ssh_private_key_file"] = str(ssh.private_key)
    if ssh.sudo:
        variables["ansible_become"] = True
    return variables


def ansible_inventory(
    inventory: Inventory,
    hosts: list[Host],
    topologies: dict[str, Topology],
    verdicts: dict[str, str],
) -> dict[str, Any]:
    children: dict[str, dict[str, Any]] = {}
    for host in hosts:
        for group in [
            *(group_name(r) for r in host.roles),
            *([f"profile_{group_name(host.profile)}"] if host.profile else []),
        ]:
            children.setdefault(group, {"hosts": {}})["hosts"][host.name] = None
    return {
        "all": {
            "hosts": {
                h.name: host_vars(inventory, h, topologies.get(h.name), verdicts.get(h.name)) for h in hosts
            },
            "children": children,
        }
    }
