"""The state a node must show for its deploys to have nothing to do, derived from its resources."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import resources as r


@dataclass(frozen=True)
class DesiredState:
    """What a node must show for its deploys to have nothing to do."""

    files: dict[str, tuple[str, int]] = field(default_factory=dict)  # path -> (sha256, mode)
    pins: dict[str, str] = field(default_factory=dict)  # package -> upstream version, held
    packages: tuple[str, ...] = ()  # present at any version
    units: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # (is-enabled, is-active)
    sysctls: dict[str, str] = field(default_factory=dict)
    modules: tuple[str, ...] = ()
    swap_off: bool = False
    rdma_exclusive: bool = False
    paths: tuple[str, ...] = ()  # must exist (markers)

    def __or__(self, other: DesiredState) -> DesiredState:
        return DesiredState(
            files={**self.files, **other.files},
            pins={**self.pins, **other.pins},
            packages=tuple(dict.fromkeys(self.packages + other.packages)),
            units={**self.units, **other.units},
            sysctls={**self.sysctls, **other.sysctls},
            modules=tuple(dict.fromkeys(self.modules + other.modules)),
            swap_off=self.swap_off or other.swap_off,
            rdma_exclusive=self.rdma_exclusive or other.rdma_exclusive,
            paths=tuple(dict.fromkeys(self.paths + other.paths)),
        )


def file_state(content: str | bytes, mode: int) -> tuple[str, int]:
    data = content.encode() if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest(), mode


def desired_state(resources: Iterable[r.Resource]) -> DesiredState:
    """What applying ``resources`` makes true, as discovery's state read would show it."""
    files: dict[str, tuple[str, int]] = {}
    pins: dict[str, str] = {}
    packages: list[str] = []
    units: dict[str, tuple[str | None, str | None]] = {}
    sysctls: dict[str, str] = {}
    modules: list[str] = []
    paths: list[str] = []
    swap_off = rdma_exclusive = False
    for resource in resources:
        match resource:
            case r.File():
                files[resource.path] = file_state(resource.content, resource.mode)
            case r.PinnedPackages():
                pins |= resource.pins
            case r.BasePackages():
                packages += resource.names
            case r.Unit():
                # a unit named twice (enabled at boot; restarted for a new drop-in): both settings hold
                enabled, active = units.get(resource.name, (None, None))
                new_enabled, new_active = resource.observed
                units[resource.name] = (new_enabled or enabled, new_active or active)
            case r.MaskedUnit():
                units[resource.name] = ("masked", "inactive")
            case r.Modules():
                modules += resource.names
            case r.Sysctls():
                sysctls |= resource.settings
            case r.SwapOff():
                swap_off = True
            case r.RdmaNetnsExclusive():
                rdma_exclusive = True
            case r.AptLists():
                paths.append(resource.marker)
    return DesiredState(
        files=files,
        pins=pins,
        packages=tuple(dict.fromkeys(packages)),
        units=units,
        sysctls=sysctls,
        modules=tuple(dict.fromkeys(modules)),
        swap_off=swap_off,
        rdma_exclusive=rdma_exclusive,
        paths=tuple(dict.fromkeys(paths)),
    )
