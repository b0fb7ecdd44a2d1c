"""Where a lab keeps its files on the host (root-owned; the lab needs root anyway)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LAB_ROOT = Path("/var/lib/kubehaus/lab")
CACHE_ROOT = Path("/var/cache/kubehaus/lab")


@dataclass(frozen=True)
class LabPaths:
    root: Path

    @classmethod
    def for_lab(cls, name: str, base: Path = LAB_ROOT) -> LabPaths:
        return cls(base / name)

    @property
    def private_key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def record(self) -> Path:
        """What lab up made (machines, namespaces, mounts, pids), so lab down can undo it."""
        return self.root / "lab.json"

    @property
    def mirror(self) -> Path:
        """The artifact mirror's document root (apt repository, keyring, files)."""
        return self.root / "mirror"

    @property
    def cluster_state(self) -> Path:
        return self.root / "state"

    def machine(self, name: str) -> Path:
        return self.root / "machines" / name
