"""A node's operating-system facts, parsed from the text the node gives (pure).

The inputs are /etc/os-release (os-release(5): shell-style ``KEY=value`` lines), DGX OS's
/etc/dgx-release (same form; ``DGX_OTA_VERSION`` repeats once per over-the-air upgrade) and the
output of ``dpkg --print-architecture``. Parsing never runs the text: values are read with shlex
rules, and a line that is not a plain assignment is refused with its line number.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from ..topology.model import OsRelease

_KEY = re.compile(r"[A-Z][A-Z0-9_]*")
_ARCH = re.compile(r"[a-z0-9][a-z0-9-]*")


class OsFactsError(ValueError):
    """The node's release text cannot be read as facts (what, which line)."""


def parse_release_text(text: str, source: str = "/etc/os-release") -> dict[str, str]:
    """``KEY=value`` lines as a dict; a repeated key keeps its last value, as a shell would."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not _KEY.fullmatch(key):
            raise OsFactsError(f"{source} line {number}: not a KEY=value assignment: {raw!r}")
        try:
            words = shlex.split(value, comments=False, posix=True)
        except ValueError as err:  # an unbalanced quote
            raise OsFactsError(f"{source} line {number}: {err}: {raw!r}") from None
        if len(words) > 1:
            raise OsFactsError(f"{source} line {number}: value of {key} must be quoted: {raw!r}")
        values[key] = words[0] if words else ""
    return values


@dataclass(frozen=True)
class OsFacts:
    """What kubehaus needs to know of a node's OS to choose repositories and packages."""

    id: str  # os-release ID: debian, ubuntu
    version_id: str  # os-release VERSION_ID: "12", "24.04"; "" where the release names none (testing)
    codename: str  # VERSION_CODENAME (UBUNTU_CODENAME as a fallback): bookworm, noble
    architecture: str  # dpkg's architecture: amd64, arm64
    id_like: tuple[str, ...] = ()
    pretty_name: str = ""
    dgx_os_version: str | None = None  # from /etc/dgx-release: the last OTA version, else the build

    @property
    def dgx_os_major(self) -> int | None:
        if self.dgx_os_version is None:
            return None
        head = self.dgx_os_version.split(".", 1)[0]
        return int(head) if head.isdigit() else None

    def describe(self) -> str:
        """How a message names this system: ``Ubuntu 24.04 (noble) arm64, DGX OS 7.3.1``."""
        name = {"debian": "Debian", "ubuntu": "Ubuntu"}.get(self.id, self.id or "unknown OS")
        text = f"{name} {self.version_id or '(no VERSION_ID)'}"
        if self.codename:
            text += f" ({self.codename})"
        text += f" {self.architecture}"
        if self.dgx_os_version:
            text += f", DGX OS {self.dgx_os_version}"
        return text


def parse_architecture(output: str) -> str:
    """``dpkg --print-architecture`` output: one Debian architecture name."""
    arch = output.strip()
    if not _ARCH.fullmatch(arch):
        raise OsFactsError(f"dpkg --print-architecture gave {output!r}, not an architecture name")
    return arch


def dgx_os_version(dgx_release: str) -> str | None:
    """The DGX OS version a node runs: the last ``DGX_OTA_VERSION`` (each OTA upgrade appends one),
    else ``DGX_SWBUILD_VERSION`` (the release it was imaged with)."""
    values = parse_release_text(dgx_release, "/etc/dgx-release")  # a repeated key keeps its last
    return values.get("DGX_OTA_VERSION") or values.get("DGX_SWBUILD_VERSION") or None


def os_facts(os_release: str, architecture: str, dgx_release: str | None = None) -> OsFacts:
    """A node's facts from its /etc/os-release text, dpkg's architecture and, on DGX OS, the
    /etc/dgx-release text (None where the file is absent)."""
    values = parse_release_text(os_release)
    if not values.get("ID"):
        raise OsFactsError("/etc/os-release names no ID")
    return OsFacts(
        id=values["ID"].lower(),
        version_id=values.get("VERSION_ID", ""),
        codename=values.get("VERSION_CODENAME") or values.get("UBUNTU_CODENAME", ""),
        architecture=parse_architecture(architecture),
        id_like=tuple(values.get("ID_LIKE", "").split()),
        pretty_name=values.get("PRETTY_NAME", ""),
        dgx_os_version=dgx_os_version(dgx_release) if dgx_release is not None else None,
    )


def facts_of(release: OsRelease | None) -> OsFacts:
    """A node's facts from what discovery's probe read of it (topology's ``os``)."""
    if release is None:
        raise OsFactsError("discovery read no OS facts (/etc/os-release, dpkg's architecture)")
    if not release.os_release.strip():
        raise OsFactsError("the node has neither /etc/os-release nor /usr/lib/os-release")
    if not release.architecture:
        raise OsFactsError("dpkg --print-architecture gave nothing: not a Debian-family system?")
    return os_facts(release.os_release, release.architecture, release.dgx_release)


# What the project's own lab machines and every default render assume: Debian 12 on amd64.
DEBIAN_12_AMD64 = OsFacts(
    id="debian", version_id="12", codename="bookworm", architecture="amd64", pretty_name="Debian GNU/Linux 12"
)
