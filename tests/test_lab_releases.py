"""Lab machines on Debian 12 or 13, each release its own base image and mirror suite; a
DGX-OS-style machine whose driver comes as packages (no lab needed for these)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bootstrap.inventory.errors import InventoryError
from bootstrap.lab import base_image, mirror
from bootstrap.lab.machines import driver_package_names
from bootstrap.lab.profiles import build_machine
from bootstrap.lab.spec import parse_spec
from bootstrap.lab.standins import STANDINS, control_file

SPEC = """\
name: khos
subnet: 198.18.35.0/24
machines:
  - {name: cp-1, role: control-plane, profile: cpu-only}
  - {name: w-13, profile: cpu-only, release: trixie}
  - {name: dgxos-1, profile: dgx-h100, release: trixie, driver: packages}
"""


def test_a_machine_names_its_release_and_how_its_driver_is_there() -> None:
    spec = parse_spec(SPEC, "spec.yaml")
    assert [(m.release, m.driver) for m in spec.machines] == [
        ("bookworm", "files"), ("trixie", "files"), ("trixie", "packages")
    ]  # fmt: skip
    with pytest.raises(InventoryError) as refused:
        parse_spec(SPEC.replace("release: trixie}", "release: sid}", 1), "spec.yaml")
    assert any("'bookworm' or 'trixie'" in d.message for d in refused.value.diagnostics)


def test_each_release_has_its_own_base_image_and_bookworm_keeps_its_cache() -> None:
    bookworm, trixie = base_image.base_path(suite="bookworm"), base_image.base_path(suite="trixie")
    assert bookworm.name.startswith("base-bookworm-") and trixie.name.startswith("base-trixie-")
    assert base_image.base_path() == bookworm  # the default, named as before the releases
    with pytest.raises(ValueError, match="lab machines run Debian bookworm or trixie"):
        base_image.ensure_base(Path("/nonexistent"), suite="sid")


def test_each_release_has_its_mirror_suite_and_closure() -> None:
    assert mirror.suite_for("bookworm") == "kubehaus" and mirror.suite_for("trixie") == "kubehaus-trixie"
    assert " trixie main" in mirror.closure_sources("trixie")[0]
    assert mirror.closure_sources("trixie")[2].endswith("debian-security trixie-security main")
    assert all("bookworm" in line for line in mirror.closure_sources())


def test_the_driver_stand_in_comes_in_both_module_flavours_each_replacing_the_other() -> None:
    names = {s.package: s for s in STANDINS}
    for package, other in (("nvidia-open", "nvidia-driver"), ("nvidia-driver", "nvidia-open")):
        control = control_file(names[package], "580.95.05-1", "amd64")
        assert f"Conflicts: {other}\nReplaces: {other}\n" in control and control.startswith(
            f"Package: {package}\n"
        )


def test_a_dgx_os_style_machine_gets_the_packages_kubehaus_would_choose() -> None:
    assert driver_package_names(build_machine("d", "dgx-h100")) == ["nvidia-open", "nvidia-fabricmanager-580"]
    assert driver_package_names(build_machine("l", "l40s-pcie")) == ["nvidia-driver"]


def test_the_nvidia_open_stand_in_builds_with_the_simulated_library(tmp_path: Path) -> None:
    library = tmp_path / "libnvidia-ml.so.1"
    library.write_bytes(b"\x7fELF stand-in")
    deb = mirror.build_standin("nvidia-open", "580.95.05-1", tmp_path, tmp_path / "staging", library)
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "libnvidia-ml.so.1" in listing and "kubehaus-standin/nvidia-driver/version" in listing
    scripts = subprocess.run(["dpkg-deb", "-I", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "postinst" in scripts and "Conflicts: nvidia-driver" in scripts
