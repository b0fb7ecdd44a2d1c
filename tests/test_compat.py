"""The compatibility matrix (bootstrap/compat) and the pin checks over it, with a fixed 'today'."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from bootstrap.compat import matrix
from bootstrap.compat.check import (
    check_against_cluster,
    check_end_of_life,
    check_pins,
    migration_path,
)
from bootstrap.inventory import InventoryError, Severity, defaults, load_inventory
from bootstrap.inventory.models import InventorySpec
from bootstrap.inventory.versions import Version

BEFORE, AFTER = date(2026, 9, 30), date(2026, 12, 2)  # either side of 1.34's end of life

CURRENT_PINS = """\
cluster:
  name: lab
  kubernetes_version: "1.37.1"
versions:
  containerd: "2.3.2"
  nvidia_driver: "580.173.02"
  container_toolkit: "1.20.0"
  dra_gpu_driver: "0.4.1"
  dranet: v1.4.0
  kai_scheduler: v0.17.0
addons:
  kai_scheduler:
    topology:
      levels: [block, rack]
      aliases: {block: nvl-block, rack: rack, hostname: host}
hosts:
  - {name: cp, address: 198.18.0.2, roles: [control-plane]}
  - {name: w1, address: 198.18.0.3, topology: {block: b1, rack: r1}}
