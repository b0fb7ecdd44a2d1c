"""Where a host stands in the cluster after a run: a record, not text for later phases to parse.

The run report shows it as the text it always had (``str``): the report is read by people and by
``outcome.py``; inside the run, phases ask the record (``planned``), never its wording.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Standing(StrEnum):
    FIRST_CONTROL_PLANE = "control plane (first)"
    WOULD_INITIALISE = "would initialise the cluster (kubeadm init)"  # plan: no cluster yet
    MEMBER = "member"  # already in the cluster
    JOINED = "joined"  # joined in this run
    WOULD_JOIN = "would join"  # plan
    QUARANTINED = "quarantined"  # the health gate or a failed hook kept it out
    NOT_JOINED = "not joined"  # no verdict, or the policy said neither join nor quarantine
    REMOVED = "removed from the cluster"  # reset: drained and deleted
    NOT_A_MEMBER = "was not a member"  # reset: nothing to remove
    CLUSTER = "the cluster"  # reset of the first control plane: the cluster itself


WITH_REASON = (Standing.QUARANTINED, Standing.NOT_JOINED)


@dataclass(frozen=True)
class Membership:
    standing: Standing
    reason: str = ""  # why it is quarantined or not joined
    taint: str = ""  # the NoSchedule taint's value it joined with (health policy taint)
    reset: bool = False  # reset then undid what apply did on it

    @property
    def planned(self) -> bool:
        """A plan's prediction: the node would become a member (its labels are planned too)."""
        return self.standing in (Standing.WOULD_JOIN, Standing.WOULD_INITIALISE)

    def after_reset(self) -> Membership:
        return replace(self, reset=True)

    def __str__(self) -> str:
        text = str(self.standing)
        if self.reason and self.standing in WITH_REASON:
            text += f": {self.reason}"
        if self.taint:
            text += f", tainted {self.taint}"
        return text + ("; reset" if self.reset else "")
