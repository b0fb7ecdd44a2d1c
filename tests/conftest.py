"""Shared fixtures. gevent must patch the standard library before pyinfra is imported."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import bootstrap.greenlets  # noqa: F401  (first: patches sockets before pyinfra loads)

from .lab_fixture import apply_lab, lab  # noqa: F401  (fixtures)
from .probe_helpers import sim_library  # noqa: F401  (session fixture)
from .sshd import LoopbackSSHD, start_sshd, unavailable_reason

REPO = Path(__file__).resolve().parent.parent
SHARED_REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture(scope="session", autouse=True)
def controller_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """What the controller caches (the cut-down pynvml) goes under the test run's temporary tree."""
    path = tmp_path_factory.mktemp("controller-cache")
    previous = os.environ.get("KUBEHAUS_CONTROLLER_CACHE_DIR")
    os.environ["KUBEHAUS_CONTROLLER_CACHE_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("KUBEHAUS_CONTROLLER_CACHE_DIR", None)
    else:
        os.environ["KUBEHAUS_CONTROLLER_CACHE_DIR"] = previous


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """Upstream data (CRDs, chart values) beside the checkout; required in CI, never copied."""
    if not SHARED_REFERENCE.is_dir():
        message = f"{SHARED_REFERENCE} is missing (the upstream reference data lives beside the checkout)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_REFERENCE


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[LoopbackSSHD]:
    """A real OpenSSH server on 127.0.0.1 with a fresh host key, stopped after the test."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = start_sshd(tmp_path / "sshd")
    try:
        yield server
    finally:
        server.stop()
