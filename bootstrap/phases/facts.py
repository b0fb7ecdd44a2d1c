"""Phase ``facts``: OS, kernel, CPU and memory of every connected host, one command each."""

from __future__ import annotations

import gevent

from ..facts import FACTS_COMMAND, NodeFacts, parse_facts
from ..runner import Phase, RunContext


class FactsPhase(Phase):
    name = "facts"
    title = "Gather node facts"

    def should_run(self, ctx: RunContext) -> bool:
        return any(h.name in ctx.pyinfra_hosts for h in ctx.active())

    def run(self, ctx: RunContext) -> None:
        assert ctx.state is not None, "the connect phase runs first"
        names = [h.name for h in ctx.active() if h.name in ctx.pyinfra_hosts]
        jobs = {ctx.state.pool.spawn(self._gather, ctx, name): name for name in names}
        for job in gevent.iwait(list(jobs)):
            name = jobs[job]
            facts = job.get()
            if isinstance(facts, Exception):
                ctx.fail(self, name, f"could not read facts: {facts}")
                continue
            ctx.facts[name] = facts
            ctx.state_dir.write_json(ctx.state_dir.facts_file(name), facts.model_dump())
            ctx.progress.host_done(self, name, True, f"{facts.os_name}, {facts.cpus} CPUs")

    @staticmethod
    def _gather(ctx: RunContext, name: str) -> NodeFacts | Exception:
        """Returns the error rather than raising, so gevent logs no traceback."""
        host = ctx.pyinfra_hosts[name]
        try:
            ok, output = host.run_shell_command(FACTS_COMMAND, print_output=False, print_input=False)
            if not ok:
                return RuntimeError("; ".join(output.stderr_lines) or "command failed")
            return parse_facts(output.stdout_lines)
        except Exception as exc:
            return exc
