"""The containerd stand-in reads config like containerd 2.x; what kubehaus writes enables CRI, CDI, NRI."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.lab.standin_tools import containerd
from bootstrap.lab.standins import CONTAINERD_IO_CONFIG
from bootstrap.render.node_files import (
    containerd_config_is_pristine,
    containerd_drop_in,
    containerd_main_config,
)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(
        "bootstrap.lab.standin_tools.containerd.path", lambda p: str(tmp_path / p.lstrip("/"))
    )
    (tmp_path / "etc/containerd/conf.d").mkdir(parents=True)
    return tmp_path


def test_package_default_disables_cri(root: Path) -> None:
    (root / "etc/containerd/config.toml").write_text(CONTAINERD_IO_CONFIG)
    merged, _ = containerd.load(containerd.CONFIG)
    assert containerd.status_of(merged)["cri"] is False
    assert containerd_config_is_pristine(CONTAINERD_IO_CONFIG)


@pytest.mark.parametrize("version", ["2.1.4", "1.7.28"])
def test_kubehaus_main_config_and_drop_in_enable_everything(root: Path, version: str) -> None:
    main, drop_in = containerd_main_config(version), containerd_drop_in(version)
    (root / main.path.lstrip("/")).write_text(main.content)
    (root / drop_in.path.lstrip("/")).write_text(drop_in.content)
    (root / "etc/containerd/conf.d/10-someone-else.toml").write_text(
        f"version = {3 if version.startswith('2') else 2}\n[plugins.x]\n  keep = true\n"
    )
    merged, files = containerd.load(containerd.CONFIG)
    assert containerd.status_of(merged) == {
        "cri": True,
        "cdi": True,
        "cdi_spec_dirs": ["/etc/cdi", "/var/run/cdi"],
        "nri": True,
        "systemd_cgroup": True,
    }
    assert merged["plugins"]["x"] == {"keep": True}  # what others added survives
    assert len(files) == 3
    assert not containerd_config_is_pristine(main.content)


def test_a_customised_config_is_not_pristine() -> None:
    assert not containerd_config_is_pristine('disabled_plugins = []\nroot = "/data/containerd"\n')
