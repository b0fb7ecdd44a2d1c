"""The real kubectl, Debian sid's build, served by the lab mirror under the versions kubehaus pins.

kubehaus pins ``kubectl`` at the cluster's version (pkgs.k8s.io naming, ``1.34.2-1.1``); Debian has
one build, 1.36.4 (source ``kubernetes``; it needs only glibc 2.34, so the bookworm machines run
it). The mirror serves that binary, unchanged, as each pinned version of ``kubectl``, so apply's pin,
hold and upgrade logic meet what they meet on a real node, and every kubectl command kubehaus
issues runs through the real client against the lab's API server. What this cannot show: a client
at exactly the cluster's minor except on 1.36 (the lab's clusters run 1.34 to 1.37; kubectl supports
one minor of skew, and 1.36 against 1.34 is outside it, though every command kubehaus uses works).
"""

from __future__ import annotations

from pathlib import Path

from .host import LabError
from .real_packages import RealBuild, fetch_builds, repackaged
from .standins import KUBERNETES_DEBS

KUBECTL_BUILD = RealBuild("kubectl", "1.36.4+ds-1", "sid", "kubectl")
SERVED_VERSIONS = KUBERNETES_DEBS  # the lab's Kubernetes versions, as pkgs.k8s.io names them


def served_as(deb: Path, version: str, out_dir: Path) -> Path:
    """Debian's kubectl .deb with only its version (and a description that says so) changed."""
    return repackaged(
        deb,
        out_dir,
        {"Package": KUBECTL_BUILD.serve_as, "Version": version},
        f"Debian's kubectl {KUBECTL_BUILD.version} ({KUBECTL_BUILD.suite}), served as kubectl {version} "
        "by the kubehaus lab\n The real kubectl binary, unchanged; only the package version follows "
        "the pin kubehaus sets.",
        drop=("Built-Using", "Static-Built-Using"),
    )


def kubectl_packages(cache: Path) -> list[Path]:
    """The kubectl packages the mirror serves: the real build at each pinned version (cached)."""
    debs = fetch_builds(cache, (KUBECTL_BUILD,))
    if len(debs) != 1:
        raise LabError(f"the cached kubectl {KUBECTL_BUILD.version} under {cache} is incomplete: remove it")
    out_dir = debs[0].parent / "served"
    out_dir.mkdir(exist_ok=True)
    served = []
    for version in SERVED_VERSIONS:
        target = out_dir / f"kubectl_{version}_{debs[0].name.rsplit('_', 1)[-1]}"
        served.append(target if target.exists() else served_as(debs[0], version, out_dir))
    return served
