"""A host's standing is a record; the report shows it in the words it always used."""

from __future__ import annotations

import pytest

from bootstrap.membership import Membership, Standing


@pytest.mark.parametrize(
    ("membership", "text"),
    [
        (Membership(Standing.FIRST_CONTROL_PLANE), "control plane (first)"),
        (Membership(Standing.WOULD_INITIALISE), "would initialise the cluster (kubeadm init)"),
        (Membership(Standing.JOINED, taint="NVLINK_DOWN"), "joined, tainted NVLINK_DOWN"),
        (Membership(Standing.MEMBER), "member"),
        (Membership(Standing.WOULD_JOIN), "would join"),
        (
            Membership(Standing.QUARANTINED, "GPU_MISSING, NVLINK_DOWN"),
            "quarantined: GPU_MISSING, NVLINK_DOWN",
        ),
        (Membership(Standing.NOT_JOINED, "no health verdict"), "not joined: no health verdict"),
        (Membership(Standing.REMOVED).after_reset(), "removed from the cluster; reset"),
        (Membership(Standing.CLUSTER).after_reset(), "the cluster; reset"),
    ],
)
def test_report_text(membership: Membership, text: str) -> None:
    assert str(membership) == text


def test_only_a_plans_predictions_are_planned() -> None:
    assert {s for s in Standing if Membership(s).planned} == {Standing.WOULD_JOIN, Standing.WOULD_INITIALISE}
