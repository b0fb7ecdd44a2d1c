"""Phase ``os``: swap off, kernel modules, sysctls, the artifact source, base packages (every host)."""

from __future__ import annotations

import http.client
import urllib.request
from pathlib import Path

from deploys.os_prep import OsPlan, prepare_os

from ..deploy_executor import run_deploy
from ..inventory.models import Host
from ..render import node_files
from ..render.sources import SOURCES_FILE, apt_repositories, sources_file
from ..runner import Phase, RunContext
from .node_roles import has_rdma, hosts_to_deploy

BASE_PACKAGES = ["conntrack", "socat", "ebtables", "ethtool", "iptables", "chrony"]
RDMA_MODULES = ["ib_uverbs", "rdma_cm", "mlx5_ib"]


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


def os_plans(ctx: RunContext, hosts: list[Host]) -> dict[str, OsPlan]:
    """Each host's OS plan; raises OSError when the artifact source's key cannot be read."""
    spec = ctx.inventory.spec
    keyrings = {
        repo.keyring: fetch_key(repo.key_url, ctx.inventory.resolve(".")) for repo in apt_repositories(spec)
    }
    sources = node_files.NodeFile(SOURCES_FILE, sources_file(spec))
    plans = {}
    for host in hosts:
        rdma = has_rdma(ctx, host)
        exclusive = rdma and spec.addons.dranet.rdma_netns_exclusive
        extra = [node_files.rdma_netns_exclusive()] if exclusive else []
        plans[host.name] = OsPlan(
            modules_file=node_files.kernel_modules(rdma),
            modules=["overlay", "br_netfilter", *(RDMA_MODULES if rdma else [])],
            sysctl_file=node_files.sysctls(),
            sysctls={k: str(v) for k, v in node_files.sysctl_settings().items()},
            extra_files=extra,
            rdma_netns_exclusive=exclusive,
            sources_file=sources,
            keyrings=keyrings,
            packages=BASE_PACKAGES,
        )
    return plans


class OsPhase(Phase):
    name = "os"
    title = "Prepare the OS"

    def should_run(self, ctx: RunContext) -> bool:
        return bool(hosts_to_deploy(ctx))

    def run(self, ctx: RunContext) -> None:
        try:
            plans = os_plans(ctx, hosts_to_deploy(ctx))
        except OSError as exc:
            ctx.aborted = f"cannot read the artifact source's signing key: {exc}; check artifacts.mirror_key"
            return
        run_deploy(ctx, self, list(plans), lambda name: prepare_os(plans[name]))
