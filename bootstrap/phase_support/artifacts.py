"""What the controller fetches once, before planning: the apt signing keys, the registry CA."""

from __future__ import annotations

import http.client
import urllib.request
from pathlib import Path

from ..inventory import Inventory
from ..plan.node import Artifacts
from ..render.sources import apt_repositories

MAX_KEY_BYTES = 1 << 20


def fetch_key(location: str, inventory_dir: Path) -> bytes:
    """An apt signing key, read on the controller (a local file, or a URL it can reach)."""
    if location.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(location, timeout=30) as response:
                key = response.read(MAX_KEY_BYTES + 1)
        except (ValueError, http.client.HTTPException) as exc:  # malformed URL or reply
            raise OSError(f"{location}: {exc}") from None
        if len(key) > MAX_KEY_BYTES:
            raise OSError(f"{location}: larger than {MAX_KEY_BYTES} bytes; not a signing key")
        return key
    path = Path(location)
    return (path if path.is_absolute() else inventory_dir / path).read_bytes()


def fetch_artifacts(inventory: Inventory) -> Artifacts:
    """Raises OSError when a signing key or the registry CA bundle cannot be read."""
    base = inventory.resolve(".")
    ca = inventory.spec.artifacts.registry_ca
    return Artifacts(
        {repo.keyring: fetch_key(repo.key_url, base) for repo in apt_repositories(inventory.spec)},
        registry_ca=None if ca is None else inventory.resolve(ca).read_bytes(),
    )
