"""The kinds of thing kubehaus manages on a node, each a frozen record of what must be true.

A resource says what, never how: ``deploys/node_apply.py`` maps each kind onto the small operation
that makes it true, ``desired.py`` onto the state discovery's read must show, ``managed.py`` onto
what to read and what ``reset`` removes. A new kind must be added to all three (a test checks it).
Resources refer to each other by ``key`` (a unit restarted when a file or a package changed).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class File:
    """A file kubehaus writes, root-owned, with this content and mode."""

    path: str
    content: str | bytes
    mode: int = 0o644
    title: str | None = None  # the step's name; None: "file <path>"
    # the package's own config (containerd's config.toml): written only over its pristine default,
    # refused when customised without importing our drop-ins, and left in place by reset
    only_over_pristine: bool = False

    @property
    def key(self) -> str:
        return f"file {self.path}"

    @property
    def removed_on_reset(self) -> bool:
        return not self.only_over_pristine


@dataclass(frozen=True)
class PinnedPackages:
    """Packages at an upstream version each, held against upgrades."""

    pins: dict[str, str]
    title: str
    kept_on_reset: tuple[str, ...] = ()  # the NVIDIA driver and fabric manager outlive a reset
    # where set, the hold is its own step (named so): the report then tells a package that was only
    # held (a pre-installed driver, adopted) from one that was installed
    hold_title: str | None = None

    @property
    def key(self) -> str:
        return "pins " + " ".join(self.pins)


@dataclass(frozen=True)
class BasePackages:
    """Packages present at any version (the distribution's own; reset leaves them)."""

    names: tuple[str, ...]
    title: str

    @property
    def key(self) -> str:
        return "packages " + " ".join(self.names)


@dataclass(frozen=True)
class Unit:
    """A systemd unit enabled and/or running (None: left as it is), restarted when ``restarted_by``
    changed, after a daemon-reload when ``reload_when`` changed (a package that ships units)."""

    name: str
    title: str
    enabled: bool | None = None
    running: bool | None = None
    restarted_by: tuple[str, ...] = ()
    reload_when: tuple[str, ...] = ()
    stopped_on_reset: bool = False  # its unit file is kubehaus's: stopped and disabled before removal

    @property
    def key(self) -> str:
        return f"unit {self.name} {self.title}"

    @property
    def observed(self) -> tuple[str | None, str | None]:
        """What ``systemctl is-enabled`` / ``is-active`` must print (None: not checked)."""
        enabled = None if self.enabled is None else ("enabled" if self.enabled else "disabled")
        active = None if self.running is None else ("active" if self.running else "inactive")
        return enabled, active


@dataclass(frozen=True)
class MaskedUnit:
    """A unit stopped, disabled and masked (the host IMEX service under ComputeDomains)."""

    name: str
    title_stopped: str
    title_masked: str

    @property
    def key(self) -> str:
        return f"masked {self.name}"


@dataclass(frozen=True)
class Modules:
    """Kernel modules loaded (or built in) now; the boot-time list is a File."""

    names: tuple[str, ...]
    title: str

    @property
    def key(self) -> str:
        return "modules"


@dataclass(frozen=True)
class Sysctls:
    """Live kernel settings; the boot-time drop-in is a File."""

    settings: dict[str, str]
    title: str

    @property
    def key(self) -> str:
        return "sysctls"


@dataclass(frozen=True)
class SwapOff:
    title: str = "swap off"

    @property
    def key(self) -> str:
        return "swap"


@dataclass(frozen=True)
class RdmaNetnsExclusive:
    """RDMA devices per network namespace, set live (the modprobe option is a File)."""

    title: str = "RDMA netns mode exclusive (live)"

    @property
    def key(self) -> str:
        return "rdma netns"


@dataclass(frozen=True)
class AptLists:
    """apt's package lists fresh: refreshed when a source or key changed, else once (the marker)."""

    marker: str
    refreshed_by: tuple[str, ...] = field(default=())
    title: str = "apt lists"

    @property
    def key(self) -> str:
        return "apt lists"


Resource = (
    File
    | PinnedPackages
    | BasePackages
    | Unit
    | MaskedUnit
    | Modules
    | Sysctls
    | SwapOff
    | RdmaNetnsExclusive
    | AptLists
)
RESOURCE_KINDS: tuple[type, ...] = Resource.__args__  # type: ignore[attr-defined]
