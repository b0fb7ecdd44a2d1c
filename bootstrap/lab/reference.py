"""Where the upstream reference data lives (../shared/reference beside the checkout).

The lab reads upstream chart values, CRDs and install manifests from there to build its
stand-in charts; they are data, never copied into the project.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "KUBEHAUS_REFERENCE_DIR"


def reference_dir() -> Path | None:
    configured = os.environ.get(ENV)
    if configured:
        return Path(configured)
    candidate = Path(__file__).resolve().parents[3] / "shared" / "reference"
    return candidate if candidate.is_dir() else None
