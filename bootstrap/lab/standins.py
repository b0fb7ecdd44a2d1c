"""Stand-in packages for software this project cannot download (NVIDIA, Kubernetes, helm, ...).

Same package names, versions, file paths and systemd units as the real ones, and each says plainly
what it is: the package description starts with STAND-IN and every binary's ``--version`` says
"kubehaus lab stand-in". Every version on the migration path (both pinned generations, each
Kubernetes minor between them, the upgrade tests' steps), so upgrades can be tested.

The Kubernetes tools have behaviour and state (``standin_tools/``): kubeadm forms a cluster whose
API store lives on the first control plane and serves the Kubernetes REST API to the real kubectl
(Debian's build, ``real_kubectl.py``; no kubectl stand-in is left), the kubelet refuses bad
configurations, helm validates what it is given. The NVIDIA packages install daemons that idle and
report their version where the real ones do; the hardware itself is simulated by the lab (sysfs,
NVML).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..compat import matrix
from ..inventory import defaults
from ..inventory.versions import Version
from .standin_tools.validation import make_bundle

TOOLS_DIR = Path(__file__).parent / "standin_tools"
LIB = "usr/lib/kubehaus-standin"
NVIDIA_MODULE_STATE = "/run/kubehaus-lab/nvidia-module"  # the "loaded kernel module" version
CONTROL_PLANE_UNIT = "kubehaus-standin-control-plane.service"
ETCD_UNIT = "kubehaus-standin-etcd.service"
# Debian's etcd-server starts its own default member (127.0.0.1:2379, data in
# /var/lib/etcd/default) on install; kubeadm's member takes those ports and /var/lib/etcd on a
# control plane, and a worker has no etcd at all: the lab's kubeadm turns Debian's off, removing
# the empty member it made, so kubeadm's preflight finds /var/lib/etcd empty as on a real node.
KUBEADM_POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
  systemctl disable --now etcd.service >/dev/null 2>&1 || true
  rm -rf /var/lib/etcd/default
fi
"""


@dataclass(frozen=True)
class StandIn:
    package: str
    versions: tuple[str, ...]
    summary: str
    depends: tuple[str, ...] = ()
    python_tools: dict[str, str] = field(default_factory=dict)  # binary -> standin_tools module
    banners: dict[str, str] = field(default_factory=dict)  # binary -> what --version prints (daemons)
    units: dict[str, str] = field(default_factory=dict)  # unit file path -> content
    conffiles: dict[str, str] = field(default_factory=dict)  # /etc path -> default content
    scripts: tuple[str, ...] = ()  # binaries with identity only
    postinst: str = ""  # the package's postinst script, if it has one
    conflicts: tuple[str, ...] = ()  # packages it replaces (the driver's two module flavours)


def _unit(description: str, exec_start: str, extra: str = "") -> str:
    return (
        f"[Unit]\nDescription={description} (kubehaus lab stand-in)\n\n"
        f"[Service]\nExecStart={exec_start}\n{extra}\n[Install]\nWantedBy=multi-user.target\n"
    )


KUBEADM_DROP_IN = """# kubeadm's kubelet drop-in, as the real kubeadm package ships it (kubehaus lab stand-in)
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \\
  --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS \\
  $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""
# The extra step each upgrade lab test takes (tests/test_upgrade_lab.py, test_drain_lab.py): a patch
# within a minor and a driver patch on the same branch.
UPGRADE_STEPS = {"kubernetes": "1.35.0", "nvidia_driver": "580.105.08", "container_toolkit": "1.18.1"}


def _generations(key: str) -> list[str]:
    """The version of one component in each pinned generation and the upgrade tests' step."""
    found = [defaults.LATE_2025[key], defaults.SEPTEMBER_2026[key], UPGRADE_STEPS.get(key, "")]
    return sorted({v for v in found if v}, key=Version)


def kubernetes_versions() -> list[str]:
    """Every Kubernetes version on the migration path the lab can walk: both generations' pins, the
    upgrade tests' step, and each minor between them at its latest known patch (compat matrix), so
    a late-2025 cluster reaches the 2026 default one minor per apply, as kubeadm requires."""
    pins = _generations("kubernetes")
    low, high = Version(pins[0]).minor, Version(pins[-1]).minor
    between = [k.latest_patch for k in matrix.KUBERNETES if low < Version(k.minor).minor <= high]
    return sorted({*pins, *between}, key=Version)


def kubernetes_minors() -> list[str]:
    return sorted({".".join(v.split(".")[:2]) for v in kubernetes_versions()}, key=Version)


def _debs(versions: list[str], revision: str) -> tuple[str, ...]:
    return tuple(f"{v}{revision}" for v in versions)


KUBERNETES_DEBS = _debs(kubernetes_versions(), "-1.1")  # pkgs.k8s.io's revision
DRIVER_DEBS = _debs(_generations("nvidia_driver"), "-1")


