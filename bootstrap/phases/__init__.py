"""Phases of a run, in order. Later issues add discover, verify, os, nvidia, ... after facts."""

from ..runner import Phase
from .connect import ConnectPhase
from .facts import FactsPhase


def facts_phases() -> list[Phase]:
    """The phases of ``kubehaus facts``: connect, then gather basic facts."""
    return [ConnectPhase(), FactsPhase()]


__all__ = ["ConnectPhase", "FactsPhase", "facts_phases"]
