"""Phases ``hooks:before-os``, ``hooks:before-join``, ``hooks:after-apply``: the site's playbooks.

Each hook runs through ansible-runner in a child process (bootstrap/hooks/child.py) against an
inventory generated from ours. Its events become progress lines; a host whose task fails or which
is unreachable leaves the run with the playbook, task and message in the report (before join this
keeps it out of the cluster), and the other hosts carry on. Under the strict health policy a
failing hook stops the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from ..hooks.ansible_inventory import ansible_inventory
from ..inventory.models import Hook, Host
from ..membership import Membership, Standing
from ..phase_support.roles import connected_hosts
from ..render.encode import UnsafeValue
from ..runner import Phase, RunContext


class HookPhase(Phase):
    title = "Run hook playbooks"

    def __init__(self, when: str) -> None:
        self.when = when
        self.name = f"hooks:{when}"  # type: ignore[misc]
        self.title = f"Run {when} hook playbooks"  # type: ignore[misc]

    def hooks(self, ctx: RunContext) -> list[tuple[int, Hook]]:
        return [(i, h) for i, h in enumerate(ctx.inventory.spec.hooks) if h.phase == self.when]

    def should_run(self, ctx: RunContext) -> bool:
        return not ctx.options.dry_run and bool(self.hooks(ctx)) and bool(connected_hosts(ctx))

    def run(self, ctx: RunContext) -> None:
        for index, hook in self.hooks(ctx):
            hosts = [
                h
                for h in connected_hosts(ctx)
                if not hook.profiles or (h.profile and h.profile in hook.profiles)
            ]
            if hosts:
                self._run_hook(ctx, index, hook, hosts)
            if ctx.aborted:
                return

    def _run_hook(self, ctx: RunContext, index: int, hook: Hook, host_list: list[Host]) -> None:
        playbook = ctx.inventory.resolve(hook.playbook)
        work = ctx.state_dir.root / "hooks" / f"{self.when}-{index}"
        work.mkdir(parents=True, exist_ok=True)
        hosts = [h.name for h in host_list]
        records = ctx.hosts.items()
        verdicts = {name: record.verdict.action for name, record in records if record.verdict is not None}
        topologies = {name: record.topology for name, record in records if record.topology is not None}
        try:
            generated = ansible_inventory(ctx.inventory, host_list, topologies, verdicts)
        except UnsafeValue as exc:  # e.g. a state_dir whose known_hosts path ssh cannot be given
            ctx.aborted = f"hook {hook.playbook}: cannot write its Ansible inventory: {exc}"
            return
        (work / "inventory.yaml").write_text(yaml.safe_dump(generated, sort_keys=False))
        spec = {
            "private_data_dir": str(work),
            "playbook": str(playbook),
            "inventory": str(work / "inventory.yaml"),
            "hosts": hosts,
        }
        (work / "spec.json").write_text(json.dumps(spec))
        failed: dict[str, str] = {}
        seen: set[str] = set()
        ended = None
        with subprocess.Popen(
            [sys.executable, "-m", "bootstrap.hooks.child", str(work / "spec.json")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(Path(__file__).resolve().parents[2]),
        ) as child:
            assert child.stdout is not None
            for line in child.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                kind, host = event.get("event"), event.get("host", "")
                if kind in ("failed", "unreachable") and host not in failed:
                    failed[host] = f"hook {hook.playbook}: task '{event.get('task')}': {event.get('message')}"
                elif kind in ("ok", "changed", "skipped"):
                    seen.add(host)
                elif kind == "end":
                    ended = event
            errors = child.stderr.read() if child.stderr else ""
        if ended is None:
            message = f"hook {hook.playbook} did not run: {errors.strip()[-500:] or 'ansible-runner failed'}"
            for name in hosts:
                failed.setdefault(name, message)
        for name in hosts:
            if name in failed:
                ctx.fail(self, name, failed[name])
                if self.when != "after-apply":
                    ctx.hosts[name].membership = Membership(Standing.QUARANTINED, failed[name])
            else:
                ctx.hosts[name].phases_run.append(self.name)
                ctx.progress.host_done(self, name, True, f"{hook.playbook}: ok")
        if failed and ctx.inventory.spec.health.policy == "strict":
            ctx.aborted = f"hook {hook.playbook} failed on {', '.join(sorted(failed))} (health policy strict)"
