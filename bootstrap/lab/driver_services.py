"""The driver-stack services a pre-provisioned GPU server already runs, as lab stand-ins (pure).

A DGX arrives with the NVIDIA driver, the persistence daemon and (on NVSwitch systems) the fabric
manager installed and running; a GB200 tray with IMEX. Lab machines get systemd units whose
daemons are stand-ins that idle and answer ``--version`` with the machine's version, so discovery
sees service state and version exactly where it would look on a real node.
"""

from __future__ import annotations

from .hardware import MachineHardware, Service
from .nvml_profile import NVML_PROFILE
from .standins import LIB, NVIDIA_MODULE_STATE

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


MODULE_UNIT = "kubehaus-lab-nvidia-module"


def _module_unit(hw: MachineHardware) -> str:
    """At boot, "load the kernel module": the installed package's version, else the provisioned one.

    A profile staged as ``nvml-profile.next-boot`` replaces the machine's NVML profile first: how tests
    make a node come back from a reboot with a fault it did not have before.
    """
    installed = f"/{LIB}/nvidia-driver/version"
    provisioned = f"else echo {hw.driver_version} > {NVIDIA_MODULE_STATE}; " if hw.driver_preinstalled else ""
    # a fault staged for the next boot (the hardware as the new driver finds it) takes effect now
    staged = f"[ -e {NVML_PROFILE}.next-boot ] && mv {NVML_PROFILE}.next-boot {NVML_PROFILE}; "
    return (
        "[Unit]\nDescription=Load the NVIDIA kernel module (kubehaus lab stand-in: records its version)\n"
        "Before=ssh.service nvidia-persistenced.service\n\n"
        "[Service]\nType=oneshot\nRemainAfterExit=yes\n"
        f"ExecStart=/bin/sh -c '{staged}mkdir -p {NVIDIA_MODULE_STATE.rsplit('/', 1)[0]}; "
        f"if [ -e {installed} ]; then cp {installed} {NVIDIA_MODULE_STATE}; {provisioned}fi'\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def driver_service_files(hw: MachineHardware) -> dict[str, tuple[str, int]]:
    """Files to place in the machine's root: path -> (content, mode); symlinks as 'LINK:target'."""
    files: dict[str, tuple[str, int]] = {}
    if hw.driver_version:
        files[f"lib/systemd/system/{MODULE_UNIT}.service"] = (_module_unit(hw), 0o644)
        files[f"etc/systemd/system/multi-user.target.wants/{MODULE_UNIT}.service"] = (
            f"LINK:/lib/systemd/system/{MODULE_UNIT}.service",
            0o777,
        )
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
