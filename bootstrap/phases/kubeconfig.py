"""Phase ``kubeconfig``: the cluster's admin kubeconfig, fetched into the state directory as 0600."""

from __future__ import annotations

import hashlib
import io
import os

from ..phase_support.roles import control_plane_ready, first_control_plane
from ..plan.cluster_files import ADMIN_KUBECONFIG
from ..runner import Phase, RunContext


class KubeconfigPhase(Phase):
    name = "kubeconfig"
    title = "Fetch the admin kubeconfig"

    def should_run(self, ctx: RunContext) -> bool:
        return not ctx.options.dry_run and control_plane_ready(ctx)

    def run(self, ctx: RunContext) -> None:
        first = first_control_plane(ctx)
        target = ctx.state_dir.kubeconfig
        if self._have_it(ctx, first.name):
            ctx.progress.host_done(self, first.name, True, f"{target} (0600)")
            return
        buffer = io.BytesIO()
        try:
            ctx.connection(first.name).get_file(
                ADMIN_KUBECONFIG, buffer, print_output=False, print_input=False
            )
        except Exception as exc:  # the connector raises its own types
            ctx.fail(self, first.name, f"cannot fetch {ADMIN_KUBECONFIG}: {exc}")
            return
        content = buffer.getvalue()
        changed = (
            not target.exists() or target.read_bytes() != content or (target.stat().st_mode & 0o777) != 0o600
        )
        if changed:
            temporary = target.with_suffix(".tmp")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(content)
            os.chmod(temporary, 0o600)
            os.replace(temporary, target)
            ctx.controller_changes.append(f"kubeconfig: {target}")
        ctx.progress.host_done(self, first.name, True, f"{target} (0600){' updated' if changed else ''}")

    @staticmethod
    def _have_it(ctx: RunContext, first: str) -> bool:
        """Whether the local copy is the file discovery saw on the node (and nothing changed since)."""
        seen = ctx.hosts[first].observed
        target = ctx.state_dir.kubeconfig
        if seen is None or not ctx.unchanged_since_discovery() or not target.exists():
            return False
        remote = seen.files.get(ADMIN_KUBECONFIG)
        local = hashlib.sha256(target.read_bytes()).hexdigest()
        return remote is not None and remote[0] == local and (target.stat().st_mode & 0o777) == 0o600
