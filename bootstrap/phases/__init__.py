"""Phases of a run, in order. Later issues add verify, os, nvidia, ... after discover."""

from ..runner import Phase
from .connect import ConnectPhase
from .discover import DiscoverPhase
from .facts import FactsPhase


def facts_phases() -> list[Phase]:
    """The phases of ``kubehaus facts``: connect, then gather basic facts."""
    return [ConnectPhase(), FactsPhase()]


def discover_phases() -> list[Phase]:
    """The phases of ``kubehaus discover``: connect, then probe each node's topology."""
    return [ConnectPhase(), DiscoverPhase()]


__all__ = ["ConnectPhase", "DiscoverPhase", "FactsPhase", "discover_phases", "facts_phases"]
