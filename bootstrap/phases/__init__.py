"""Phases of a run, in order. Later issues add verify, os, nvidia, ... after discover."""

from ..runner import Phase
from .connect import ConnectPhase
from .discover import DiscoverPhase
from .facts import FactsPhase
from .verify import VerifyPhase


def facts_phases() -> list[Phase]:
    """The phases of ``kubehaus facts``: connect, then gather basic facts."""
    return [ConnectPhase(), FactsPhase()]


def discover_phases() -> list[Phase]:
    """The phases of ``kubehaus discover``: connect, then probe each node's topology."""
    return [ConnectPhase(), DiscoverPhase()]


def verify_phases() -> list[Phase]:
    """The phases of ``kubehaus verify``: connect, discover, then the health gate."""
    return [ConnectPhase(), DiscoverPhase(), VerifyPhase()]


__all__ = [
    "ConnectPhase",
    "DiscoverPhase",
    "FactsPhase",
    "VerifyPhase",
    "discover_phases",
    "facts_phases",
    "verify_phases",
]
