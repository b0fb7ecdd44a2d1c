"""Stand-in packages for software this project cannot download (NVIDIA, Kubernetes, helm, ...).

Same package names, versions and file paths as the real ones, and each says plainly what it is:
the package description starts with STAND-IN and every binary's ``--version`` says
"kubehaus lab stand-in". Two versions of each, so upgrades can be tested.

Built so far: identity (names, versions, paths, ``--version``). Not built yet: the behaviour the
apply issue needs (kubeadm init/join with state, kubelet config checks, kubectl/helm with
schema validation); those commands exit 3 saying they are not simulated yet.
"""

from __future__ import annotations

from dataclasses import dataclass

STANDIN_EXIT_UNSIMULATED = 3


@dataclass(frozen=True)
class StandIn:
    package: str
    versions: tuple[str, ...]
    summary: str
    binaries: tuple[str, ...] = ()


def _tool_script(package: str, binary: str, version: str) -> str:
    upstream = version.split("-")[0]
    return f"""#!/bin/sh
# kubehaus lab stand-in for {binary} ({package} {version}). Not the real software.
case "$1" in
  --version|version|-v|-version)
    echo "{binary} {upstream} (kubehaus lab stand-in, package {package} {version})"; exit 0 ;;
esac
for arg in "$@"; do
  case "$arg" in --version) echo "{binary} {upstream} (kubehaus lab stand-in)"; exit 0 ;; esac
done
echo "{binary} (kubehaus lab stand-in {version}): '$*' is not simulated yet" >&2
exit {STANDIN_EXIT_UNSIMULATED}
"""


STANDINS: tuple[StandIn, ...] = (
    StandIn("nvidia-driver", ("580.95.05-1", "580.105.08-1"), "NVIDIA driver", ("nvidia-smi",)),
    StandIn(
        "nvidia-fabricmanager-580",
        ("580.95.05-1", "580.105.08-1"),
        "NVIDIA fabric manager",
        ("nv-fabricmanager",),
    ),
    StandIn(
        "nvidia-container-toolkit", ("1.18.0-1", "1.18.1-1"), "NVIDIA container toolkit", ("nvidia-ctk",)
    ),
    StandIn(
        "containerd.io",
        ("2.1.4-1", "2.1.5-1"),
        "containerd with CDI and NRI (Debian's 1.6 has neither)",
        ("containerd", "ctr"),
    ),
    StandIn("kubelet", ("1.34.2-1.1", "1.35.0-1.1"), "Kubernetes node agent", ("kubelet",)),
    StandIn("kubeadm", ("1.34.2-1.1", "1.35.0-1.1"), "Kubernetes cluster bootstrapping tool", ("kubeadm",)),
    StandIn("kubectl", ("1.34.2-1.1", "1.35.0-1.1"), "Kubernetes command-line tool", ("kubectl",)),
    StandIn("cri-tools", ("1.34.0-1.1", "1.35.0-1.1"), "CRI command-line tools", ("crictl",)),
    StandIn("kubernetes-cni", ("1.7.1-1.1", "1.8.0-1.1"), "CNI plugins", ()),
    StandIn("helm", ("3.19.0-1", "3.19.2-1"), "Kubernetes package manager", ("helm",)),
)


def control_file(standin: StandIn, version: str, arch: str) -> str:
    return (
        f"Package: {standin.package}\nVersion: {version}\nArchitecture: {arch}\n"
        "Maintainer: kubehaus lab <lab@kubehaus.invalid>\nSection: misc\nPriority: optional\n"
        f"Description: STAND-IN for kubehaus lab tests: not the real {standin.summary}\n"
        " This package only imitates the real one's name, version, paths and command line so\n"
        " kubehaus can be tested without downloading it. It is not the real software.\n"
    )


def package_files(standin: StandIn, version: str) -> dict[str, tuple[str, int]]:
    """Files of one stand-in version: path -> (content, mode)."""
    files = {
        f"usr/bin/{binary}": (_tool_script(standin.package, binary, version), 0o755)
        for binary in standin.binaries
    }
    files[f"usr/share/doc/{standin.package}/STAND-IN"] = (
        f"{standin.package} {version}: a kubehaus lab stand-in, not the real {standin.summary}.\n",
        0o644,
    )
    if standin.package == "kubernetes-cni":
        for plugin in ("bridge", "host-local", "loopback", "portmap"):
            files[f"opt/cni/bin/{plugin}"] = (_tool_script(standin.package, plugin, version), 0o755)
    return files
