"""The per-cluster state directory: known_hosts, facts, kubeconfig, run reports, the lock."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StateDir:
    root: Path

    def ensure(self) -> StateDir:
        """Create the directory, private to the user: it holds credentials."""
        for path in (self.root, self.root / "facts", self.root / "topology", self.root / "runs"):
            path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        return self

    def facts_file(self, host: str) -> Path:
        return self.root / "facts" / f"{host}.json"

    def topology_file(self, host: str) -> Path:
        return self.root / "topology" / f"{host}.json"

    def health_token_file(self, host: str) -> Path:
        """The node's health-check token as apply issued it (0600; bootstrap/health/node_token.py)."""
        return self.root / "health-tokens" / f"{host}.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "admin.conf"

    def new_run_dir(self, now: datetime | None = None) -> Path:
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.root / "runs" / stamp
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_json(self, path: Path, data: Any, mode: int = 0o600, *, indent: bool = True) -> None:
        """Write atomically so a crash never leaves half a file for the next run to read.

        ``indent=False`` is for the per-host caches (topology, facts): Python's JSON encoder runs
        in C only without indentation, which at 1000 hosts is seconds, not milliseconds, per run.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        text = json.dumps(data, indent=2 if indent else None, sort_keys=True)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
