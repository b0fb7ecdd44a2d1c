"""A validated inventory plus what follows from it: paths resolved, per-host settings merged."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .models import Host, InventorySpec, KubeletSettings, Profile, split_endpoint

if TYPE_CHECKING:
    from .errors import Diagnostic
    from .locate import Locator

NO_PROFILE = Profile(description="no profile: no hardware expectations")


@dataclass(frozen=True)
class HostSSH:
    """The SSH settings one host is reached with, after host overrides."""

    user: str
    port: int
    private_key: Path | None
    bastion: str | None
    sudo: bool
    connect_timeout: int


@dataclass
class Inventory:
    spec: InventorySpec
    path: Path
    base_dir: Path
    locator: Locator | None = None
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.cluster.name

    @property
    def hosts(self) -> list[Host]:
        return self.spec.hosts

    @property
    def control_planes(self) -> list[Host]:
        return [h for h in self.spec.hosts if h.is_control_plane]

    def host(self, name: str) -> Host:
        for host in self.spec.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def resolve(self, value: str) -> Path:
        """Inventory paths are relative to the inventory file, as in Ansible."""
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def state_dir(self) -> Path:
        if self.spec.cluster.state_dir:
            return self.resolve(self.spec.cluster.state_dir)
        return Path.home() / ".kubehaus" / self.name

    @property
    def known_hosts(self) -> Path:
        if self.spec.ssh.known_hosts:
            return self.resolve(self.spec.ssh.known_hosts)
        return self.state_dir / "known_hosts"

    @property
    def control_plane_endpoint(self) -> tuple[str, int]:
        if self.spec.cluster.control_plane_endpoint:
            return split_endpoint(self.spec.cluster.control_plane_endpoint)
        first = self.control_planes[0]
        return first.address, 6443

    def profile_of(self, host: Host) -> Profile:
        if host.profile is None:
            return NO_PROFILE
        return self.spec.profiles[host.profile]

    def kubelet_of(self, host: Host) -> KubeletSettings:
        return self.profile_of(host).kubelet.merged(host.kubelet)

    def health_policy_of(self, host: Host) -> str:
        return self.profile_of(host).health_policy or self.spec.health.policy

    def ssh_of(self, host: Host) -> HostSSH:
        base = self.spec.ssh
        over = host.ssh
        key = (over.private_key if over and over.private_key else None) or base.private_key
        return HostSSH(
            user=(over.user if over and over.user else None) or base.user,
            port=(over.port if over and over.port else None) or base.port,
            private_key=self.resolve(key) if key else None,
            bastion=(over.bastion if over and over.bastion else None) or base.bastion,
            sudo=over.sudo if over and over.sudo is not None else base.sudo,
            connect_timeout=base.connect_timeout,
        )

    def select(self, limit: list[str] | None) -> list[Host]:
        """Hosts named in ``--limit`` (names or roles), in inventory order; all when no limit."""
        if not limit:
            return list(self.spec.hosts)
        wanted = set(limit)
        unknown = wanted - {h.name for h in self.spec.hosts} - {"control-plane", "worker"}
        if unknown:
            raise KeyError(", ".join(sorted(unknown)))
        return [h for h in self.spec.hosts if h.name in wanted or wanted & set(h.roles)]
