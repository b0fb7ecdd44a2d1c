"""Rules that relate several inventory values; each problem is reported where it is."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from .errors import Diagnostic, Severity
from .inventory import Inventory
from .locate import did_you_mean
from .models import KaiTopology
from .value_types import shown

WARN = Severity.WARNING


def check_semantics(inventory: Inventory) -> list[Diagnostic]:
    locator = inventory.locator
    assert locator is not None, "semantic checks need the source positions"
    found: list[Diagnostic] = []
    for rule in (
        _hosts,
        _control_planes,
        _profiles,
        _networks,
        _versions,
        _queues,
        _topology,
        _hooks,
        _artifacts,
    ):
        for loc, message, hint, severity, key in rule(inventory):
            found.append(locator.diagnostic(loc, message, hint, severity, key=key))
    return found


Finding = tuple[tuple, str, str, Severity, bool]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_file(path: Path) -> bool:
    """``Path.is_file`` that answers False for names the system refuses (ENAMETOOLONG...)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _err(loc: tuple, message: str, hint: str = "", *, key: bool = False) -> Finding:
    return (loc, message, hint, Severity.ERROR, key)


def _warn(loc: tuple, message: str, hint: str = "", *, key: bool = False) -> Finding:
    return (loc, message, hint, WARN, key)


def _hosts(inv: Inventory) -> Iterator[Finding]:
    locator = inv.locator
    assert locator is not None
    if not inv.hosts:
        yield _err(
            ("hosts",),
            "the inventory has no hosts",
            "list hosts under 'hosts:' or import them with 'host_sources:'",
            key=True,
        )
    names: dict[str, int] = {}
    targets: dict[tuple[str, int], int] = {}
    for index, host in enumerate(inv.hosts):
        if host.name in names:
            first = locator.line_of(("hosts", names[host.name]))
            yield _err(
                ("hosts", index, "name"),
                f"host name {host.name!r} is already used ({first})",
                "node names must be unique in a cluster",
            )
        else:
            names[host.name] = index
        if host.connection == "ssh":
            target = (host.address, inv.ssh_of(host).port)
            if target in targets:
                first = locator.line_of(("hosts", targets[target]))
                yield _err(
                    ("hosts", index, "address"),
                    f"address {host.address} port {target[1]} is already used by "
                    f"{inv.hosts[targets[target]].name!r} ({first})",
                    "each host needs its own address (or SSH port)",
                )
            else:
                targets[target] = index


def _control_planes(inv: Inventory) -> Iterator[Finding]:
    count = len(inv.control_planes)
    if inv.hosts and count == 0:
        yield _err(
            ("hosts",),
            "no host has the role 'control-plane'",
            "give at least one host 'roles: [control-plane]'",
            key=True,
        )
    elif count > 1 and count % 2 == 0:
        yield _warn(
            ("hosts",),
            f"{count} control planes: an even count adds no etcd fault tolerance",
            "use 1, 3 or 5 control planes",
            key=True,
        )
    for index, host in enumerate(inv.hosts):
        if host.is_control_plane and not _is_ip(host.address):
            yield _err(
                ("hosts", index, "address"),
                f"control plane {host.name} has the DNS name {host.address!r} as its address; kubeadm "
                "advertises the API server on it and needs an IP address",
                "write the control plane's IPv4 address (a DNS name may go in control_plane_endpoint)",
            )
    if count > 1 and not inv.spec.cluster.control_plane_endpoint:
        yield _warn(
            ("cluster",),
            "several control planes but no control_plane_endpoint: the API "
            "server address would be the first control plane alone",
            "set control_plane_endpoint to a VIP or load balancer",
            key=True,
        )


def _profiles(inv: Inventory) -> Iterator[Finding]:
    names = list(inv.spec.profiles)

    def missing(loc: tuple, ref: str) -> Finding:
        return _err(
            loc,
            f"profile {ref!r} is not defined",
            did_you_mean(ref, names) or f"defined profiles: {', '.join(names) or 'none'}",
        )

    for index, host in enumerate(inv.hosts):
        if host.profile is not None and host.profile not in inv.spec.profiles:
            yield missing(("hosts", index, "profile"), host.profile)
    for index, hook in enumerate(inv.spec.hooks):
        for pos, ref in enumerate(hook.profiles):
            if ref not in inv.spec.profiles:
                yield missing(("hooks", index, "profiles", pos), ref)
    for index, source in enumerate(inv.spec.host_sources):
        if source.profile and source.profile not in inv.spec.profiles:
            yield missing(("host_sources", index, "profile"), source.profile)
        for group, ref in source.group_profiles.items():
            if ref not in inv.spec.profiles:
                yield missing(("host_sources", index, "group_profiles", group), ref)
    for name, profile in inv.spec.profiles.items():
        if profile.gpus.count == 0 and profile.rdma_nic_per_gpu:
            yield _err(
                ("profiles", name, "rdma_nic_per_gpu"),
                "rdma_nic_per_gpu is set but the profile expects no GPUs",
                "set gpus.count, or drop rdma_nic_per_gpu",
            )
        if profile.gpus.count == 0 and (profile.gpus.nvlinks_per_gpu or profile.nvswitches):
            yield _err(
                ("profiles", name, "gpus"), "NVLink or NVSwitch expectations without GPUs", "set gpus.count"
            )


