"""What to do with an NVIDIA driver a node already has, whatever installed it (pure).

DGX OS images come with NVIDIA's driver and fabric manager from NVIDIA's repository; other fleets
have them from a runfile or an earlier tool. kubehaus never reinstalls or downgrades one silently:

- at the pinned version it is kept, and held (under the name it was installed with, where that is
  another of the system's driver packages: no second driver is installed beside it);
- at another version, with the profile's ``preinstalled_driver: upgrade`` (the default), an older
  one is upgraded to the pin, as a changed pin would be (the report says so), and the node rebooted
  to unload the old kernel module (the nvidia phase; a member's driver changes only in the upgrade
  phase, which drains it first), and a newer one is refused for that node: kubehaus does not
  downgrade drivers;
- with ``preinstalled_driver: adopt`` it is kept at its version (held where a package carries it)
  and the report names the drift from the pin.

A driver that no package kubehaus knows carries (a runfile install, another branch's package) is
seen only through NVML's version. There is nothing to hold: by default the pinned package is
installed over it (the report says so; a newer one is refused, as above); ``adopt`` leaves it as it
is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Policy = Literal["upgrade", "adopt"]
REBOOT_NOTE = "; the node is rebooted to load it (the old kernel module stays loaded until then)"
Action = Literal["install", "keep", "upgrade", "adopt", "refuse"]


@dataclass(frozen=True)
class DriverDecision:
    action: Action
    pins: dict[str, str]  # the NVIDIA pins the node's plan uses (the driver's, fabric manager, toolkit)
    message: str | None = None  # what the report says (a note), or why the node is refused
    # the driver now loaded is another version than the one installed: its kernel module stays
    # loaded until a reboot, and NVML refuses the mismatch, so the nvidia phase reboots the node
    reboot: bool = False

    @property
    def refused(self) -> bool:
        return self.action == "refuse"


def upstream(version: str) -> str:
    """``580.95.05`` of ``580.95.05-1`` (an epoch dropped)."""
    return version.split(":", 1)[-1].split("-", 1)[0]


def version_key(version: str) -> tuple[int, ...]:
    """NVIDIA driver versions compare by their numeric fields (580.105.08 > 580.95.05)."""
    return tuple(int(part) if part.isdigit() else -1 for part in upstream(version).split("."))


def decide_driver(
    host: str,
    planned: Mapping[str, str],
    driver_package: str,
    known_drivers: tuple[str, ...],
    installed: Mapping[str, tuple[str, bool]] | None,
    loaded: str | None,
    policy: Policy,
) -> DriverDecision:
    """The NVIDIA pins for one GPU node.

    ``planned``: the inventory's pins (driver, fabric manager, toolkit); ``driver_package``: the
    driver package among them; ``known_drivers``: every driver package name of the node's system
    for this branch (the other module flavour); ``installed``: what the state read saw of the
    packages (name -> (version, held)), None where nothing was read (a first plan without it:
    then the inventory's pins, as before); ``loaded``: the driver NVML reports, if any.
    """
    pins = dict(planned)
    pinned = pins[driver_package]
    if installed is None:
        return DriverDecision("install", pins)
    found = next((name for name in (driver_package, *known_drivers) if name in installed), None)
    where = f"{host}: NVIDIA driver"
    if found is None and loaded is None:
        return DriverDecision("install", pins)
    if found is None:  # NVML answers, no package kubehaus knows carries it: nothing to hold
        assert loaded is not None
        if policy == "adopt":
            return DriverDecision(
                "adopt",
                {n: v for n, v in pins.items() if n == "nvidia-container-toolkit"},
                f"{where} {loaded} (not from a package kubehaus knows) kept as it is by policy adopt"
                + ("" if upstream(loaded) == upstream(pinned) else f" (drift: the inventory pins {pinned})"),
            )
        if version_key(loaded) > version_key(pinned):
            return DriverDecision(
                "refuse",
                pins,
                f"{where} {loaded} (not from a package kubehaus knows) is newer than the pinned {pinned}: "
                f"kubehaus never downgrades a driver. Pin versions.nvidia_driver: {loaded}, or set the "
                "profile's preinstalled_driver: adopt",
            )
        other = upstream(loaded) != upstream(pinned)
        return DriverDecision(
            "install",
            pins,
            f"{where} {loaded} found without a package kubehaus knows (a runfile install?): the pinned "
            f"{driver_package} {pinned} is installed over it, so that it can be held and upgraded"
            + (REBOOT_NOTE if other else ""),
            reboot=other,
        )
    version = upstream(installed[found][0])
    if found != driver_package:  # installed under the other flavour's name: that one is kept
        pins = {(found if n == driver_package else n): v for n, v in pins.items()}
    if version == upstream(pinned):
        note = (
            None if found == driver_package else f"{where} {found} {version} kept (installed before kubehaus)"
        )
        return DriverDecision("keep", pins, note)
    if policy == "adopt":
        adopted = {n: (version if n == found else v) for n, v in pins.items()}
        adopted = {n: v for n, v in adopted.items() if not n.startswith("nvidia-fabricmanager")}
        return DriverDecision(
            "adopt",
            adopted,
            f"{where} {found} {version} kept by policy adopt (drift: the inventory pins {pinned}; "
            "fabric manager left as installed)",
        )
    if version_key(version) > version_key(pinned):
        return DriverDecision(
            "refuse",
            pins,
            f"{where} {found} {version} is newer than the pinned {pinned}: kubehaus never downgrades a "
            f"driver. Pin versions.nvidia_driver: {version}, or set the profile's preinstalled_driver: adopt",
        )
    return DriverDecision(
        "upgrade",
        pins,
        f"{where} {found} {version} upgraded to the pinned {pinned}{REBOOT_NOTE}",
        reboot=True,
    )
