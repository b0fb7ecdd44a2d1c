"""Container runtime: containerd pinned, its kubehaus drop-in (systemd cgroups, CDI, NRI), running."""

from __future__ import annotations

from dataclasses import dataclass

from pyinfra import host
from pyinfra.facts.files import FileContents
from pyinfra.operations import systemd

from bootstrap.deploy_executor import StepFailed, step
from bootstrap.render.node_files import NodeFile, containerd_config_is_pristine

from .files_on_node import put
from .node_state import DesiredState, file_state
from .operations import command_if, pinned_packages


@dataclass(frozen=True)
class RuntimePlan:
    pins: dict[str, str]
    drop_in: NodeFile
    main_config: NodeFile  # written only over the package's pristine default (or when absent)


def install_runtime(plan: RuntimePlan) -> None:
    installed = step("containerd pinned", pinned_packages, pins=plan.pins)
    current = host.get_fact(FileContents, path=plan.main_config.path)
    text = "\n".join(current) + "\n" if current else None
    if text is None or containerd_config_is_pristine(text):
        main_changed = put(plan.main_config, "containerd main config imports conf.d")
    elif "conf.d" not in text:
        raise StepFailed(
            f"{plan.main_config.path} was customised and does not import /etc/containerd/conf.d/*.toml: "
            'add `imports = ["/etc/containerd/conf.d/*.toml"]` to it (kubehaus never rewrites a '
            "customised config)"
        )
    else:
        main_changed = False
    drop_in_changed = put(plan.drop_in, "containerd drop-in (systemd cgroups, CDI, NRI)")
    step("systemd reloaded", command_if, command="systemctl daemon-reload", when=installed)
    step(
        "containerd running",
        systemd.service,
        service="containerd",
        running=True,
        enabled=True,
        restarted=installed or main_changed or drop_in_changed,
    )


def desired_state(plan: RuntimePlan) -> DesiredState:
    """A customised main config (not ours) never counts as in state: the full deploy judges it."""
    files = (plan.drop_in, plan.main_config)
    return DesiredState(
        files={f.path: file_state(f.content, f.mode) for f in files},
        pins=plan.pins,
        units={"containerd": ("enabled", "active")},
    )
