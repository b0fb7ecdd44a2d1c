"""A real CEL evaluator for the lab's API server: cel-python, packaged for the machines' python3.

The stand-in API server evaluates ValidatingAdmissionPolicies with cel-python
(standin_tools/access.py). It runs on the machine's Debian python3, which has no cel-python
package, so the lab installs cel-python and its dependencies (lark, google-re2, pendulum,
jmespath, PyYAML and theirs; manylinux wheels from PyPI, nothing built) with pip into one
directory per Python minor the machines run (bookworm 3.11, trixie 3.13), cached on the host, and
serves them as one package, ``kubehaus-lab-cel``, that the kubeadm stand-in depends on. The API
server puts ``/usr/lib/kubehaus-standin/cel/py<X.Y>`` for its own Python on its path.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from .host import LabError, run

CEL_REQUIREMENT = "cel-python==0.5.0"
PACKAGE = "kubehaus-lab-cel"
VERSION = "0.5.0-1"
SITE_DIR = "usr/lib/kubehaus-standin/cel"  # + py<X.Y>, inside the machine (access.CEL_SITES)
PYTHONS = ("3.11", "3.13")  # Debian 12's and 13's python3
PLATFORMS = ("manylinux_2_28", "manylinux_2_17", "manylinux2014")
ARCHES = {"amd64": "x86_64", "arm64": "aarch64"}


def pip_command(target: Path, python: str, arch: str) -> list[str]:
    """pip installing cel-python's wheels for ``python`` on ``arch`` into ``target`` (no builds)."""
    tag = python.replace(".", "")
    platforms = [f"--platform={p}_{ARCHES[arch]}" for p in PLATFORMS]
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--target", str(target), "--only-binary=:all:", f"--python-version={python}",
        "--implementation=cp", f"--abi=cp{tag}", *platforms, CEL_REQUIREMENT,
    ]  # fmt: skip


def control_file(arch: str) -> str:
    return (
        f"Package: {PACKAGE}\nVersion: {VERSION}\nArchitecture: {arch}\nMaintainer: kubehaus lab\n"
        "Section: misc\nPriority: optional\n"
        f"Description: {CEL_REQUIREMENT} for the kubehaus lab's stand-in API server\n"
        " cel-python and its dependencies as PyPI's wheels, one directory per Python minor,\n"
        " for evaluating ValidatingAdmissionPolicy CEL in the lab. Not a Debian package.\n"
    )


def build_package(cache: Path, arch: str) -> Path:
    """The package (built once per requirement and architecture; cached under ``cache``)."""
    key = hashlib.sha256(f"{CEL_REQUIREMENT} {PYTHONS} {arch}".encode()).hexdigest()[:12]
    directory = cache / f"cel-{key}"
    deb = directory / f"{PACKAGE}_{VERSION}_{arch}.deb"
    if not deb.exists():
        shutil.rmtree(directory, ignore_errors=True)
        root = directory / "root"
        for python in PYTHONS:
            target = root / SITE_DIR / f"py{python}"
            result = subprocess.run(pip_command(target, python, arch), capture_output=True, text=True)
            if result.returncode != 0:
                raise LabError(
                    f"cannot fetch {CEL_REQUIREMENT} for Python {python} from PyPI: "
                    f"{result.stderr.strip()[-400:]}"
                )
            shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts pip wrote for the host
        (root / "DEBIAN").mkdir(parents=True)
        (root / "DEBIAN/control").write_text(control_file(arch))
        partial = deb.with_suffix(".partial")
        run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(partial)])
        partial.rename(deb)
        shutil.rmtree(root)
    return deb
