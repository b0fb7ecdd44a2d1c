"""Phase ``rediscover``: probe and judge again the GPU hosts that had no working driver at discovery.

A bare server shows no GPUs until the driver is installed; its first verdict can only warn
(NVML_UNAVAILABLE). Once the nvidia phase has installed the driver, such a host is probed again
and its verdict replaced, so the join decision rests on what the hardware really shows.
"""

from __future__ import annotations

from ..phase_support.probe import probe_host, rejudge
from ..phase_support.roles import connected_hosts, is_gpu_host
from ..runner import Phase, RunContext
from ..topology.discovery import probe_command


class RediscoverPhase(Phase):
    name = "rediscover"
    title = "Probe again after the driver install"

    def hosts(self, ctx: RunContext) -> list[str]:
        return [
            h.name
            for h in connected_hosts(ctx)
            if is_gpu_host(ctx, h)
            and (topology := ctx.hosts[h.name].topology) is not None
            and topology.nvml_error
        ]

    def should_run(self, ctx: RunContext) -> bool:
        return not ctx.options.dry_run and bool(self.hosts(ctx))

    def run(self, ctx: RunContext) -> None:
        wanted = set(self.hosts(ctx))
        command = probe_command()
        for name, result in ctx.on_connected_hosts(lambda host: probe_host(host, command), only=wanted):
            if isinstance(result, Exception):
                ctx.fail(self, name, str(result))
                continue
            ctx.hosts[name].phases_run.append(self.name)
            verdict = rejudge(ctx, name, result)
            ctx.progress.host_done(
                self, name, verdict.healthy, f"{len(result.gpus)} GPU(s); {verdict.action}"
            )