def _networks(inv: Inventory) -> Iterator[Finding]:
    cluster = inv.spec.cluster
    pods = ipaddress.ip_network(cluster.pod_cidr)
    services = ipaddress.ip_network(cluster.service_cidr)
    if pods.version == services.version and pods.overlaps(services):
        yield _err(
            ("cluster", "service_cidr"),
            f"service_cidr {services} overlaps pod_cidr {pods}",
            "pick disjoint ranges, e.g. pods 10.244.0.0/16 and services 10.96.0.0/12",
        )
    for index, host in enumerate(inv.hosts):
        try:
            address = ipaddress.ip_address(host.address)
        except ValueError:
            continue
        for field_name, network in (("pod_cidr", pods), ("service_cidr", services)):
            if address.version == network.version and address in network:
                yield _err(
                    ("hosts", index, "address"),
                    f"address {address} lies inside {field_name} {network}",
                    "node addresses must be outside the pod and service networks",
                )


def _versions(inv: Inventory) -> Iterator[Finding]:
    """The pins against the compatibility matrix (bootstrap/compat): the combination, not the date."""
    from ..compat.check import check_pins  # compat builds on the models; imported late, no cycle

    for problem in check_pins(inv.spec):
        yield (problem.loc, problem.message, problem.hint, problem.severity, problem.key)


def end_of_life_findings(inv: Inventory, today: date) -> list[Diagnostic]:
    """The end-of-life rule for a new cluster, as of ``today``, located like every other rule."""
    from ..compat.check import check_end_of_life

    locator = inv.locator
    assert locator is not None, "located checks need the source positions"
    return [
        locator.diagnostic(p.loc, p.message, p.hint, p.severity, key=p.key)
        for p in check_end_of_life(inv.spec, today)
    ]


def _queues(inv: Inventory) -> Iterator[Finding]:
    queues = inv.spec.addons.kai_scheduler.queues
    index_of: dict[str, int] = {}
    for index, queue in enumerate(queues):
        if queue.name in index_of:
            yield _err(
                ("addons", "kai_scheduler", "queues", index, "name"),
                f"queue {queue.name!r} is defined twice",
                "queue names are cluster-wide",
            )
        index_of.setdefault(queue.name, index)
    for index, queue in enumerate(queues):
        if queue.parent is None:
            continue
        if queue.parent not in index_of:
            yield _err(
                ("addons", "kai_scheduler", "queues", index, "parent"),
                f"parent queue {queue.parent!r} is not defined",
                did_you_mean(queue.parent, list(index_of)) or "define it, or remove 'parent'",
            )
            continue
        seen, current = {queue.name}, queue.parent
        while current is not None and current in index_of:
            if current in seen:
                yield _err(
                    ("addons", "kai_scheduler", "queues", index, "parent"),
                    f"queue {queue.name!r} is its own ancestor (a cycle)",
                    "a queue hierarchy is a tree: one queue must have no parent",
                )
                break
            seen.add(current)
            current = queues[index_of[current]].parent


def _topology(inv: Inventory) -> Iterator[Finding]:
    topology = inv.spec.addons.kai_scheduler.topology
    if topology is None:
        return
    if len(set(topology.levels)) != len(topology.levels):
        yield _err(
            ("addons", "kai_scheduler", "topology", "levels"),
            "topology levels repeat",
            "list each level once, outermost first",
        )
    yield from _topology_aliases(topology)
    workers = [h for h in inv.hosts if "worker" in h.roles]
    for pos, level in enumerate(topology.levels):
        lacking = [h.name for h in workers if level not in h.topology]
        if lacking:
            shown = ", ".join(lacking[:5]) + (" ..." if len(lacking) > 5 else "")
            yield _warn(
                ("addons", "kai_scheduler", "topology", "levels", pos),
                f"{len(lacking)} worker(s) have no topology.{level}: {shown}",
                f"add '{level}: ...' under each worker's topology",
            )


def _hooks(inv: Inventory) -> Iterator[Finding]:
    for index, hook in enumerate(inv.spec.hooks):
        path = inv.resolve(hook.playbook)
        if not is_file(path):
            yield _err(
                ("hooks", index, "playbook"),
                f"playbook {shown(hook.playbook)} not found or not readable "
                f"(looked at {shown(str(path), 120)})",
                "paths are relative to the inventory file",
            )


def _artifacts(inv: Inventory) -> Iterator[Finding]:
    artifacts = inv.spec.artifacts
    if artifacts.source == "online" and artifacts.mirror_url:
        yield _warn(
            ("artifacts", "mirror_url"),
            "mirror_url is ignored while source is 'online'",
            "set source: mirror to use it",
        )
    key = inv.spec.ssh.private_key
    if key and not is_file(inv.resolve(key)):
        yield _warn(
            ("ssh", "private_key"),
            f"private key {shown(key)} not found or not readable "
            f"(looked at {shown(str(inv.resolve(key)), 120)})",
            "connecting will fail until it exists",
        )


def _topology_aliases(topology: KaiTopology) -> Iterator[Finding]:
    """KAI's webhook refuses an alias that repeats or names a node label: refuse it here first."""
    from ..render.addons import topology_node_labels

    labels = topology_node_labels(topology, nvl72_cliques=True)
    seen: dict[str, str] = {}
    for key, alias in topology.aliases.items():
        loc = ("addons", "kai_scheduler", "topology", "aliases", key)
        if key not in labels:
            yield _err(
                loc,
                f"alias for {key!r}, which is not a topology level",
                did_you_mean(key, list(labels)) or f"levels here: {', '.join(labels)}",
                key=True,
            )
        if alias in labels.values():
            yield _err(loc, f"alias {alias!r} is a level's node label", "pick a name that is no label")
        elif alias in seen:
            yield _err(loc, f"alias {alias!r} is already the alias of {seen[alias]!r}", "aliases are unique")
        seen.setdefault(alias, key)
