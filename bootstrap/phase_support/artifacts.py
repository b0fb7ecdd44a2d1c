"""What the controller fetches once, before planning: the apt signing keys, the registry CA, and the
add-on manifests the addons phase applies (handed on as bytes, so no later phase fetches)."""

from __future__ import annotations

import http.client
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from ..inventory import Inventory
from ..inventory.models import InventorySpec
from ..os_support.facts import OsFacts
from ..plan.node import Artifacts
from ..render.sources import (
    Manifest,
    apt_repositories,
    cni_manifest,
    dranet_installs_by_chart,
    dranet_manifest,
)

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


def addon_manifests(spec: InventorySpec) -> list[Manifest]:
    """The manifests the addons phase applies, in its order: the CNI, then Dranet when enabled and
    installed from its manifest (v1.0; from v1.4 it comes as a Helm chart, no manifest)."""
    by_manifest = spec.addons.dranet.enabled and not dranet_installs_by_chart(spec)
    return [cni_manifest(spec), *([dranet_manifest(spec)] if by_manifest else [])]


def fetch_manifest(manifest: Manifest) -> bytes:
    try:
        with urllib.request.urlopen(manifest.url, timeout=30) as response:
            return response.read()
    except OSError as exc:  # the error alone ("HTTP Error 404") does not say what was asked for
        raise OSError(f"{manifest.name} {manifest.version} from {manifest.url}: {exc}") from exc


def fetch_artifacts(inventory: Inventory, systems: Iterable[OsFacts], manifests: bool = True) -> Artifacts:
    """The signing keys of every repository the nodes' systems use, each read once, the registry CA
    bundle and the add-on manifests. Raises OSError when a key or the CA bundle cannot be read
    (UnsupportedOs: the plan phase refuses those systems first). A manifest that cannot be fetched
    is kept as ``manifests_error``: the addons phase fails on it, as it did when it fetched them."""
    base = inventory.resolve(".")
    locations = {repo.key_url for facts in set(systems) for repo in apt_repositories(inventory.spec, facts)}
    ca = inventory.spec.artifacts.registry_ca
    registry_ca = None if ca is None else inventory.resolve(ca).read_bytes()
    fetched: dict[str, bytes] = {}
    error = None
    for manifest in addon_manifests(inventory.spec) if manifests else []:
        try:
            fetched[manifest.url] = fetch_manifest(manifest)
        except OSError as exc:
            error = str(exc)
            break
    return Artifacts(
        {location: fetch_key(location, base) for location in sorted(locations)},
        registry_ca=registry_ca,
        manifests=fetched,
        manifests_error=error,
    )
