"""How each inventory host is reached: pyinfra host names and connector data (pure).

Host keys are always checked against the cluster's own known_hosts file: ``yes`` by default,
``accept-new`` only when the operator asked for trust-on-first-use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .inventory import Host, Inventory


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
    config_blocks: list[str] = []
    bastions: dict[str, tuple[str, str, int, Path | None]] = {}
    for host in hosts:
        data: dict[str, Any] = {"kubehaus_host": host.name}
        if host.connection == "docker":
            names_data.append((f"@docker/{host.container}", {**data, "docker_identifier": host.container}))
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
            bastions[bhost] = (user, bhost, bport, ssh.private_key)
            config_blocks.append(f"Host {host.address}\n  ProxyJump {user}@{bhost}:{bport}\n")
            data["ssh_config_file"] = str(ssh_config_path)
        names_data.append((host.name, data))
    if not config_blocks:
        return ConnectionPlan(names_data, None)
    for user, bhost, bport, key in bastions.values():
        lines = [
            f"Host {bhost}",
            f"  User {user}",
            f"  Port {bport}",
            f"  UserKnownHostsFile {known_hosts}",
            f"  StrictHostKeyChecking {policy}",
        ]
        if key:
            lines.append(f"  IdentityFile {key}")
        config_blocks.insert(0, "\n".join(lines) + "\n")
    return ConnectionPlan(names_data, "\n".join(config_blocks))
