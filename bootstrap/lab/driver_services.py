"""The driver-stack services a pre-provisioned GPU server already runs, as lab stand-ins (pure).

A DGX arrives with the NVIDIA driver, the persistence daemon and (on NVSwitch systems) the fabric
manager installed and running; a GB200 tray with IMEX. Lab machines get systemd units whose
daemons are stand-ins that idle and answer ``--version`` with the machine's version, so discovery
sees service state and version exactly where it would look on a real node.
"""

from __future__ import annotations

from .hardware import MachineHardware, Service

# unit, binary, what `binary --version` prints (formats of the real tools)
SERVICES = {
    "fabric_manager": ("nvidia-fabricmanager", "nv-fabricmanager", "Fabric Manager version is : {version}"),
    "persistenced": ("nvidia-persistenced", "nvidia-persistenced", "nvidia-persistenced:  version {version}"),
    "imex": ("nvidia-imex", "nvidia-imex", "IMEX version is: {version}"),
}


def _daemon(banner: str) -> str:
    return f"""#!/bin/sh
# kubehaus lab stand-in daemon: idles like the real service; not NVIDIA software.
case "$1" in --version|-v) echo "{banner}"; exit 0 ;; esac
exec sleep infinity
"""


def _unit(description: str, binary: str) -> str:
    return (
        f"[Unit]\nDescription={description} (kubehaus lab stand-in)\n\n"
        f"[Service]\nExecStart=/usr/bin/{binary}\nRestart=on-failure\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def driver_service_files(hw: MachineHardware) -> dict[str, tuple[str, int]]:
    """Files to place in the machine's root: path -> (content, mode); symlinks as 'LINK:target'."""
    files: dict[str, tuple[str, int]] = {}
    if not hw.driver_preinstalled:
        return files  # they come with the driver packages (the mirror's stand-ins)
    for attribute, (unit, binary, banner) in SERVICES.items():
        service: Service | None = getattr(hw, attribute)
        if service is None or not service.installed:
            continue
        files[f"usr/bin/{binary}"] = (_daemon(banner.format(version=service.version)), 0o755)
        # where the driver packages put their units (an admin's copy in /etc could not be masked)
        files[f"lib/systemd/system/{unit}.service"] = (_unit(unit, binary), 0o644)
        if service.active:
            files[f"etc/systemd/system/multi-user.target.wants/{unit}.service"] = (
                f"LINK:/lib/systemd/system/{unit}.service",
                0o777,
            )
    return files
