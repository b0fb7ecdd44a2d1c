"""The workers' sliding window: at most max_unavailable out at once, in order, none after a failure."""

from __future__ import annotations

import contextlib

import gevent
import pytest

from bootstrap.phases.upgrade import UpgradePhase, Window
from bootstrap.upgrade_plan import NodeUpgrade

WORKERS = ["w1", "w2", "w3", "w4", "w5"]


class TimedPhase(UpgradePhase):
    """Upgrading a node is a short sleep here; the window logic is the real one."""

    def __init__(self, fail: str | None = None) -> None:
        self.fail, self.out, self.most, self.started, self.log = fail, set(), 0, [], []

    def _upgrade(self, ctx, upgrade, plan, control_plane) -> None:  # type: ignore[override]
        self.started.append(upgrade.name)
        self.log.append(f"{upgrade.name} out")
        self.out.add(upgrade.name)
        self.most = max(self.most, len(self.out))
        gevent.sleep(0.05 if upgrade.name != "w1" else 0.15)  # w1 is slow: the window slides past it
        self.out.discard(upgrade.name)
        self.log.append(f"{upgrade.name} back")
        if upgrade.name == self.fail:
            raise RuntimeError("drain failed")


def roll(phase: TimedPhase, size: int) -> Window:
    window = Window(size, WORKERS)
    upgrades = {n: NodeUpgrade(n, "worker", ("1.34.2", "1.35.0"), None, False) for n in WORKERS}

    def run(name: str) -> None:
        with contextlib.suppress(RuntimeError):  # the failing node's error: the window records it
            phase._in_window(None, window, upgrades[name], None, None)  # type: ignore[arg-type]

    gevent.joinall([gevent.spawn(run, n) for n in reversed(WORKERS)])  # spawn order does not matter
    return window


@pytest.mark.parametrize("size", [1, 2, 3])
def test_at_most_max_unavailable_at_once_in_inventory_order(size: int) -> None:
    phase = TimedPhase()
    roll(phase, size)
    assert phase.most == size and phase.started == WORKERS


def test_the_window_slides_past_a_slow_node() -> None:
    """Not fixed batches: w3 starts as soon as w2 is back, while w1 is still out."""
    phase = TimedPhase()
    roll(phase, 2)
    assert phase.log.index("w3 out") < phase.log.index("w1 back")


def test_a_failure_stops_the_window_and_says_who_was_not_started() -> None:
    phase = TimedPhase(fail="w2")
    window = roll(phase, 1)
    assert window.failed == "w2" and window.not_started == ["w3", "w4", "w5"]
    assert phase.started == ["w1", "w2"]
