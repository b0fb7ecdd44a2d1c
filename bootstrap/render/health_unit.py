"""The node-local health check's files: systemd service and timer, and its per-node config (pure).

The service is a oneshot that runs the shipped probe and rules with the node's expectations; the
timer starts it every ``interval_minutes`` of the profile. Everything node-specific (the node's
name, expectations, policy, API server) goes into a JSON config file, never onto an Exec line, so
no inventory value can add a directive or an argument. All paths are kubehaus's own drop-ins.
"""

from __future__ import annotations

import json

from ..health.expectations import Expectations
from ..inventory.models import HealthPolicyName, HealthWatch
from .encode import systemd_exec, systemd_unit, systemd_value

UNIT = "kubehaus-health"
SERVICE_PATH = f"/etc/systemd/system/{UNIT}.service"
TIMER_PATH = f"/etc/systemd/system/{UNIT}.timer"
PROGRAM_DIR = "/usr/lib/kubehaus/health"  # the shipped probe, rules and check (python3 -S, stdlib only)
CONFIG_PATH = "/etc/kubehaus/health/config.json"
TOKEN_PATH = "/etc/kubehaus/health/token"  # the node-bound token, 0600 root (docs/health-watch.md)
STATE_DIR = "/var/lib/kubehaus/health"
VERDICT_PATH = f"{STATE_DIR}/verdict.json"
CONFIG_DIR = "/etc/kubehaus/health"
DIRECTORIES = (PROGRAM_DIR, CONFIG_DIR, STATE_DIR)  # all kubehaus's: removed whole by reset
CA_PATH = "/etc/kubernetes/pki/ca.crt"  # written by kubeadm join
CONFIG_SCHEMA = "kubehaus.health-watch-config/v1"


def service_unit() -> str:
    command = ["/usr/bin/python3", "-S", f"{PROGRAM_DIR}/check.py", "--config", CONFIG_PATH]
    return systemd_unit(
        [
            (
                "Unit",
                [
                    ("Description", systemd_value("kubehaus node hardware health check")),
                    ("After", "network-online.target"),
                    ("Wants", "network-online.target"),
                ],
            ),
            (
                "Service",
                [
                    ("Type", "oneshot"),
                    ("ExecStart", systemd_exec(command)),
                    ("Nice", "10"),
                    ("NoNewPrivileges", "yes"),
                    ("PrivateTmp", "yes"),
                    ("ProtectHome", "yes"),
                    ("ProtectSystem", "strict"),
                    # the only place it writes (the verdict file), writable under ProtectSystem=strict
                    ("StateDirectory", "kubehaus/health"),
                ],
            ),
        ]
    )


def timer_unit(interval_minutes: int) -> str:
    return systemd_unit(
        [
            ("Unit", [("Description", systemd_value("run the kubehaus node hardware health check"))]),
            (
                "Timer",
                [
                    # a timer whose unit never became active has nothing for OnUnitActiveSec to
                    # count from: the first run is tied to the timer's own start and to boot, and
                    # the service always runs (check.py itself says when it has no token yet)
                    ("OnActiveSec", "1min"),
                    ("OnBootSec", "2min"),
                    ("OnUnitActiveSec", f"{int(interval_minutes)}min"),
                    ("AccuracySec", "30s"),
                    ("Unit", f"{UNIT}.service"),
                ],
            ),
            ("Install", [("WantedBy", "timers.target")]),
        ]
    )


def api_server_url(host: str, port: int) -> str:
    """``https://host:port``, an IPv6 address in brackets (the endpoint is validated at load)."""
    return f"https://[{host}]:{int(port)}" if ":" in host else f"https://{host}:{int(port)}"


def node_config(
    node: str,
    expectations: Expectations,
    policy: HealthWatch,
    health_policy: HealthPolicyName,
    api_server: str,
) -> str:
    """The check's config for one node, as JSON (the only place node-specific values go)."""
    document = {
        "schema": CONFIG_SCHEMA,
        "node": node,
        "health_policy": health_policy,
        "watch": policy.model_dump(mode="json"),
        "expectations": expectations.model_dump(mode="json"),
        "api_server": api_server,
        "ca_file": CA_PATH,
        "token_file": TOKEN_PATH,
        "verdict_file": VERDICT_PATH,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
