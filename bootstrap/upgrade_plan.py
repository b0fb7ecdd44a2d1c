"""Which cluster members a version change upgrades, in which order, and what the skew rules refuse (pure).

Kubernetes' version skew policy: the control plane moves one minor at a time, a kubelet is never
newer than the API server and at most three minors older. So the first control plane goes first
(``kubeadm upgrade apply``), then the other control planes (``kubeadm upgrade node``), then the
workers. A changed NVIDIA driver means a reboot (the loaded kernel module changes only then), and
so does a node whose driver package was upgraded by an apply that never got to reboot it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .inventory.versions import Version

Role = Literal["first-control-plane", "control-plane", "worker"]
MAX_KUBELET_LAG = 3  # minors a kubelet may trail the API server (Kubernetes >= 1.28)


class SkewError(ValueError):
    """A version change the skew policy does not allow; nothing was changed."""


@dataclass(frozen=True)
class MemberState:
    """What the cluster and the node say about one member before the upgrade."""

    name: str
    role: Role
    kubelet: str  # as registered, without the "v"
    driver: str | None = None  # loaded NVIDIA driver (GPU nodes); None: no GPU or not readable
    reboot_pending: bool = False  # driver package newer than the loaded module (an interrupted upgrade)
    interrupted: bool = False  # carries kubehaus's upgrade annotation: a previous apply stopped midway


@dataclass(frozen=True)
class NodeUpgrade:
    name: str
    role: Role
    kubernetes: tuple[str, str] | None  # (from, to), None: unchanged
    driver: tuple[str, str] | None  # (from, to); from is "?" when the loaded module is unknown
    reboot: bool

    def describe(self) -> str:
        parts = []
        if self.kubernetes:
            parts.append(f"Kubernetes v{self.kubernetes[0]} -> v{self.kubernetes[1]}")
        if self.driver:
            parts.append(f"driver {self.driver[0]} -> {self.driver[1]}")
        if self.reboot and not self.driver:
            parts.append("reboot to load the installed driver")
        return ", ".join(parts) or "finish an interrupted upgrade"


@dataclass(frozen=True)
class UpgradePlan:
    api_server: str
    target: str
    nodes: list[NodeUpgrade]

    @property
    def control_plane_changes(self) -> bool:
        return Version(self.api_server) != Version(self.target)


@dataclass(frozen=True)
class UpgradeDecision:
    """What the upgrade-plan phase decided before any node phase: the plan (each member in it keeps
    its versions for the upgrade phase alone), and the members the upgrade phase rolls, in order
    (those failing the health gate are left out, and keep their versions)."""

    plan: UpgradePlan
    upgrades: list[NodeUpgrade]


def check_skew(api_server: str, target: str, kubelets: dict[str, str]) -> None:
    """Refuse what kubeadm and the skew policy refuse, before anything is touched."""
    current, wanted = Version(api_server).minor, Version(target).minor
    if Version(target) < Version(api_server):
        raise SkewError(
            f"the inventory's Kubernetes {target} is older than the cluster's v{api_server}: downgrades "
            "are not supported. Set cluster.kubernetes_version to v" + api_server + " or newer"
        )
    if wanted[0] != current[0] or wanted[1] > current[1] + 1:
        step = f"{current[0]}.{current[1] + 1}"
        raise SkewError(
            f"the cluster runs v{api_server}; Kubernetes {target} skips a minor version. Upgrade one minor "
            f"at a time: set cluster.kubernetes_version to the latest {step}.x, apply, then {target}"
        )
    for name, kubelet in sorted(kubelets.items()):
        if not kubelet:
            continue
        if Version(kubelet) > Version(target):
            raise SkewError(
                f"node {name} runs kubelet v{kubelet}, newer than the inventory's {target}: downgrades are "
                "not supported"
            )
        if Version(kubelet).minor[1] < wanted[1] - MAX_KUBELET_LAG:
            raise SkewError(
                f"node {name} runs kubelet v{kubelet}, more than {MAX_KUBELET_LAG} minors behind {target}: "
                "upgrade it (or reset and rejoin it) before moving the control plane on"
            )


def plan_upgrades(
    api_server: str,
    target: str,
    driver: str,
    members: list[MemberState],
    cluster_kubelets: dict[str, str] | None = None,
) -> UpgradePlan:
    """The members that change, first control plane first, then control planes, then workers.

    ``cluster_kubelets``: every node's kubelet, members of this run or not (the skew rules see all).
    """
    check_skew(api_server, target, {**(cluster_kubelets or {}), **{m.name: m.kubelet for m in members}})
    order = {"first-control-plane": 0, "control-plane": 1, "worker": 2}
    nodes = []
    for member in sorted(members, key=lambda m: order[m.role]):  # stable: inventory order within a role
        kubernetes = (member.kubelet, target) if Version(member.kubelet or "0") != Version(target) else None
        if member.role == "first-control-plane" and Version(api_server) != Version(target):
            kubernetes = (api_server, target)
        driver_change = None
        if member.driver is not None and Version(member.driver) != Version(driver):
            driver_change = (member.driver, driver)
        elif member.reboot_pending:
            driver_change = ("?", driver)
        reboot = driver_change is not None
        if kubernetes or driver_change or member.interrupted:
            nodes.append(NodeUpgrade(member.name, member.role, kubernetes, driver_change, reboot))
    return UpgradePlan(api_server=api_server, target=target, nodes=nodes)
