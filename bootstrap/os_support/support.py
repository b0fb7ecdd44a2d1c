"""A node's OS facts matched to a supported system, or refused before anything is changed (pure).

A cluster may mix systems: each node is judged on its own facts. The refusal names the host, the
system it runs and every system kubehaus supports, so the message alone says what to change.
"""

from __future__ import annotations

from collections.abc import Mapping

from .facts import OsFacts
from .systems import SUPPORTED, SupportedRelease


class UnsupportedOs(ValueError):
    """A node whose operating system or architecture kubehaus does not support."""


def supported_summary() -> str:
    """``Debian 12, 13 on amd64; Ubuntu 22.04, 24.04 (DGX OS 6, 7) on amd64, arm64``."""
    groups: dict[tuple[str, tuple[str, ...]], list[SupportedRelease]] = {}
    for release in SUPPORTED:
        groups.setdefault((release.distro, release.architectures), []).append(release)
    parts = []
    for (distro, arches), releases in groups.items():
        text = f"{'Debian' if distro == 'debian' else 'Ubuntu'} " + ", ".join(r.version_id for r in releases)
        dgx = [str(r.dgx_os) for r in releases if r.dgx_os is not None]
        if dgx:
            text += f" (DGX OS {', '.join(dgx)})"
        parts.append(f"{text} on {', '.join(arches)}")
    return "; ".join(parts)


def _release_for(facts: OsFacts) -> SupportedRelease | None:
    return next(
        (r for r in SUPPORTED if r.distro == facts.id and r.version_id == facts.version_id),
        None,
    )


def unsupported_reason(host: str, facts: OsFacts) -> str | None:
    """Why ``host`` cannot be bootstrapped on the OS it runs, or None where it can."""
    release = _release_for(facts)
    supported = f"kubehaus supports {supported_summary()}"
    if release is None:
        return f"{host}: {facts.describe()} is not supported: {supported}"
    if facts.architecture not in release.cuda_arch_dirs:
        return (
            f"{host}: {facts.describe()} is not supported: {release.name} on {facts.architecture} "
            f"has no NVIDIA CUDA repository kubehaus knows of; {supported}"
        )
    if facts.dgx_os_major is not None and facts.dgx_os_major != release.dgx_os:
        return (
            f"{host}: {facts.describe()} is not supported: DGX OS {facts.dgx_os_major} is not "
            f"the DGX OS of {release.name}; {supported}"
        )
    return None


def supported_release(host: str, facts: OsFacts) -> SupportedRelease:
    """The supported release a node runs; UnsupportedOs (with the refusal message) otherwise."""
    reason = unsupported_reason(host, facts)
    if reason is not None:
        raise UnsupportedOs(reason)
    release = _release_for(facts)
    assert release is not None
    return release


def unsupported_nodes(facts_by_host: Mapping[str, OsFacts]) -> list[str]:
    """Every refusal in a (possibly mixed) cluster, in host order; empty when all are supported."""
    return [
        reason
        for host, facts in facts_by_host.items()
        if (reason := unsupported_reason(host, facts)) is not None
    ]