"""


def spec(kubernetes: str | None = None, **cluster: str) -> InventorySpec:
    data: dict = {"name": "lab", **cluster}
    if kubernetes is not None:
        data["kubernetes_version"] = kubernetes
    return InventorySpec.model_validate({"cluster": data})


def messages(problems: list) -> list[tuple[str, str]]:
    return [(p.severity.value, p.message) for p in problems]


# --- the data ---------------------------------------------------------------------------------


def test_every_fact_names_its_source() -> None:
    facts = [
        *matrix.KUBERNETES,
        *matrix.DRIVER_BRANCHES,
        *matrix.FLOORS,
        *matrix.ADDON_RELEASES,
    ]
    assert all(fact.source.strip() for fact in facts)
    assert matrix.FABRIC_MANAGER_RULE[1] and matrix.CONTAINERD_LTS[1]


def test_kubernetes_minors_are_consecutive_with_their_own_patches_and_rising_end_of_life() -> None:
    minors = [Version(k.minor).minor for k in matrix.KUBERNETES]
    assert minors == [(1, m) for m in range(minors[0][1], minors[0][1] + len(minors))]
    for k in matrix.KUBERNETES:
        assert Version(k.latest_patch).minor == Version(k.minor).minor
    ends = [k.end_of_life for k in matrix.KUBERNETES]
    assert ends == sorted(ends) and len(set(ends)) == len(ends)


def test_each_add_on_line_is_listed_once_and_its_known_release_is_on_that_line() -> None:
    lines = [(r.addon, Version(r.line).minor) for r in matrix.ADDON_RELEASES]
    assert len(set(lines)) == len(lines)
    for release in matrix.ADDON_RELEASES:
        assert Version(release.known).minor == Version(release.line).minor
        assert (release.install == "helm-repo") == release.location.startswith("https://helm.")


def test_both_generations_of_pins_are_in_the_matrix_and_pass_it() -> None:
    """The defaults (September 2026) and the late-2025 pins a cluster migrates from both fit."""
    assert check_pins(spec()) == [] and check_end_of_life(spec(), AFTER) == []
    assert defaults.KUBERNETES == "1.37.1" and defaults.KAI_SCHEDULER == "v0.17.0"
    assert {k: getattr(defaults, k.upper()) for k in defaults.SEPTEMBER_2026} == defaults.SEPTEMBER_2026
    old = InventorySpec.model_validate(
        {"cluster": {"name": "lab", "kubernetes_version": defaults.LATE_2025["kubernetes"]},
         "versions": {k: v for k, v in defaults.LATE_2025.items() if k != "kubernetes"}}
    )  # fmt: skip
    assert check_pins(old) == []
    latest = {k.minor: k.latest_patch for k in matrix.KUBERNETES}
    assert latest[max(latest, key=lambda m: Version(m).minor)] == defaults.KUBERNETES


def test_the_matrix_agrees_with_the_reference_facts(shared_reference: Path) -> None:
    """Every number and location the matrix takes from addons.md is written there."""
    text = " ".join((shared_reference / "addons.md").read_text().split())  # one line: facts wrap
    current = text[text.index("## Current releases") :]
    for k in matrix.KUBERNETES[1:]:
        assert k.latest_patch in current, k.minor
    assert "1.34 reached end of life on 2026-10-27" in current
    for branch in matrix.DRIVER_BRANCHES:
        assert f"R{branch.branch}" in current and (not branch.example or branch.example in current)
    for release in matrix.ADDON_RELEASES:
        if release.install != "manifest":
            assert release.location in text, release.location
        named = release.known.lstrip("v") in text or any(shared_reference.glob(f"*{release.known}*"))
        assert named, release.known
        assert release.chart in text
    assert "fabric manager package must equal the driver version exactly" in current
    assert matrix.GPU_ALLOCATION.minimum in text and matrix.COMPUTE_DOMAINS.minimum in text
    assert re.search(r"containerd: 2\.3 is the first LTS line", current)


# --- check_pins -------------------------------------------------------------------------------


def test_current_releases_validate_without_warnings(tmp_path: Path) -> None:
    """apply installs the 2026 generation (Dranet's chart, the renamed DRA release replaced)."""
    path = tmp_path / "current.yaml"
    path.write_text(CURRENT_PINS)
    inventory = load_inventory(path, end_of_life_on=AFTER)
    assert inventory.warnings == []


@pytest.mark.parametrize("driver", ["580.95.05", "580.173.02", "595.91.07", "620.10.03"])
def test_accepted_driver_branches(driver: str) -> None:
    assert (
        check_pins(
            InventorySpec.model_validate({"cluster": {"name": "a"}, "versions": {"nvidia_driver": driver}})
        )
        == []
    )


def test_a_disabled_add_on_is_not_held_to_the_matrix() -> None:
    data = {
        "cluster": {"name": "a"},
        "versions": {"kai_scheduler": "v0.99.0"},
        "addons": {"kai_scheduler": {"enabled": False}},
    }
    assert check_pins(InventorySpec.model_validate(data)) == []


def test_aliases_need_kai_0_17_and_render_with_it() -> None:
    topology = {"levels": ["rack"], "aliases": {"rack": "rack"}}
    old = InventorySpec.model_validate(
        {
            "cluster": {"name": "a"},
            "versions": {"kai_scheduler": "v0.12.0"},
            "addons": {"kai_scheduler": {"topology": topology}},
        }
    )
    (problem,) = check_pins(old)
    assert problem.loc == ("addons", "kai_scheduler", "topology", "aliases") and "v0.17.0" in problem.message
    new = old.model_copy(update={"versions": old.versions.model_copy(update={"kai_scheduler": "v0.17.0"})})
    assert check_pins(new) == []


# --- check_end_of_life: a new cluster, offline --------------------------------------------------


def test_the_issue_s_example_message() -> None:
    (problem,) = check_end_of_life(spec("1.34.2"), AFTER)
    assert problem.severity is Severity.ERROR and problem.loc == ("cluster", "kubernetes_version")
    assert problem.message == "Kubernetes 1.34 is end of life since 2026-10-27: set 1.35 or later"
    assert 'accept_end_of_life: "1.34"' in problem.hint


def test_end_of_life_starts_on_its_day() -> None:
    assert check_end_of_life(spec("1.34.2"), date(2026, 10, 26)) == []
    assert check_end_of_life(spec("1.34.2"), date(2026, 10, 27))


def test_the_default_pin_is_judged_too_and_located_at_the_cluster() -> None:
    """The default 1.37.1 is supported until 2027-10-28; after that an unpinned inventory is refused."""
    assert check_end_of_life(spec(), AFTER) == []
    (problem,) = check_end_of_life(spec(), date(2027, 10, 28))
    assert problem.loc == ("cluster",) and problem.key
    assert problem.message.startswith("kubehaus's default Kubernetes 1.37.1 is end of life")


def test_an_acknowledged_end_of_life_minor_is_a_warning_with_the_way_forward() -> None:
    (problem,) = check_end_of_life(spec("1.34.9", accept_end_of_life="1.34"), AFTER)
    assert problem.severity is Severity.WARNING
    assert "starting point of an upgrade" in problem.message
    assert problem.hint == "upgrade one minor per apply: set 1.35.9 next (then 1.36.4 -> 1.37.1)"


def test_an_acknowledgement_of_another_minor_or_of_a_supported_one() -> None:
    (wrong,) = check_end_of_life(spec("1.34.9", accept_end_of_life="1.33"), AFTER)
    assert wrong.severity is Severity.ERROR
    (idle,) = check_end_of_life(spec("1.35.9", accept_end_of_life="1.34"), AFTER)
    assert idle.severity is Severity.WARNING and idle.loc == ("cluster", "accept_end_of_life")
    assert "has no effect" in idle.message


def test_validate_cli_takes_today(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bootstrap.cli import main

    path = tmp_path / "old.yaml"
    path.write_text(CURRENT_PINS.replace('"1.37.1"', '"1.35.9"'))
    assert main(["validate", "--today", "2027-02-27", str(path)]) == 0
    assert main(["validate", "--today", "2027-02-28", str(path)]) == 2
    assert "Kubernetes 1.35 is end of life since 2027-02-28: set 1.36 or later" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["validate", "--today", "tomorrow", str(path)])


def test_load_inventory_leaves_end_of_life_to_its_caller(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text(CURRENT_PINS.replace('"1.37.1"', '"1.34.2"'))
    load_inventory(path)  # apply's way in: the cluster read decides (check_against_cluster)
    with pytest.raises(InventoryError):
        load_inventory(path, end_of_life_on=AFTER)


# --- check_against_cluster: apply's half, given the cluster read -------------------------------


def test_migration_path_is_one_minor_per_apply() -> None:
    assert migration_path("1.34.2", "1.37.1") == ["1.35.9", "1.36.4", "1.37.1"]
    assert migration_path("1.34.2", "1.35.0") == ["1.35.0"]
    assert migration_path("1.35.9", "1.35.9") == []


def test_a_new_cluster_may_not_start_on_end_of_life_even_when_acknowledged() -> None:
    (problem,) = check_against_cluster(spec("1.34.2", accept_end_of_life="1.34"), None, AFTER)
    assert problem.severity is Severity.ERROR and "a new cluster may not start" in problem.message
    assert check_against_cluster(spec("1.35.9"), None, AFTER) == []


def test_an_existing_cluster_on_end_of_life_gets_its_migration_path() -> None:
    (problem,) = check_against_cluster(spec("1.34.9", accept_end_of_life="1.34"), "1.34.2", AFTER)
    assert problem.severity is Severity.WARNING
    assert problem.hint == "migration path, one minor per apply: 1.35.9 -> 1.36.4 -> 1.37.1"
    assert check_against_cluster(spec("1.35.9"), "1.34.2", AFTER) == []  # the next step: allowed


def test_a_jump_of_several_minors_or_a_downgrade_is_refused_with_the_path() -> None:
    (jump,) = check_against_cluster(spec("1.37.1"), "1.34.2", AFTER)
    assert (
        "3 applies away" in jump.message and jump.hint == "set 1.35.9 for this apply, then 1.36.4 -> 1.37.1"
    )
    (down,) = check_against_cluster(spec("1.35.9"), "1.36.4", AFTER)
    assert "does not downgrade" in down.message
    assert messages(check_against_cluster(spec("1.35.9"), "1.35.2", AFTER)) == []


def test_docs_versions_shows_the_matrix_as_it_is() -> None:
    """docs/versions.md is written by hand: it must say what the data says."""
    text = " ".join((Path(__file__).resolve().parent.parent / "docs" / "versions.md").read_text().split())
    for k in matrix.KUBERNETES:
        assert f"| {k.minor} | {k.latest_patch} | {k.end_of_life.isoformat()} |" in text, k.minor
    for release in matrix.ADDON_RELEASES:
        assert f"| {release.known} |" in text and (release.install == "manifest" or release.location in text)
    for branch in matrix.DRIVER_BRANCHES:
        assert f"R{branch.branch} ({branch.kind}, to {branch.supported_until}" in text
    for floor in matrix.FLOORS:
        assert floor.minimum.lstrip("v") in text


@pytest.mark.parametrize(
    "name", ["eol-kubernetes-1.34", "eol-default-kubernetes", "eol-accepted-other-minor"]
)
def test_the_corpus_end_of_life_entries_load_before_that_day(name: str) -> None:
    """They fail for their date alone: judged before 1.34's end of life, each one loads."""
    path = Path(__file__).parent / "inventories" / "broken" / f"{name}.yaml"
    assert load_inventory(path, end_of_life_on=date(2026, 10, 26)).name == "lab"


# --- apply's upgrade phase asks check_against_cluster before any member is touched ---------------


def upgrade_context(kubernetes: str, today: date) -> SimpleNamespace:
    inventory = SimpleNamespace(spec=spec(kubernetes))
    return SimpleNamespace(inventory=inventory, options=SimpleNamespace(today=today), notes=[], aborted=None)


def test_apply_refuses_a_skipped_minor_and_a_new_cluster_on_an_end_of_life_minor() -> None:
    from bootstrap.phases.upgrade import UpgradePhase

    skipped = upgrade_context("1.37.1", AFTER)
    assert UpgradePhase._compatible(skipped, "1.35.9") is False
    assert skipped.aborted == (
        "this cluster runs Kubernetes 1.35.9; the control plane moves one minor per apply, so 1.37.1 is "
        "2 applies away: set 1.36.4 for this apply, then 1.37.1; nothing was changed"
    )
    new_on_old = upgrade_context("1.34.2", AFTER)
    assert UpgradePhase._compatible(new_on_old, None) is False
    assert "a new cluster may not start on Kubernetes 1.34" in new_on_old.aborted
    assert UpgradePhase._compatible(upgrade_context("1.34.2", BEFORE), None) is True


def test_each_minor_step_says_what_this_apply_does_and_what_comes_next() -> None:
    from bootstrap.phases.upgrade import UpgradePhase

    step = upgrade_context("1.35.9", AFTER)
    assert UpgradePhase._compatible(step, "1.34.2") is True and step.aborted is None
    (note,) = step.notes
    assert note.startswith(
        "Kubernetes 1.34.2 -> 1.35.9: this apply moves the control planes, then the workers"
    )
    assert note.endswith("; then set 1.36.4 -> 1.37.1 on the following applies")
    stays = upgrade_context("1.34.9", AFTER)  # a running end-of-life cluster: warned with its path
    assert UpgradePhase._compatible(stays, "1.34.2") is True
    assert stays.notes == [
        "this cluster runs Kubernetes 1.34, end of life since 2026-10-27; "
        "migration path, one minor per apply: 1.35.9 -> 1.36.4 -> 1.37.1"
    ]
