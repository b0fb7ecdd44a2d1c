"""The lab refuses clearly where it cannot run, before touching anything."""

from __future__ import annotations

import pytest

from bootstrap.cli import main
from bootstrap.lab import host
from bootstrap.lab.host import LabError, preflight


def test_refuses_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host.platform, "system", lambda: "Linux")
    monkeypatch.setattr(host.os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root"):
        preflight()


def test_refuses_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host.platform, "system", lambda: "Darwin")
    with pytest.raises(LabError, match="needs Linux"):
        preflight()


def test_names_missing_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host.platform, "system", lambda: "Linux")
    monkeypatch.setattr(host.os, "geteuid", lambda: 0)
    monkeypatch.setattr(
        host.shutil, "which", lambda tool: None if tool in ("systemd-nspawn", "debootstrap") else "/x"
    )
    with pytest.raises(LabError, match="apt-get install debootstrap systemd-container"):
        preflight()


def test_lab_up_reports_the_refusal_and_exits_1(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(host.platform, "system", lambda: "Linux")
    monkeypatch.setattr(host.os, "geteuid", lambda: 1000)
    assert main(["lab", "up"]) == 1
    assert "lab up: the lab needs root" in capsys.readouterr().err


def test_a_bad_lab_spec_is_located_and_exits_2(tmp_path, capsys) -> None:
    spec = tmp_path / "lab.yaml"
    spec.write_text("machines:\n  - {name: a, role: control-plane, profile: dgx-h300}\n")
    assert main(["lab", "up", str(spec)]) == 2
    assert f"{spec}:2:" in capsys.readouterr().err
