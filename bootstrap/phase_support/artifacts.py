"""What the controller fetches once, before planning: the apt signing keys, the registry CA."""

from __future__ import annotations

import http.client
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from ..inventory import Inventory
from ..os_support.facts import OsFacts
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


def fetch_artifacts(inventory: Inventory, systems: Iterable[OsFacts]) -> Artifacts:
    """The signing keys of every repository the nodes' systems use, each read once, and the registry
    CA bundle. Raises OSError when one cannot be read (UnsupportedOs: the plan phase refuses those
    systems first)."""
    base = inventory.resolve(".")
    locations = {repo.key_url for facts in set(systems) for repo in apt_repositories(inventory.spec, facts)}
    ca = inventory.spec.artifacts.registry_ca
    return Artifacts(
        {location: fetch_key(location, base) for location in sorted(locations)},
        registry_ca=None if ca is None else inventory.resolve(ca).read_bytes(),
    )
