"""Build the simulated libnvidia-ml.so.1 with the host's gcc, cached by source hash."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from importlib import resources
from pathlib import Path

SOURCE = "sim_nvml.c"
LIBRARY = "libnvidia-ml.so.1"


def source_text() -> str:
    return resources.files(__package__).joinpath(SOURCE).read_text(encoding="utf-8")


def build_sim_nvml(cache_dir: Path) -> Path:
    """Compile (once per source version) and return the path of libnvidia-ml.so.1."""
    text = source_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    target = cache_dir / f"sim-nvml-{digest}" / LIBRARY
    if target.exists():
        return target
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise RuntimeError("the lab needs gcc to build its simulated NVML library (apt-get install gcc)")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = target.parent / SOURCE
    source.write_text(text, encoding="utf-8")
    partial = target.with_suffix(".tmp")
    result = subprocess.run(
        [
            compiler,
            "-shared",
            "-fPIC",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-Wl,-soname," + LIBRARY,
            "-o",
            str(partial),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"building the simulated NVML failed:\n{result.stderr}")
    partial.rename(target)
    return target
