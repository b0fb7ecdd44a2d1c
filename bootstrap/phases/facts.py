"""Phase ``facts``: OS, kernel, CPU and memory of every connected host, one command each."""

from __future__ import annotations

from pyinfra.api import Host as PyinfraHost

from ..facts import FACTS_COMMAND, NodeFacts, parse_facts
from ..runner import Phase, RunContext


class FactsPhase(Phase):
    name = "facts"
    title = "Gather node facts"

    def should_run(self, ctx: RunContext) -> bool:
        return bool(ctx.connected())

    def run(self, ctx: RunContext) -> None:
        for name, facts in ctx.on_connected_hosts(gather_facts):
            if isinstance(facts, Exception):
                ctx.fail(self, name, f"could not read facts: {facts}")
                continue
            ctx.hosts[name].facts = facts
            ctx.state_dir.write_json(ctx.state_dir.facts_file(name), facts.model_dump(), indent=False)
            ctx.progress.host_done(self, name, True, f"{facts.os_name}, {facts.cpus} CPUs")


FACTS_TIMEOUT_SECONDS = 60


def gather_facts(host: PyinfraHost) -> NodeFacts:
    try:
        ok, output = host.run_shell_command(
            FACTS_COMMAND, print_output=False, print_input=False, _timeout=FACTS_TIMEOUT_SECONDS
        )
    except TimeoutError:
        raise RuntimeError(
            f"no answer within {FACTS_TIMEOUT_SECONDS} s (an overloaded or hung node?)"
        ) from None
    if not ok:
        raise RuntimeError("; ".join(output.stderr_lines) or "command failed")
    return parse_facts(output.stdout_lines)
