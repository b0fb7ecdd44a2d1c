"""The add-on data kubehaus carries (bootstrap/lab/addon_data.py) against the upstream files.

The lab's stand-in charts, CRDs and Dranet install are built from kubehaus's own data; these tests
hold that data to ../shared/reference (required under CI=true, see conftest.py), so the two cannot
drift apart. The files area built from it is also checked end to end with the stand-in helm and API
server, with no reference data at all, as a user's clone has.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bootstrap.compat.check import addon_release
from bootstrap.inventory import defaults
from bootstrap.inventory.models import Addons, KaiScheduler, KaiTopology
from bootstrap.lab import addon_data, files_area
from bootstrap.lab.host import LabError
from bootstrap.lab.standin_tools import apiserver, helm
from bootstrap.lab.standin_tools.validation import Invalid, Schemas
from bootstrap.lab.standins import kubernetes_schema_bundle
from bootstrap.render.addons import (
    dra_gpu_driver_values,
    dranet_device_class,
    dranet_values,
    kai_queues,
    kai_topology,
    kai_values,
    pin_dranet_image,
)

REPO = Path(__file__).resolve().parent.parent
# the schema keywords a CRD field's data must carry exactly as upstream has them
KEYWORDS = ("type", "enum", "default", "pattern", "minLength", "maxLength", "minItems", "maxItems", "format")
JSON_TYPES = {"boolean": bool, "string": str, "integer": int, "number": (int, float)}


def values_file(reference: Path, chart: addon_data.ChartData) -> Path:
    return reference / f"chart-values-{chart.name}-v{chart.version.lstrip('v')}.yaml"


def crd_file(reference: Path, crd: addon_data.Crd, version: str) -> Path:
    found = sorted((reference / "crds").glob(f"*-v{version.lstrip('v')}-{crd.group}_{crd.plural}.yaml"))
    assert len(found) == 1, f"no single upstream CRD for {crd.name} at {version}: {found}"
    return found[0]


def lookup(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"upstream values have no {dotted}"
        node = node[part]
    return node


def flatten(schema: dict[str, Any], path: str = "") -> dict[str, tuple[dict[str, Any], bool]]:
    """Field path -> (its keywords, whether its parent requires it), below a schema node."""
    out: dict[str, tuple[dict[str, Any], bool]] = {}
    required = set(schema.get("required", []))
    for name, child in (schema.get("properties") or {}).items():
        here = f"{path}.{name}" if path else name
        out[here] = ({k: child[k] for k in KEYWORDS if k in child}, name in required)
        out.update(flatten(child, here))
    items = schema.get("items")
    if isinstance(items, dict):
        out[f"{path}[]"] = ({k: items[k] for k in KEYWORDS if k in items}, False)
        out.update(flatten(items, f"{path}[]"))
    return out


def spec_fields(schema: dict[str, Any]) -> dict[str, tuple[dict[str, Any], bool]]:
    return {p: v for p, v in flatten(schema).items() if p == "spec" or p.startswith("spec.")}


@pytest.mark.parametrize("chart", addon_data.CHARTS, ids=lambda c: c.name)
def test_chart_values_have_upstream_keys_types_and_defaults(
    chart: addon_data.ChartData, shared_reference: Path
) -> None:
    upstream = yaml.safe_load(values_file(shared_reference, chart).read_text())
    for key, value in chart.values.items():
        found = lookup(upstream, key)
        assert found == value.default and type(found) is type(value.default), (key, found, value)
        wanted = JSON_TYPES[value.type]
        assert isinstance(found, wanted) and not (value.type != "boolean" and isinstance(found, bool)), key


@pytest.mark.parametrize("chart", addon_data.CHARTS, ids=lambda c: c.name)
def test_chart_crds_match_upstream_field_for_field(
    chart: addon_data.ChartData, shared_reference: Path
) -> None:
    for crd in chart.crds:
        upstream = yaml.safe_load(crd_file(shared_reference, crd, chart.version).read_text())
        ours = addon_data.crd_object(crd)
        assert ours["metadata"]["name"] == upstream["metadata"]["name"]
        for key in ("group", "names", "scope"):
            assert ours["spec"][key] == upstream["spec"][key], (crd.name, key)
        served = {v["name"]: v for v in upstream["spec"]["versions"] if v.get("served")}
        assert list(served) == [crd.version], crd.name
        version = ours["spec"]["versions"][0]
        assert ("subresources" in version) == bool(served[crd.version].get("subresources")), crd.name
        theirs = served[crd.version]["schema"]["openAPIV3Schema"]
        mine = version["schema"]["openAPIV3Schema"]
        assert ("spec" in mine.get("required", [])) == ("spec" in theirs.get("required", [])), crd.name
        assert spec_fields(mine) == spec_fields(theirs), crd.name


def test_chart_rules_read_keys_the_chart_has(shared_reference: Path) -> None:
    for chart in addon_data.CHARTS:
        upstream = yaml.safe_load(values_file(shared_reference, chart).read_text())
        for refusal in chart.refusals:
            for key in {**refusal.when, **refusal.unless}:
                if key != "namespace":
                    lookup(upstream, key)
                    assert key in chart.values, f"{chart.name}: a rule reads {key}, which the data lacks"


def test_dranet_install_matches_upstream(shared_reference: Path) -> None:
    upstream = [
        d
        for d in yaml.safe_load_all(
            (shared_reference / f"dranet-{addon_data.DRANET.version}-install.yaml").read_text()
        )
        if d
    ]
    ours = addon_data.dranet_objects()

    def ids(documents: list[dict]) -> list[tuple[str, str, str]]:
        return [(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace", "")) for d in documents]

    assert ids(ours) == ids(upstream)
    by_kind = {d["kind"]: d for d in upstream}
    mine = {d["kind"]: d for d in ours}
    assert mine["ClusterRole"]["rules"] == by_kind["ClusterRole"]["rules"]
    for kind in ("ClusterRoleBinding",):
        assert {k: v for k, v in mine[kind].items() if k != "metadata"} == {
            k: v for k, v in by_kind[kind].items() if k != "metadata"
        }
    theirs_spec, my_spec = (d["DaemonSet"]["spec"] for d in (by_kind, mine))
    assert my_spec["selector"] == theirs_spec["selector"]
    theirs_pod, my_pod = theirs_spec["template"]["spec"], my_spec["template"]["spec"]
    for key in ("hostNetwork", "hostPID", "serviceAccountName", "tolerations"):
        assert my_pod[key] == theirs_pod[key], key
    (theirs_agent,) = theirs_pod["containers"]
    (my_agent,) = my_pod["containers"]
    for key in ("name", "image", "args", "env", "securityContext"):
        assert my_agent[key] == theirs_agent[key], key


@pytest.mark.parametrize("pins", [defaults.LATE_2025, defaults.SEPTEMBER_2026], ids=["late-2025", "2026"])
def test_every_pinned_add_on_has_its_data(pins: dict[str, str]) -> None:
    """Both generations (the default pins and the ones an existing cluster migrates from)."""
    charts = {(c.name, c.version) for c in addon_data.CHARTS}
    manifests = {(m.name, m.version) for m in addon_data.MANIFESTS}
    for addon in ("dra_gpu_driver", "dranet", "kai_scheduler"):
        release = addon_release(addon, pins[addon])
        assert release is not None, addon
        wanted = (release.chart, pins[addon])
        assert wanted in (manifests if release.install == "manifest" else charts), wanted


def test_the_dranet_chart_data_agrees_with_its_values_schema(shared_reference: Path) -> None:
    """Each key's type is the upstream schema's, and the stand-in's defaults satisfy that schema."""
    upstream = json.loads((shared_reference / "chart-values-schema-dranet-v1.4.0.json").read_text())
    for key, value in addon_data.DRANET_CHART.values.items():
        node = upstream
        for part in key.split("."):
            node = node["properties"][part]
        assert value.type in ([node["type"]] if isinstance(node["type"], str) else node["type"]), key
        assert value.default in node.get("enum", [value.default]), key
    jsonschema.validate(addon_data.nested(addon_data.DRANET_CHART.values), upstream)
    installed = addon_data.dranet_chart_objects(addon_data.nested(addon_data.DRANET_CHART.values))
    (daemonset,) = [o for o in installed if o["kind"] == "DaemonSet"]
    image = daemonset["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"registry.k8s.io/networking/dranet:{addon_data.DRANET_CHART.version}"  # appVersion


def test_the_2026_charts_are_the_upstream_releases_kubehaus_pins() -> None:
    for chart in addon_data.CHARTS:
        addon = {"dra-driver-nvidia-gpu": "dra_gpu_driver", "nvidia-dra-driver-gpu": "dra_gpu_driver",
                 "dranet": "dranet", "kai-scheduler": "kai_scheduler"}[chart.name]  # fmt: skip
        release = addon_release(addon, chart.version)
        assert release is not None and release.known == chart.version and release.chart == chart.name


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    area = tmp_path_factory.mktemp("files")
    files_area.build_files_area(area)
    return area


def test_the_files_area_is_complete_and_indexed(files: Path) -> None:
    index = json.loads((files / "index.json").read_text())["files"]
    assert set(files_area.wanted_files()) <= set(index)


def test_a_files_area_missing_a_chart_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(
        LabError, match=r"KAI scheduler chart v0\.12\.0 \(files/charts/kai-scheduler-v0\.12\.0\.tgz\)"
    ):
        files_area.build_files_area(tmp_path, charts=(addon_data.DRA_CHART,))
    with pytest.raises(LabError, match="Dranet's install manifest"):
        files_area.build_files_area(tmp_path / "b", manifests=())


def chart_file(files: Path, chart: addon_data.ChartData) -> dict:
    return helm.load_chart(str(files / "charts" / f"{chart.name}-{chart.version}.tgz"))


GENERATIONS = [
    (defaults.LATE_2025, addon_data.LATE_2025_CHARTS),
    (defaults.SEPTEMBER_2026, addon_data.CHARTS_2026),
]


@pytest.mark.parametrize(("pins", "charts"), GENERATIONS, ids=["late-2025", "2026"])
def test_the_charts_take_what_kubehaus_renders_and_refuse_a_wrong_type(
    files: Path, pins: dict[str, str], charts: tuple[addon_data.ChartData, ...]
) -> None:
    server = pins["kubernetes"]
    by_name = {c.name: chart_file(files, c) for c in charts}
    dra_name = next(name for name in by_name if "dra-driver" in name)
    for compute_domains in (False, True):
        values = dra_gpu_driver_values(
            Addons.model_validate({"dra_gpu_driver": {"compute_domains": compute_domains}})
        )
        dra = by_name[dra_name]
        helm.check_chart(dra, "nvidia-dra-driver-gpu", values, helm.deep_merge(dra["values"], values), server)
    kai = by_name["kai-scheduler"]
    helm.check_chart(kai, "kai-scheduler", kai_values(), helm.deep_merge(kai["values"], kai_values()), server)
    if "dranet" in by_name:
        dranet = by_name["dranet"]
        values = dranet_values(pins["dranet"])
        helm.check_chart(dranet, "kube-system", values, helm.deep_merge(dranet["values"], values), server)
        with pytest.raises(SystemExit):
            bad = {"image": {"tag": 140}}
            helm.check_chart(dranet, "kube-system", bad, helm.deep_merge(dranet["values"], bad), server)
    wrong = {"gpuResourcesEnabledOverride": "yes"}
    with pytest.raises(SystemExit):
        helm.check_chart(dra, dra_name, wrong, helm.deep_merge(dra["values"], wrong), server)
    with pytest.raises(SystemExit):  # the chart's namespace rule
        helm.check_chart(dra, "default", {}, dra["values"], server)


def make_store(tmp_path: Path, kubernetes: str) -> apiserver.Store:
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(apiserver.new_state(kubernetes, "198.18.0.10:6443", {})))
    return apiserver.Store(
        str(state_file), Schemas(json.loads(kubernetes_schema_bundle(f"{kubernetes}-1.1")))
    )


