"""The helm stand-in's chart checks, with the lab's stand-in charts built from kubehaus's add-on data."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import yaml

from bootstrap.inventory.models import Addons
from bootstrap.lab import files_area
from bootstrap.lab.standin_tools import helm
from bootstrap.render.addons import dra_gpu_driver_values


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = tmp_path_factory.mktemp("files")
    files_area.build_files_area(files)
    return files / "charts"


def load(charts: Path, name: str) -> dict:
    return helm.load_chart(str(next(charts.glob(f"{name}-*.tgz"))))


def check(chart: dict, namespace: str, values: dict) -> None:
    helm.check_chart(chart, namespace, values, helm.deep_merge(chart["values"], values), "1.34.2")


def test_kubehaus_dra_values_pass_the_chart(charts: Path) -> None:
    chart = load(charts, "nvidia-dra-driver-gpu")
    assert chart["meta"]["version"] == "25.8.1" and chart["crds"][0]["kind"] == "CustomResourceDefinition"
    check(chart, "nvidia-dra-driver-gpu", dra_gpu_driver_values(Addons()))


def test_gpu_resources_without_the_override_are_refused(charts: Path) -> None:
    chart = load(charts, "nvidia-dra-driver-gpu")
    with pytest.raises(SystemExit):
        check(chart, "nvidia-dra-driver-gpu", {"resources": {"gpus": {"enabled": True}}})


def test_the_default_namespace_is_refused(charts: Path) -> None:
    chart = load(charts, "nvidia-dra-driver-gpu")
    with pytest.raises(SystemExit):
        check(chart, "default", dra_gpu_driver_values(Addons()))


def test_a_misspelt_values_key_is_refused(charts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chart = load(charts, "kai-scheduler")
    with pytest.raises(SystemExit):
        check(chart, "kai-scheduler", {"defaultQueue": {"createDefaultQeue": False}})
    assert "defaultQueue.createDefaultQeue" in capsys.readouterr().err


def test_kube_version_constraint_is_checked(charts: Path) -> None:
    chart = load(charts, "nvidia-dra-driver-gpu")
    with pytest.raises(SystemExit):
        helm.check_chart(chart, "x", {}, chart["values"], "1.31.0")


def test_stand_in_charts_say_what_they_are(charts: Path) -> None:
    for archive in charts.glob("*.tgz"):
        with tarfile.open(archive) as handle:
            member = next(m for m in handle.getmembers() if m.name.endswith("/Chart.yaml"))
            meta = yaml.safe_load(io.TextIOWrapper(handle.extractfile(member)))  # type: ignore[arg-type]
        assert meta["description"].startswith("STAND-IN")


def test_oci_references_fail_like_an_unreachable_registry() -> None:
    with pytest.raises(SystemExit):
        helm.load_chart("oci://ghcr.io/nvidia/kai-scheduler/kai-scheduler")
