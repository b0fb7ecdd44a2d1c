"""The command line: exit codes, JSON output, help that teaches, the schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bootstrap.cli import build_parser, main

REPO = Path(__file__).parent.parent
BROKEN = REPO / "tests" / "inventories" / "broken"


def test_validate_accepts_every_shipped_example(capsys: pytest.CaptureFixture[str]) -> None:
    examples = sorted(str(p) for p in (REPO / "inventory").glob("*.yaml"))
    # a fixed day: the examples' pins are judged as of this session, not whenever the test runs
    assert main(["validate", "--today", "2026-12-02", *examples]) == 0
    out = capsys.readouterr().out
    assert out.count(": valid:") == len(examples)


def test_validate_reports_located_errors_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    path = BROKEN / "host-unknown-key.yaml"
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert f"{path}:5:5: hosts[0].adress: unknown key 'adress'\n    hint: did you mean 'address'?" in out


def test_validate_json_is_machine_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "validate",
                "-o",
                "json",
                "--today",
                "2026-09-30",
                str(BROKEN / "cidr-overlap.yaml"),
                str(REPO / "inventory/small.yaml"),
            ]
        )
        == 2
    )
    result = json.loads(capsys.readouterr().out)
    assert [entry["valid"] for entry in result] == [False, True]
    first = result[0]["diagnostics"][0]
    assert (first["line"], first["column"], first["path"], first["severity"]) == (
        4,
        17,
        "cluster.service_cidr",
        "error",
    )


def test_validate_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/inv.yaml"]) == 2
    assert "/nonexistent/inv.yaml:1:1: (document): file not found" in capsys.readouterr().out


def test_schema_is_json_schema_of_the_inventory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "kubehaus inventory"
    assert {"cluster", "hosts", "profiles", "addons", "health", "hooks"} <= set(schema["properties"])
    assert schema["required"] == ["cluster"]
    assert schema["additionalProperties"] is False


def test_every_verb_has_help_with_an_example() -> None:
    parser = build_parser()
    assert "examples:" in parser.format_help()
    verbs = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(verbs) >= {"validate", "schema", "facts"}
    for name, sub in verbs.items():
        text = sub.format_help()
        assert "examples:" in text and f"kubehaus {name}" in text, name


def test_no_verb_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: kubehaus" in capsys.readouterr().err


def test_facts_refuses_a_broken_inventory_before_contacting_anything(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["facts", str(BROKEN / "duplicate-host-names.yaml"), "--state-dir", str(tmp_path)]) == 2
    assert "nothing was contacted" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_facts_rejects_unknown_limit(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert (
        main(["facts", str(REPO / "inventory/small.yaml"), "--limit", "nope", "--state-dir", str(tmp_path)])
        == 2
    )
    assert "--limit names unknown hosts: nope" in capsys.readouterr().err


def test_console_script_is_installed() -> None:
    result = subprocess.run([sys.executable, "-m", "bootstrap", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("kubehaus ")
