"""The mirror's files area: Helm charts and manifests, laid out as kubehaus expects of any mirror.

    files/charts/<chart>-<version>.tgz        (helm upgrade --install <release> <url>)
    files/manifests/<name>-<version>.yaml     (kubectl apply -f <url>)
    files/index.json                          (every file with its sha256)

A production mirror holds the real artifacts. The lab builds stand-in charts from upstream data in
../shared/reference (the real chart's name, version, default values and CRDs; see
standin_tools/helm.py for what a stand-in chart cannot do) and serves Dranet's real install
manifest. The CNI has no upstream data here, so its manifest is a small stand-in that says so.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import yaml

from ..inventory import defaults
from .host import LabError
from .reference import ENV, reference_dir

DRA_CHART = "nvidia-dra-driver-gpu"
KAI_CHART = "kai-scheduler"
STANDIN_NOTE = "STAND-IN built by the kubehaus lab from the upstream chart's values and CRDs; no templates"


def _device_class(name: str, driver: str) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": name},
        "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{driver}"'}}]},
    }


def _queue(name: str, parent: str | None, resources: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"resources": resources}
    if parent:
        spec["parentQueue"] = parent
    return {"apiVersion": "scheduling.run.ai/v2", "kind": "Queue", "metadata": {"name": name}, "spec": spec}


def dra_chart_rules() -> dict[str, Any]:
    """What the real nvidia-dra-driver-gpu templates refuse, and what an install creates."""
    return {
        "refuse": [
            {
                "when": {"namespace": "default"},
                "unless": {"allowDefaultNamespace": True},
                "message": "installing into the default namespace is not supported: "
                "set allowDefaultNamespace",
            },
            {
                "when": {"resources.gpus.enabled": True},
                "unless": {"gpuResourcesEnabledOverride": True},
                "message": "resources.gpus.enabled needs gpuResourcesEnabledOverride=true (the GPU kubelet "
                "plugin must not run beside the classic device plugin)",
            },
        ],
        "objects": [
            _device_class("gpu.nvidia.com", "gpu.nvidia.com"),
            _device_class("mig.nvidia.com", "gpu.nvidia.com"),
            _device_class("compute-domain-daemon.nvidia.com", "compute-domain.nvidia.com"),
            _device_class("compute-domain-default-channel.nvidia.com", "compute-domain.nvidia.com"),
        ],
    }


def kai_chart_rules(values: dict[str, Any]) -> dict[str, Any]:
    default = values.get("defaultQueue", {})
    objects = []
    if default.get("createDefaultQueue"):
        objects = [
            _queue(default["parentName"], None, default["parentResources"]),
            _queue(default["childName"], default["parentName"], default["childResources"]),
        ]
    return {"refuse": [], "objects": objects}


def chart_archive(
    name: str, version: str, kube_version: str, values_text: str, crds: list[Path], rules: dict[str, Any]
) -> bytes:
    chart = {
        "apiVersion": "v2",
        "name": name,
        "version": version,
        "appVersion": version,
        "kubeVersion": kube_version,
        "description": STANDIN_NOTE,
    }
    members = {
        f"{name}/Chart.yaml": yaml.safe_dump(chart, sort_keys=False),
        f"{name}/values.yaml": values_text,
        f"{name}/kubehaus-standin.yaml": yaml.safe_dump(rules, sort_keys=False),
    }
    for crd in crds:
        members[f"{name}/crds/{crd.name}"] = crd.read_text()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def calico_standin(version: str) -> str:
    """The CNI's place in the flow (a DaemonSet in kube-system), valid against the real schemas."""
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": "calico-node",
            "namespace": "kube-system",
            "annotations": {"kubehaus.io/stand-in": "kubehaus lab stand-in for Calico's manifest"},
            "labels": {"k8s-app": "calico-node"},
        },
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "calico-node"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "calico-node"}},
                "spec": {
                    "hostNetwork": True,
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [{"name": "calico-node", "image": f"quay.io/calico/node:{version}"}],
                },
            },
        },
    }
    return "# kubehaus lab STAND-IN: not Calico's real manifest\n" + yaml.safe_dump(
        daemonset, sort_keys=False
    )


def build_files_area(files: Path, reference: Path | None = None) -> list[str]:
    """Write the files area; returns what could not be built (and why) so lab up can say so."""
    reference = reference or reference_dir()
    (files / "charts").mkdir(parents=True, exist_ok=True)
    (files / "manifests").mkdir(parents=True, exist_ok=True)
    missing: list[str] = []
    calico = defaults.CNI_VERSIONS["calico"]
    (files / "manifests" / f"calico-{calico}.yaml").write_text(calico_standin(calico))
    if reference is None:
        missing.append(f"charts and the Dranet manifest: no reference data (set {ENV})")
    else:
        dra_values = reference / f"chart-values-nvidia-dra-driver-gpu-v{defaults.DRA_GPU_DRIVER}.yaml"
        kai_values = reference / f"chart-values-kai-scheduler-{defaults.KAI_SCHEDULER}.yaml"
        dranet = reference / f"dranet-{defaults.DRANET}-install.yaml"
        for needed in (dra_values, kai_values, dranet):
            if not needed.is_file():
                raise LabError(f"reference file {needed} is missing")
        crds = reference / "crds"
        (files / "charts" / f"{DRA_CHART}-{defaults.DRA_GPU_DRIVER}.tgz").write_bytes(
            chart_archive(
                DRA_CHART,
                defaults.DRA_GPU_DRIVER,
                ">=1.32.0-0",
                dra_values.read_text(),
                sorted(crds.glob("nvidia-dra-driver-gpu-*.yaml")),
                dra_chart_rules(),
            )
        )
        (files / "charts" / f"{KAI_CHART}-{defaults.KAI_SCHEDULER}.tgz").write_bytes(
            chart_archive(
                KAI_CHART,
                defaults.KAI_SCHEDULER,
                ">=1.24.0-0",
                kai_values.read_text(),
                sorted(crds.glob("kai-*.yaml")),
                kai_chart_rules(yaml.safe_load(kai_values.read_text())),
            )
        )
        (files / "manifests" / f"dranet-{defaults.DRANET}-install.yaml").write_text(dranet.read_text())
    index = {
        str(p.relative_to(files)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(files.rglob("*"))
        if p.is_file() and p.name != "index.json"
    }
    (files / "index.json").write_text(
        json.dumps({"built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": index}, indent=1)
    )
    return missing