def _nvidia_driver(package: str, flavour: str, conflicts: str) -> StandIn:
    """The driver in one kernel-module flavour (NVIDIA's Debian names: nvidia-open, nvidia-driver);
    the two ship the same files, as the real ones do, so each replaces the other."""
    return StandIn(
        package,
        DRIVER_DEBS,
        f"NVIDIA driver, {flavour} kernel modules (the lab simulates the GPUs and libnvidia-ml itself)",
        scripts=("nvidia-smi",),
        banners={"nvidia-persistenced": "nvidia-persistenced:  version {upstream}"},
        units={
            "lib/systemd/system/nvidia-persistenced.service": _unit(
                "NVIDIA Persistence Daemon", "/usr/bin/nvidia-persistenced"
            )
        },
        conflicts=(conflicts,),
    )


NVIDIA_DRIVERS = ("nvidia-driver", "nvidia-open")  # the stand-ins that carry the simulated driver
STANDINS: tuple[StandIn, ...] = (
    _nvidia_driver("nvidia-driver", "proprietary", "nvidia-open"),
    _nvidia_driver("nvidia-open", "open", "nvidia-driver"),
    StandIn(
        "nvidia-fabricmanager-580",
        DRIVER_DEBS,
        "NVIDIA fabric manager",
        banners={"nv-fabricmanager": "Fabric Manager version is : {upstream}"},
        units={
            "lib/systemd/system/nvidia-fabricmanager.service": _unit(
                "NVIDIA fabric manager service", "/usr/bin/nv-fabricmanager"
            )
        },
    ),
    StandIn(
        "nvidia-container-toolkit",
        _debs(_generations("container_toolkit"), "-1"),
        "NVIDIA container toolkit",
        scripts=("nvidia-ctk",),
    ),
    StandIn(
        "kubelet",
        KUBERNETES_DEBS,
        "Kubernetes node agent",
        depends=(
            "python3-yaml",
            "python3-grpcio",  # its CRI call to the real containerd
            "conntrack",
            "iptables",
            "ethtool",
            "ebtables",
            "socat",
            "kubernetes-cni",  # Debian's real CNI plugins (real_packages.py)
        ),
        python_tools={"kubelet": "kubelet"},
        units={
            "usr/lib/systemd/system/kubelet.service": _unit(
                "kubelet: The Kubernetes Node Agent", "/usr/bin/kubelet", "Restart=always\nRestartSec=10\n"
            )
        },
    ),
    StandIn(
        "kubeadm",
        KUBERNETES_DEBS,
        "Kubernetes cluster bootstrapping tool (its stand-in control plane is a small API store)",
        # etcd-server/-client: the lab runs kubeadm's etcd member for real (standin_tools/etcd.py);
        # openssl: the cluster's CA and the API server's serving certificate (standin_tools/pki.py)
        depends=(
            "python3-yaml",
            "python3-jsonschema",
            "python3-grpcio",
            "python3-cryptography",
            "cri-tools",
            "etcd-server",
            "etcd-client",
            "openssl",
            "kubehaus-lab-cel",  # cel-python for the API server's admission policies (cel_package.py)
        ),
        python_tools={"kubeadm": "kubeadm"},
        units={
            "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf": KUBEADM_DROP_IN,
            f"usr/lib/systemd/system/{CONTROL_PLANE_UNIT}": _unit(
                "Kubernetes control plane",
                f"/usr/bin/env PYTHONPATH=/{LIB}/kubeadm python3 -m standin_tools.apiserver "
                f"--schemas /{LIB}/kubeadm/kubernetes-schemas.json",
                "Restart=always\nRestartSec=1\n",
            ),
            f"usr/lib/systemd/system/{ETCD_UNIT}": _unit(
                "etcd, kubeadm's local member (its static pod's command)",
                f"/usr/bin/env PYTHONPATH=/{LIB}/kubeadm python3 -m standin_tools.etcd run",
                "Restart=always\nRestartSec=2\n",
            ),
        },
        postinst=KUBEADM_POSTINST,
    ),
    StandIn(
        "cri-tools",
        _debs([f"{minor}.0" for minor in kubernetes_minors()], "-1.1"),
        "CRI command-line tools",
        scripts=("crictl",),
    ),
    StandIn(
        "helm",
        ("3.19.0-1", "3.19.2-1"),
        "Kubernetes package manager",
        depends=("python3-yaml", "python3-jsonschema"),
        python_tools={"helm": "helm"},
    ),
)


def binaries(standin: StandIn) -> list[str]:
    """Every command a stand-in package puts in /usr/bin."""
    return [*standin.scripts, *standin.banners, *standin.python_tools]


