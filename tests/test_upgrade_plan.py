"""Upgrade order and the version skew rules (pure: no hosts)."""

from __future__ import annotations

import pytest

from bootstrap.upgrade_plan import MemberState, SkewError, check_skew, plan_upgrades

DRIVER, NEW_DRIVER = "580.95.05", "580.105.08"


def members(kubelet: str = "1.34.2", driver: str = DRIVER) -> list[MemberState]:
    return [
        MemberState("w-gpu", "worker", kubelet, driver),
        MemberState("cp-2", "control-plane", kubelet),
        MemberState("w-cpu", "worker", kubelet),
        MemberState("cp-1", "first-control-plane", kubelet),
    ]


def test_control_planes_first_then_workers_in_inventory_order() -> None:
    plan = plan_upgrades("1.34.2", "1.35.0", NEW_DRIVER, members())
    assert [n.name for n in plan.nodes] == ["cp-1", "cp-2", "w-gpu", "w-cpu"]
    assert plan.control_plane_changes
    gpu = plan.nodes[2]
    assert gpu.kubernetes == ("1.34.2", "1.35.0") and gpu.driver == (DRIVER, NEW_DRIVER) and gpu.reboot
    assert not plan.nodes[3].reboot and plan.nodes[3].driver is None


def test_nothing_to_do_when_versions_match() -> None:
    plan = plan_upgrades("1.34.2", "1.34.2", DRIVER, members())
    assert plan.nodes == [] and not plan.control_plane_changes


def test_a_driver_only_change_reboots_just_the_gpu_nodes() -> None:
    plan = plan_upgrades("1.34.2", "1.34.2", NEW_DRIVER, members())
    assert [(n.name, n.kubernetes, n.reboot) for n in plan.nodes] == [("w-gpu", None, True)]
    assert plan.nodes[0].describe() == f"driver {DRIVER} -> {NEW_DRIVER}"


def test_an_interrupted_upgrade_resumes_where_it_stopped() -> None:
    """cp-1 and w-gpu were done; w-gpu's driver still waits for its reboot; w-cpu was cordoned."""
    state = [
        MemberState("cp-1", "first-control-plane", "1.35.0"),
        MemberState("w-gpu", "worker", "1.35.0", None, reboot_pending=True),
        MemberState("w-cpu", "worker", "1.35.0", interrupted=True),
        MemberState("w-old", "worker", "1.34.2"),
    ]
    plan = plan_upgrades("1.35.0", "1.35.0", NEW_DRIVER, state)
    assert [n.name for n in plan.nodes] == ["w-gpu", "w-cpu", "w-old"]
    assert plan.nodes[0].reboot and plan.nodes[0].driver == ("?", NEW_DRIVER)
    assert plan.nodes[1].describe() == "finish an interrupted upgrade"
    assert plan.nodes[2].kubernetes == ("1.34.2", "1.35.0")


@pytest.mark.parametrize(
    ("api_server", "target", "kubelets", "message"),
    [
        ("1.34.2", "1.36.0", {}, "one minor at a time: set cluster.kubernetes_version to the latest 1.35.x"),
        ("1.35.0", "1.34.2", {}, "downgrades are not supported"),
        ("1.34.2", "2.0.0", {}, "skips a minor"),
        ("1.34.2", "1.35.0", {"w": "1.35.1"}, "newer than the inventory's 1.35.0"),
        ("1.34.2", "1.35.0", {"w": "1.31.4"}, "more than 3 minors behind"),
    ],
)
def test_the_skew_policy_refuses(api_server: str, target: str, kubelets: dict, message: str) -> None:
    with pytest.raises(SkewError, match=message):
        check_skew(api_server, target, kubelets)


def test_a_patch_release_and_lagging_kubelets_within_three_minors_are_fine() -> None:
    check_skew("1.34.2", "1.34.3", {"w": "1.32.9"})
    plan = plan_upgrades("1.34.2", "1.34.3", DRIVER, [MemberState("cp-1", "first-control-plane", "1.34.2")])
    assert plan.nodes[0].kubernetes == ("1.34.2", "1.34.3")
