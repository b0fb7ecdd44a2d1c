"""How each inventory host is reached: pyinfra host names and connector data (pure).

Host keys are always checked against the cluster's own known_hosts file: ``yes`` by default,
``accept-new`` only when the operator asked for trust-on-first-use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .inventory import Host, Inventory
from .inventory.value_types import CONTAINER_NAME
from .render.encode import UnsafeValue, ssh_config


@dataclass(frozen=True)
class ConnectionPlan:
    """pyinfra's view of the hosts, plus an ssh_config file when a bastion is used."""

    names_data: list[tuple[str, dict[str, Any]]]
    ssh_config: str | None


def _split_user_host_port(target: str, default_user: str) -> tuple[str, str, int]:
    user, _, hostport = target.rpartition("@")
    host, _, port = hostport.partition(":")
    return user or default_user, host, int(port or 22)


def connection_plan(
    inventory: Inventory,
    hosts: list[Host],
    *,
    known_hosts: Path,
    trust_new_host_keys: bool,
    ssh_config_path: Path,
) -> ConnectionPlan:
    policy = "accept-new" if trust_new_host_keys else "yes"
    names_data: list[tuple[str, dict[str, Any]]] = []
    jumps: list[tuple[str, list[tuple[str, str]]]] = []
    bastions: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for host in hosts:
        data: dict[str, Any] = {"kubehaus_host": host.name}
        if host.connection == "docker":
            names_data.append(
                (f"@docker/{docker_name(host.container)}", {**data, "docker_identifier": host.container})
            )
            continue
        ssh = inventory.ssh_of(host)
        data.update(
            ssh_hostname=host.address,
            ssh_port=ssh.port,
            ssh_user=ssh.user,
            ssh_known_hosts_file=str(known_hosts),
            ssh_strict_host_key_checking=policy,
            ssh_connect_retries=1,
            ssh_paramiko_connect_kwargs={
                "timeout": ssh.connect_timeout,
                "banner_timeout": ssh.connect_timeout,
            },
        )
        if ssh.private_key:
            data["ssh_key"] = str(ssh.private_key)
        if ssh.sudo:
            data["_sudo"] = True
        if ssh.bastion:
            user, bhost, bport = _split_user_host_port(ssh.bastion, ssh.user)
            options = [
                ("User", user),
                ("Port", str(bport)),
                ("UserKnownHostsFile", str(known_hosts)),
                ("StrictHostKeyChecking", policy),
            ]
            if ssh.private_key:
                options.append(("IdentityFile", str(ssh.private_key)))
            bastions[bhost] = (bhost, options)
            jumps.append((host.address, [("ProxyJump", f"{user}@{bhost}:{bport}")]))
            data["ssh_config_file"] = str(ssh_config_path)
        names_data.append((host.name, data))
    if not jumps:
        return ConnectionPlan(names_data, None)
    return ConnectionPlan(names_data, ssh_config([*bastions.values(), *jumps]))


def docker_name(container: str | None) -> str:
    """pyinfra's docker connector puts the name into a local shell line unquoted: admit no syntax."""
    if container is None or not re.fullmatch(CONTAINER_NAME, container):
        raise UnsafeValue(f"{container!r} is not a container name ([A-Za-z0-9_.-])")
    return container
