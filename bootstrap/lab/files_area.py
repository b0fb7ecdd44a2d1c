"""The mirror's files area: Helm charts and manifests, laid out as kubehaus expects of any mirror.

    files/charts/<chart>-<version>.tgz        (helm upgrade --install <release> <url>)
    files/manifests/<name>-<version>.yaml     (kubectl apply -f <url>)
    files/index.json                          (every file with its sha256)

A production mirror holds the real artifacts. The lab builds stand-ins from the add-on data kubehaus
carries (addon_data.py: the real chart's name, version, the values keys kubehaus may set with their
types and defaults, what its templates refuse, its CRDs' fields; Dranet's install objects); see
standin_tools/helm.py for what a stand-in chart cannot do. Nothing outside the checkout is read. The
CNI's manifest is a small stand-in that says so. A files area that cannot be built completely is an
error naming what is missing: a lab without its charts cannot finish an apply.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from pathlib import Path

import yaml

from ..compat.check import addon_release
from ..inventory import defaults
from . import addon_data
from .addon_data import ChartData, ManifestData
from .host import LabError

STANDIN_NOTE = "STAND-IN built by the kubehaus lab from its own add-on data; no templates"


def chart_archive(chart: ChartData) -> bytes:
    """A chart .tgz: Chart.yaml, values.yaml (the keys kubehaus knows, upstream defaults), their
    types as values.schema.json, crds/, and kubehaus-standin.yaml (refusals, created objects)."""
    values = addon_data.nested(chart.values)
    meta = {
        "apiVersion": "v2",
        "name": chart.name,
        "version": chart.version,
        "appVersion": chart.version,
        "kubeVersion": chart.kube_version,
        "description": STANDIN_NOTE,
    }
    if not chart.kube_version:  # the chart states no Kubernetes range
        del meta["kubeVersion"]
    rules = {
        "refuse": [{"when": r.when, "unless": r.unless, "message": r.message} for r in chart.refusals],
        "objects": chart.creates(values),
    }
    members = {
        f"{chart.name}/Chart.yaml": yaml.safe_dump(meta, sort_keys=False),
        f"{chart.name}/values.yaml": yaml.safe_dump(values, sort_keys=False),
        f"{chart.name}/values.schema.json": json.dumps(addon_data.values_schema(chart.values), indent=1),
        f"{chart.name}/kubehaus-standin.yaml": yaml.safe_dump(rules, sort_keys=False),
    }
    for crd in chart.crds:
        members[f"{chart.name}/crds/{crd.group}_{crd.plural}.yaml"] = yaml.safe_dump(
            addon_data.crd_object(crd), sort_keys=False
        )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def manifest_text(manifest: ManifestData) -> str:
    header = (
        f"# kubehaus lab STAND-IN for {manifest.name} {manifest.version}'s install, from kubehaus's data\n"
    )
    return header + yaml.safe_dump_all(manifest.objects(), sort_keys=False)


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
                    "containers": [{"name": "calico-node", "image": f"docker.io/calico/node:{version}"}],
                },
            },
        },
    }
    return "# kubehaus lab STAND-IN: not Calico's real manifest\n" + yaml.safe_dump(
        daemonset, sort_keys=False
    )


TITLES = {
    "dra_gpu_driver": "the DRA GPU driver chart",
    "kai_scheduler": "the KAI scheduler chart",
    "dranet": "Dranet's chart",
}


def wanted_files() -> dict[str, str]:
    """Every file the lab's files area must hold, and what it is: each add-on at the pins of both
    generations (late 2025 and September 2026, inventory/defaults.py), so a cluster built on the
    old pins can be migrated, named as any mirror names them (render/sources.py)."""
    calico = defaults.CNI_VERSIONS["calico"]
    wanted = {}
    for pins in (defaults.LATE_2025, defaults.SEPTEMBER_2026):
        for addon, title in TITLES.items():
            version = pins[addon]
            release = addon_release(addon, version)  # type: ignore[arg-type]
            if release is None:
                raise LabError(
                    f"{addon} {version} (inventory/defaults.py) is not in the compatibility matrix"
                )
            if release.install == "manifest":
                wanted[f"manifests/{release.chart}-{version}-install.yaml"] = "Dranet's install manifest"
            else:
                wanted[f"charts/{release.chart}-{version}.tgz"] = f"{title} {version}"
    wanted[f"manifests/calico-{calico}.yaml"] = "the CNI (Calico) manifest"
    return wanted


def build_files_area(
    files: Path,
    charts: tuple[ChartData, ...] = addon_data.CHARTS,
    manifests: tuple[ManifestData, ...] = addon_data.MANIFESTS,
) -> None:
    """Write the files area; raise LabError naming every wanted file that could not be built."""
    (files / "charts").mkdir(parents=True, exist_ok=True)
    (files / "manifests").mkdir(parents=True, exist_ok=True)
    calico = defaults.CNI_VERSIONS["calico"]
    (files / "manifests" / f"calico-{calico}.yaml").write_text(calico_standin(calico))
    for chart in charts:
        (files / "charts" / f"{chart.name}-{chart.version}.tgz").write_bytes(chart_archive(chart))
    for manifest in manifests:
        (files / "manifests" / f"{manifest.name}-{manifest.version}-install.yaml").write_text(
            manifest_text(manifest)
        )
    missing = [
        f"{what} (files/{path})" for path, what in wanted_files().items() if not (files / path).is_file()
    ]
    if missing:
        raise LabError(
            "the mirror's files area is incomplete, kubehaus carries no data for: "
            + "; ".join(missing)
            + " (each pin in bootstrap/inventory/defaults.py needs its data in bootstrap/lab/addon_data.py)"
        )
    index = {
        str(p.relative_to(files)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(files.rglob("*"))
        if p.is_file() and p.name != "index.json"
    }
    (files / "index.json").write_text(
        json.dumps({"built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": index}, indent=1)
    )
