"""A kubehaus inventory from ``vagrant ssh-config`` output (pure).

Vagrant prints one ``Host`` block per machine with its address, port, user and key. It turns host
key checking off (``StrictHostKeyChecking no``); kubehaus does not follow it there: the generated
inventory uses the cluster's known_hosts, filled on first contact with ``--trust-new-host-keys``.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from .defaults import KUBERNETES


def parse_ssh_config(text: str) -> dict[str, dict[str, str]]:
    """``Host`` blocks -> {name: {option (lower case): value}}."""
    hosts: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        if key.lower() == "host":
            current = hosts.setdefault(value.strip(), {})
        elif current is not None:
            current[key.lower()] = value.strip().strip('"')
    return hosts


def vagrant_inventory(
    ssh_config: str, cluster: str, control_planes: list[str], profile: str | None = None
) -> str:
    hosts = parse_ssh_config(ssh_config)
    if not hosts:
        raise ValueError(
            "no 'Host' blocks in the ssh-config (run `vagrant ssh-config` in the Vagrantfile's directory)"
        )
    unknown = sorted(set(control_planes) - set(hosts))
    if unknown:
        raise ValueError(
            f"control planes not among the machines: {', '.join(unknown)} (machines: {', '.join(hosts)})"
        )
    users = {options.get("user", "vagrant") for options in hosts.values()}
    inventory: dict[str, Any] = {
        "api_version": "kubehaus/v1",
        "cluster": {"name": cluster, "kubernetes_version": DoubleQuotedScalarString(KUBERNETES)},
        "ssh": {"user": users.pop() if len(users) == 1 else "vagrant", "sudo": True},
        "hosts": [],
    }
    if profile:
        inventory["profiles"] = {profile: {"description": "Vagrant VM (no GPUs)"}}
    for name, options in hosts.items():
        host: dict[str, Any] = {
            "name": name,
            "address": options.get("hostname", name),
            "roles": ["control-plane" if name in control_planes else "worker"],
        }
        ssh = {}
        if options.get("port", "22") != "22":
            ssh["port"] = int(options["port"])
        if options.get("identityfile"):
            ssh["private_key"] = options["identityfile"]
        if options.get("user") and options["user"] != inventory["ssh"]["user"]:
            ssh["user"] = options["user"]
        if ssh:
            host["ssh"] = ssh
        if profile:
            host["profile"] = profile
        inventory["hosts"].append(host)
    yaml = YAML()
    yaml.default_flow_style = False
    stream = StringIO()
    yaml.dump(inventory, stream)
    return (
        "# Written by `kubehaus vagrant-inventory` from `vagrant ssh-config`.\n"
        "# First contact: kubehaus facts THIS-FILE --trust-new-host-keys (records the VMs' host keys).\n"
        + stream.getvalue()
    )
