"""The cluster as the first control plane's admin credentials show it, read in discovery's one command.

On a no-op re-run five phases each asked the API server again (upgrade: nodes and version; join and
prune: the node names; labels: the nodes; addons: a server-side dry run per manifest and each Helm
release): twelve round trips to the first control plane. This read rides along in discovery's
command there and reuses the very facts those phases use (``KubernetesNodes``, ``ManifestPending``,
``HelmRelease``), so the two paths cannot disagree. All the manifests get one dry run together: when
it shows any change, none counts as read and each step dry-runs its own manifest as before. Its
answer is only as good as the moment it was read: apply trusts it until the run changes something
(``RunContext.cluster_view``); after that each phase reads afresh, as before.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from .facts import ApiServerVersion, HelmRelease, KaiQueues, KubernetesNodes, ManifestPending
from .node_state import sections

SECTION = "@@KUBEHAUS-CLUSTER "


@dataclass(frozen=True)
class ClusterQuery:
    """What to read: the nodes, the API server's version, each add-on manifest and Helm release."""

    kubeconfig: str
    manifests: tuple[str, ...] = ()  # paths on the control plane, as the addons phase writes them
    releases: tuple[tuple[str, str], ...] = ()  # (release, namespace)
    queues: bool = False  # the KAI Queues, for the add-ons phase's pruning of those kubehaus made

    def command(self) -> str:
        config = shlex.quote(self.kubeconfig)
        sections = {
            "nodes": KubernetesNodes().command(kubeconfig=self.kubeconfig),
            "version": ApiServerVersion().command(kubeconfig=self.kubeconfig),
        }
        if self.manifests:  # one dry run of all: in state is the usual answer (kubehaus's paths: no spaces)
            sections[f"manifests {' '.join(self.manifests)}"] = ManifestPending().command(
                path=list(self.manifests), kubeconfig=self.kubeconfig
            )
        if self.releases:  # one listing of all namespaces, then each release's values
            sections["helm-list"] = HelmRelease.list_command(self.kubeconfig)
        if self.queues:
            sections["queues"] = KaiQueues().command(kubeconfig=self.kubeconfig)
        for release, namespace in self.releases:
            sections[f"release {namespace} {release}"] = HelmRelease.values_command(
                release, namespace, self.kubeconfig
            )
        # each section is a kubectl or helm process of its own: all at once, each into its own file,
        # printed in order when all are done (ten of them one after another took seconds)
        started = " ".join(
            f'( {command} ) > "$d/{index}" 2>/dev/null &' for index, command in enumerate(sections.values())
        )
        # kubectl get --raw prints no final newline: one is added where missing, so the next
        # section's marker starts a line of its own
        shown = "; ".join(
            f'echo {shlex.quote(SECTION + name)}; cat "$d/{index}"; [ -z "$(tail -c1 "$d/{index}")" ] || echo'
            for index, name in enumerate(sections)
        )
        body = f'd=$(mktemp -d) && {{ {started} wait; {shown}; rm -rf "$d"; }}'
        # no admin kubeconfig: no cluster yet, said as such (an empty answer is "not read", not this)
        return f"if [ -e {config} ]; then {body}; else echo '{SECTION}absent'; fi; echo '{SECTION}end'"


@dataclass(frozen=True)
class ClusterObserved:
    """What the read found; None where a part could not be read (its phase then reads it itself)."""

    nodes: dict[str, dict[str, Any]] | None
    version: str | None  # the API server's, without the "v"
    pending: dict[str, list[str]]  # manifest path -> what a server-side dry run would change (read: [])
    releases: dict[tuple[str, str], dict[str, Any] | None]  # (release, namespace) -> HelmRelease fact
    queues: dict[str, dict[str, Any]] | None = None  # KAI Queues by name (the KaiQueues fact)


def parse_cluster(lines: list[str]) -> ClusterObserved | None:
    found = sections(lines, SECTION)
    if found is None:
        return None
    if "absent" in found:  # no admin kubeconfig on the node: no cluster
        return ClusterObserved(nodes={}, version=None, pending={}, releases={}, queues={})
    try:
        nodes = KubernetesNodes().process(found["nodes"]) if "nodes" in found else None
    except (ValueError, KeyError, TypeError):
        nodes = None
    try:
        version = ApiServerVersion().process(found.get("version", []))
    except (ValueError, KeyError, TypeError):
        version = None
    try:
        queues = KaiQueues().process(found["queues"]) if "queues" in found else None
    except (ValueError, KeyError, TypeError):
        queues = None
    pending = {}
    releases = {}
    listing = "\n".join(found["helm-list"]) if "helm-list" in found else None
    for name, body in found.items():
        kind, _, rest = name.partition(" ")
        if kind == "manifests" and not ManifestPending().process(body):
            pending = {path: [] for path in rest.split()}  # else unknown: each step dry-runs its own
        elif kind == "release" and listing is not None:
            namespace, _, release = rest.partition(" ")
            try:
                releases[(release, namespace)] = HelmRelease.from_parts(listing, "\n".join(body), namespace)
            except (ValueError, AttributeError):
                continue  # unreadable: the addons phase asks Helm itself
    return ClusterObserved(nodes=nodes, version=version, pending=pending, releases=releases, queues=queues)