@pytest.mark.parametrize(("pins", "charts"), GENERATIONS, ids=["late-2025", "2026"])
def test_the_api_server_takes_the_stand_ins_and_what_kubehaus_renders(
    files: Path, tmp_path: Path, pins: dict[str, str], charts: tuple[addon_data.ChartData, ...]
) -> None:
    """Each generation's CRDs and objects, on the API server (real schemas) of its Kubernetes."""
    store = make_store(tmp_path, pins["kubernetes"])
    loaded = [chart_file(files, c) for c in charts]
    store.apply([crd for c in loaded for crd in c["crds"]], dry_run=False)
    store.apply([o for c in loaded for o in c["standin"]["objects"]], dry_run=False)
    if pins["dranet"] == addon_data.DRANET.version:
        manifest = (files / "manifests" / f"dranet-{pins['dranet']}-install.yaml").read_text()
        dranet = [d for d in yaml.safe_load_all(manifest) if d]
        store.apply(pin_dranet_image(dranet, pins["dranet"]), dry_run=False)
    kai = KaiScheduler.model_validate(
        {
            "queues": [
                {"name": "research", "resources": {"gpu": {"quota": 8}}},
                {"name": "a", "parent": "research"},
            ]
        }
    )
    aliases = {"block": "nvl-block", "hostname": "host"} if pins is defaults.SEPTEMBER_2026 else {}
    topology = KaiTopology(name="t", levels=["block", "rack"], aliases=aliases)
    rendered = [*kai_queues(kai), kai_topology(topology, True)]
    assert {r["action"] for r in store.apply([*rendered, dranet_device_class()], dry_run=False)} == {
        "created"
    }
    wrong = {"apiVersion": "kai.scheduler/v1alpha1", "kind": "Topology", "metadata": {"name": "u"},
             "spec": {"levels": [{"nodeLabel": "x", "weight": 3}]}}  # fmt: skip
    with pytest.raises(Invalid, match="weight"):
        store.apply([wrong], dry_run=False)
    with pytest.raises(Invalid, match="levels"):
        store.apply([{**wrong, "spec": {"levels": []}}], dry_run=False)
    if not aliases:  # the v0.12.0 CRD has no alias: the server refuses one
        aliased = {**wrong, "spec": {"levels": [{"nodeLabel": "x", "alias": "y"}]}}
        with pytest.raises(Invalid, match="alias"):
            store.apply([aliased], dry_run=False)


def test_the_product_never_reads_beside_the_checkout() -> None:
    """No module under bootstrap/ or deploys/ names ../shared as a path (docstrings may cite it)."""
    offenders = []
    for package in ("bootstrap", "deploys"):
        for source in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(source.read_text())):
                text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""
                if "\n" not in text and ("../shared" in text or "shared/reference" in text):
                    offenders.append(f"{source.relative_to(REPO)}:{node.lineno}: {text!r}")
                if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):  # path / "shared"
                    for side in (node.left, node.right):
                        if isinstance(side, ast.Constant) and side.value == "shared":
                            offenders.append(f"{source.relative_to(REPO)}:{node.lineno}: / 'shared'")
    assert offenders == []
