"""Phases of a run, in order: each verb is a list of them (k0sctl style)."""

from ..runner import Phase
from .connect import ConnectPhase
from .discover import DiscoverPhase
from .facts import FactsPhase
from .verify import VerifyPhase


def apply_phases() -> list[Phase]:
    """``kubehaus apply``: the health gate, the node stack on every host, then the cluster."""
    from .addons import AddonsPhase
    from .control_plane import ControlPlanePhase
    from .health_token import HealthTokenPhase
    from .hooks import HookPhase
    from .join import JoinPhase
    from .kubeconfig import KubeconfigPhase
    from .kubernetes import KubernetesPhase
    from .labels import LabelsPhase
    from .lock import LockPhase
    from .nvidia import NvidiaPhase
    from .os_prep import OsPhase
    from .plan import PlanPhase
    from .prune import PrunePhase
    from .rediscover import RediscoverPhase
    from .runtime import RuntimePhase
    from .serving import ServingPhase
    from .state_check import StateCheckPhase
    from .upgrade import UpgradePhase
    from .upgrade_plan import UpgradePlanPhase

    return [
        ConnectPhase(),
        DiscoverPhase(read_state=True, claim_lock=True),  # only reads; the lock's acquire rides in it
        LockPhase(),  # decided from that answer, before anything changes
        VerifyPhase(),
        PlanPhase(),  # each host's NodePlan: the node phases below run their part of it
        UpgradePlanPhase(),  # which members the upgrade rolls: only it changes their versions
        HookPhase("before-os"),
        StateCheckPhase(),
        OsPhase(),  # apt sources first: a new Kubernetes minor has its own repository
        UpgradePhase(),
        PlanPhase(after="upgrade"),  # a rebooted member's topology was probed again
        NvidiaPhase(),
        RediscoverPhase(),
        PlanPhase(after="rediscover"),
        RuntimePhase(),
        KubernetesPhase(),
        ControlPlanePhase(),
        HookPhase("before-join"),
        JoinPhase(),
        AddonsPhase(),
        LabelsPhase(),
        HealthTokenPhase(),  # after the add-ons: their first step is the token's ServiceAccount
        ServingPhase(),  # after the labels: the DRA plugin's DaemonSet lands on labelled GPU nodes
        PrunePhase(),
        KubeconfigPhase(),
        HookPhase("after-apply"),
    ]


def facts_phases() -> list[Phase]:
    """The phases of ``kubehaus facts``: connect, then gather basic facts."""
    return [ConnectPhase(), FactsPhase()]


def discover_phases() -> list[Phase]:
    """The phases of ``kubehaus discover``: connect, then probe each node's topology."""
    return [ConnectPhase(), DiscoverPhase()]


def verify_phases() -> list[Phase]:
    """The phases of ``kubehaus verify``: connect, discover, then the health gate."""
    return [ConnectPhase(), DiscoverPhase(), VerifyPhase()]


def status_phases() -> list[Phase]:
    """``kubehaus status``: connect to the first control plane, read the Nodes."""
    from .status import StatusPhase

    return [ConnectPhase(), StatusPhase()]


def reset_phases(targets: list[str]) -> list[Phase]:
    """``kubehaus reset``: connect (targets and the first control plane), lock, reset."""
    from .lock import LockPhase
    from .reset import ResetPhase

    return [ConnectPhase(), LockPhase(), ResetPhase(targets)]


__all__ = [
    "ConnectPhase",
    "DiscoverPhase",
    "FactsPhase",
    "VerifyPhase",
    "apply_phases",
    "discover_phases",
    "facts_phases",
    "reset_phases",
    "status_phases",
    "verify_phases",
]