def control_file(standin: StandIn, version: str, arch: str) -> str:
    depends = f"Depends: {', '.join(standin.depends)}\n" if standin.depends else ""
    if standin.conflicts:
        names = ", ".join(standin.conflicts)
        depends += f"Conflicts: {names}\nReplaces: {names}\n"
    return (
        f"Package: {standin.package}\nVersion: {version}\nArchitecture: {arch}\n{depends}"
        "Maintainer: kubehaus lab <lab@kubehaus.invalid>\nSection: misc\nPriority: optional\n"
        f"Description: STAND-IN for kubehaus lab tests: not the real {standin.summary}\n"
        " This package only imitates the real one's name, version, paths, units and command line\n"
        " so kubehaus can be tested without downloading it. It is not the real software.\n"
    )


def _identity_script(package: str, binary: str, version: str) -> str:
    upstream = version.split("-")[0]
    return f"""#!/bin/sh
# kubehaus lab stand-in for {binary} ({package} {version}). Not the real software.
for arg in "$@"; do
  case "$arg" in --version|version|-v|-version)
    echo "{binary} {upstream} (kubehaus lab stand-in, package {package} {version})"; exit 0 ;;
  esac
done
echo "{binary} (kubehaus lab stand-in {version}): '$*' is not simulated" >&2
exit 3
"""


def _daemon_script(banner: str) -> str:
    return f"""#!/bin/sh
# kubehaus lab stand-in daemon: idles like the real service; not NVIDIA software.
case "$1" in --version|-v) echo "{banner}"; exit 0 ;; esac
exec sleep infinity
"""


def _python_wrapper(package: str, version: str, module: str) -> str:
    return f"""#!/bin/sh
# kubehaus lab stand-in ({package} {version}); the behaviour is in /{LIB}/{package}. Not the real software.
export KUBEHAUS_STANDIN_PACKAGE={package} KUBEHAUS_STANDIN_VERSION={version}
PYTHONPATH=/{LIB}/{package} exec python3 -m standin_tools.{module} "$@"
"""


def tool_sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(TOOLS_DIR.glob("*.py"))}


def kubernetes_schema_bundle(version: str) -> str:
    """Real OpenAPI schemas (strict) of this Kubernetes minor, from kubernetes-validate's data."""
    minor = ".".join(version.split("-")[0].split(".")[:2])
    base = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    source = base / f"v{minor}.0-local-strict" / "_definitions.json"
    if not source.is_file():
        raise FileNotFoundError(f"kubernetes-validate has no schemas for Kubernetes {minor}")
    return json.dumps(make_bundle(json.loads(source.read_text()), minor), separators=(",", ":"))


def kubeadm_image_list(upstream: str) -> list[str]:
    """What ``kubeadm config images list`` prints for this Kubernetes version: the stand-in carries
    it as data (real kubeadm computes it from its constants), from the same facts as mirror list."""
    from ..render.images import Gap, kubeadm_images

    images = kubeadm_images(upstream)
    if isinstance(images, Gap):
        raise ValueError(f"a kubeadm stand-in {upstream} needs {images.what} in bootstrap/compat/matrix.py")
    return [image.reference for image in images]


def package_files(standin: StandIn, version: str) -> dict[str, tuple[str, int]]:
    """Files of one stand-in version: path -> (content, mode)."""
    upstream = version.split("-")[0]
    files: dict[str, tuple[str, int]] = {
        f"usr/bin/{binary}": (_identity_script(standin.package, binary, version), 0o755)
        for binary in standin.scripts
    }
    for binary, banner in standin.banners.items():
        files[f"usr/bin/{binary}"] = (_daemon_script(banner.format(upstream=upstream)), 0o755)
    if standin.python_tools:
        for name, source in tool_sources().items():
            files[f"{LIB}/{standin.package}/standin_tools/{name}"] = (source, 0o644)
        for binary, module in standin.python_tools.items():
            files[f"usr/bin/{binary}"] = (_python_wrapper(standin.package, version, module), 0o755)
    if standin.package == "kubeadm":
        files[f"{LIB}/kubeadm/kubernetes-schemas.json"] = (kubernetes_schema_bundle(version), 0o644)
        files[f"{LIB}/kubeadm/images.json"] = (json.dumps(kubeadm_image_list(upstream)), 0o644)
    for unit, content in standin.units.items():
        files[unit] = (content, 0o644)
    for conffile, content in standin.conffiles.items():
        files[conffile] = (content, 0o644)
    files[f"usr/share/doc/{standin.package}/STAND-IN"] = (
        f"{standin.package} {version}: a kubehaus lab stand-in, not the real {standin.summary}.\n",
        0o644,
    )
    if standin.package in NVIDIA_DRIVERS:
        # the library's version, which the simulated NVML compares with the "loaded module" (see
        # NVIDIA_MODULE_UNIT): after an upgrade they differ until the machine reboots
        files[f"{LIB}/nvidia-driver/version"] = (upstream + "\n", 0o644)
    return files
