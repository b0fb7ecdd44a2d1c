"""Phase ``connect``: open SSH (or docker) connections to every selected host in parallel.

Host keys are verified against the cluster's known_hosts; an unknown or changed key fails that
host with a message saying how to fix it, and the other hosts carry on.
"""

from __future__ import annotations

import gevent
from pyinfra.api import Config, State
from pyinfra.api import Host as PyinfraHost
from pyinfra.api import Inventory as PyinfraInventory

from ..connection import connection_plan
from ..pyinfra_private import clear_known_hosts_cache, fill_argument_defaults
from ..render.encode import UnsafeValue
from ..runner import Phase, RunContext


def explain_connect_error(error: BaseException, known_hosts: str, trust_flag: str) -> str:
    """pyinfra's message plus the fix an operator needs."""
    text = str(error.args[0] if error.args else error)
    if "No host key" in text or "not found in known_hosts" in text:
        return (
            f"host key unknown: not in {known_hosts}. Verify the key out of band and add it there "
            f"(ssh-keyscan), or rerun with {trust_flag} for first contact"
        )
    if "does not match" in text or "BadHostKey" in text or "Host key for" in text:
        return (
            f"HOST KEY CHANGED (possible man-in-the-middle, or a reinstalled server): {text}. "
            f"If the server was reinstalled, remove its old line from {known_hosts}"
        )
    if "Authentication" in text:
        return f"{text}. Check ssh.user and ssh.private_key, and the key in authorized_keys"
    return text


class ConnectPhase(Phase):
    name = "connect"
    title = "Connect to hosts"

    def run(self, ctx: RunContext) -> None:
        known_hosts = ctx.inventory.known_hosts
        known_hosts.parent.mkdir(parents=True, exist_ok=True)
        known_hosts.touch(mode=0o600, exist_ok=True)
        ssh_config_path = ctx.state_dir.root / "ssh_config"
        try:
            plan = connection_plan(
                ctx.inventory,
                ctx.active(),
                known_hosts=known_hosts,
                trust_new_host_keys=ctx.options.trust_new_host_keys,
                ssh_config_path=ssh_config_path,
            )
        except UnsafeValue as exc:  # e.g. a --state-dir that ssh_config cannot carry
            ctx.aborted = f"cannot write the SSH configuration: {exc}"
            return
        if plan.ssh_config:
            ssh_config_path.write_text(plan.ssh_config, encoding="utf-8")
        # pyinfra memoizes known_hosts per process; this run must see the file as it is now.
        clear_known_hosts_cache()
        state = State(PyinfraInventory((plan.names_data, {})), pyinfra_config(ctx.options.parallel))
        fill_argument_defaults(state)
        ctx.state = state
        by_name = {host.data.get("kubehaus_host"): host for host in state.inventory}
        jobs = {state.pool.spawn(_connect, host): name for name, host in by_name.items()}
        for job in gevent.iwait(list(jobs)):
            name = jobs[job]
            host = by_name[name]
            error = job.get()
            if error is not None:
                ctx.fail(self, name, explain_connect_error(error, str(known_hosts), "--trust-new-host-keys"))
                continue
            state.activate_host(host)
            ctx.hosts[name].connection = host
            ctx.progress.host_done(self, name, True)


def pyinfra_config(parallel: int | None) -> Config:
    """pyinfra's settings for a run; PARALLEL 0 lets pyinfra size the pool (20 per CPU core)."""
    return Config(CONNECT_TIMEOUT=10, PARALLEL=parallel or 0)


def _connect(host: PyinfraHost) -> BaseException | None:
    """Connect one host; return its error instead of raising, so gevent logs no traceback."""
    try:
        host.connect(show_errors=False, raise_exceptions=True)
    except Exception as exc:  # any failure is this host's, not the run's
        return exc
    return None
