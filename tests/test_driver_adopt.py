"""A pre-installed NVIDIA driver, whatever installed it: kept and held at the pin, upgraded (never
downgraded) or adopted at another version, never reinstalled silently (bootstrap/plan/adopt.py)."""

from __future__ import annotations

import pytest

from bootstrap.plan.adopt import decide_driver, version_key

PIN = "580.95.05"
PLANNED = {"nvidia-open": PIN, "nvidia-fabricmanager-580": PIN, "nvidia-container-toolkit": "1.18.0"}


def decide(installed: dict[str, tuple[str, bool]] | None, loaded: str | None = None, policy: str = "upgrade"):
    return decide_driver("dgx-1", PLANNED, "nvidia-open", ("nvidia-driver",), installed, loaded, policy)  # type: ignore[arg-type]


def test_a_node_without_a_driver_gets_the_inventory_pins() -> None:
    assert decide({}).action == "install" and decide({}).pins == PLANNED and decide({}).message is None
    assert decide(None).pins == PLANNED  # nothing read (discover, a plain plan): as before


@pytest.mark.parametrize("held", [True, False])
def test_a_driver_at_the_pin_is_kept_under_its_name_and_held(held: bool) -> None:
    decision = decide(
        {"nvidia-open": ("580.95.05-1", held), "nvidia-fabricmanager-580": ("580.95.05-1", held)}
    )
    assert decision.action == "keep" and decision.pins == PLANNED and decision.message is None
    assert not decision.reboot


def test_a_driver_at_the_pin_under_the_other_flavour_is_kept_not_replaced() -> None:
    """DGX OS chose the module flavour: no second driver package goes in beside it."""
    decision = decide({"nvidia-driver": ("580.95.05-1", False)}, loaded="580.95.05")
    assert decision.action == "keep"
    assert decision.pins == {
        "nvidia-driver": PIN,
        "nvidia-fabricmanager-580": PIN,
        "nvidia-container-toolkit": "1.18.0",
    }
    assert decision.message == "dgx-1: NVIDIA driver nvidia-driver 580.95.05 kept (installed before kubehaus)"


def test_an_older_driver_is_upgraded_and_the_report_says_so() -> None:
    decision = decide({"nvidia-open": ("580.82.07-1", True)}, loaded="580.82.07")
    assert decision.action == "upgrade" and decision.pins == PLANNED and decision.reboot
    assert decision.message == (
        "dgx-1: NVIDIA driver nvidia-open 580.82.07 upgraded to the pinned 580.95.05; the node is rebooted "
        "to load it (the old kernel module stays loaded until then)"
    )


def test_a_newer_driver_is_refused_never_downgraded() -> None:
    decision = decide({"nvidia-open": ("580.105.08-1", True)}, loaded="580.105.08")
    assert decision.refused
    assert "580.105.08 is newer than the pinned 580.95.05: kubehaus never downgrades" in (
        decision.message or ""
    )
    assert "preinstalled_driver: adopt" in (decision.message or "")


def test_adopt_keeps_another_version_held_and_names_the_drift() -> None:
    for version in ("580.105.08-1", "580.82.07-1"):  # newer or older: kept either way
        decision = decide({"nvidia-open": (version, False)}, policy="adopt")
        assert decision.action == "adopt"
        assert decision.pins == {"nvidia-open": version.split("-")[0], "nvidia-container-toolkit": "1.18.0"}
        assert "kept by policy adopt (drift: the inventory pins 580.95.05" in (decision.message or "")


def test_a_driver_no_known_package_carries_is_judged_by_nvml() -> None:
    """A runfile install (or another branch's package): seen only through NVML's version, with
    nothing to hold; installed over by the pinned package, and said so; never downgraded."""
    at_pin = decide({}, loaded="580.95.05")
    assert at_pin.action == "install" and at_pin.pins == PLANNED
    assert at_pin.message == (
        "dgx-1: NVIDIA driver 580.95.05 found without a package kubehaus knows (a runfile install?): "
        "the pinned nvidia-open 580.95.05 is installed over it, so that it can be held and upgraded"
    )
    assert not at_pin.reboot  # the same version: the loaded module matches the package's
    older = decide({}, loaded="570.172.08")
    assert older.action == "install" and older.reboot and "the node is rebooted" in (older.message or "")
    newer = decide({}, loaded="580.105.08")
    assert newer.refused and "never downgrades" in (newer.message or "")
    adopted = decide({}, loaded="570.172.08", policy="adopt")
    assert adopted.action == "adopt" and adopted.pins == {"nvidia-container-toolkit": "1.18.0"}
    assert "kept as it is by policy adopt (drift: the inventory pins 580.95.05)" in (adopted.message or "")


def test_driver_versions_compare_by_number_not_text() -> None:
    assert version_key("580.105.08") > version_key("580.95.05") > version_key("570.195.03")
    assert version_key("1:580.95.05-1") == version_key("580.95.05")
