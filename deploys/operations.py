"""kubehaus's own pyinfra operations: each checks the node's state first and changes only what differs."""

from __future__ import annotations

import hashlib
import posixpath
import re
import shlex
from io import BytesIO
from typing import Any

from pyinfra import host
from pyinfra.api import FileUploadCommand, StringCommand, operation
from pyinfra.facts.server import Command

from bootstrap.render.addons import MANAGED_BY, MANAGED_BY_LABEL

from .facts import (
    DebPackages,
    FileOnNode,
    HelmRelease,
    KaiQueues,
    ManifestPending,
    MissingModules,
    PathsPresent,
    RdmaNetnsMode,
    Swap,
    Sysctls,
)

# How long apt waits for a dpkg or apt lists lock another apt holds: an apt-get that an earlier,
# killed apply started on the node runs on to its end, and a driver install with DKMS takes minutes.
APT_LOCK_WAIT_SECONDS = 600
APT = (
    "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades --allow-change-held-packages "
    f"-o DPkg::Lock::Timeout={APT_LOCK_WAIT_SECONDS} "
    "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
)
# DPkg::Lock::Timeout covers dpkg's locks, not the lists lock of apt-get update: retry that while
# another apt holds it (apt says "Could not get lock"), and fail at once on any other error.
APT_UPDATE = (
    f"for try in $(seq {APT_LOCK_WAIT_SECONDS}); do "
    "{ err=$(apt-get update -q -o APT::Update::Error-Mode=any 2>&1 1>&3); } 3>&1 && exit 0; "
    'case "$err" in *"Could not get lock"*) sleep 1 ;; *) break ;; esac; '
    "done; printf '%s\\n' \"$err\" >&2; exit 1"
)


# What a file is written as before it is renamed over its destination: in the same directory (the
# rename is atomic only within one filesystem), under a name none of the drop-in readers takes up
# (containerd imports *.toml, kubelet *.conf, apt *.list/*.sources, sysctl and modules-load *.conf).
WRITE_SUFFIX = ".kubehaus-new"


@operation()
def file_content(content: bytes, dest: str, mode: int):
    """``dest`` holds exactly ``content`` with ``mode``, owned by root, and is never seen half-written.

    A new content is uploaded to a temporary file made 0600 before a byte goes in (a secret is
    never readable by others, not even for the upload), given its owner and mode, then renamed over
    ``dest``: a run killed mid-upload leaves the old file whole, where an upload in place (pyinfra's
    ``files.put``) leaves it truncated until the next apply.
    """
    found = host.get_fact(FileOnNode, path=dest)
    wanted_mode = f"{mode:o}"
    if found is not None and found["sha256"] == hashlib.sha256(content).hexdigest():
        if found["owner"] != "root:root":
            yield "chown root:root " + shlex.quote(dest)
        if found["mode"] != wanted_mode:
            yield f"chmod {wanted_mode} {shlex.quote(dest)}"
        return
    temp = dest + WRITE_SUFFIX
    quoted, quoted_temp = shlex.quote(dest), shlex.quote(temp)
    staged = None
    if (getattr(host, "current_op_global_arguments", None) or {}).get("_sudo"):
        # SFTP writes as the SSH user, so pyinfra stages the upload in a file of its own before sudo
        # copies it; that file is made 0600 inside a 0700 directory of the SSH user's first
        staged = host.get_temp_filename(dest, temp_directory=upload_dir(host.data.get("ssh_user")))
        yield StringCommand(private_upload_file(staged), _sudo=False)
    yield (
        f"mkdir -p {shlex.quote(posixpath.dirname(dest) or '/')} && rm -f {quoted_temp} && "
        f"(umask 077 && : > {quoted_temp})"
    )
    yield FileUploadCommand(BytesIO(content), temp, remote_temp_filename=staged)
    settle = f"chown root:root {quoted_temp} && chmod {wanted_mode} {quoted_temp}"
    yield f"{settle} && mv -f {quoted_temp} {quoted}"


def upload_dir(user: str | None) -> str:
    """Where a sudo upload is staged: a directory of the SSH user's own (``private_upload_file``
    refuses one that is not), named for the user so that two logins to one node never share it."""
    return f"/tmp/kubehaus-upload-{user or 'ssh'}"


def private_upload_file(path: str) -> str:
    """Shell, run as the SSH user: ``path``'s directory exists as a real 0700 directory of this
    user (made so if missing; anything else there, a symlink or another user's, is refused) and
    ``path`` is an empty 0600 file in it, which SFTP then writes into keeping its mode."""
    directory, quoted = shlex.quote(posixpath.dirname(path)), shlex.quote(path)
    return (
        f"(umask 077 && mkdir -p -- {directory}); "
        f"if [ -d {directory} ] && [ ! -L {directory} ] && "
        f'[ "$(stat -c %u:%a -- {directory})" = "$(id -u):700" ]; '
        f"then rm -f -- {quoted} && (umask 077 && : > {quoted}); "
        "else printf '%s is not a directory only %s can read: remove it "
        "(kubehaus stages sudo uploads there)\\n' "
        f'{directory} "$(id -un)" >&2; exit 1; fi'
    )


@operation()
def pinned_packages(pins: dict[str, str], hold: bool = True):
    """Install each package at its pinned upstream version (any Debian revision) and hold it."""
    installed = host.get_fact(DebPackages, names=sorted(pins))
    wrong = [name for name, version in pins.items() if not matches_pin(installed.get(name), version)]
    if wrong:
        yield APT + " " + " ".join(shlex.quote(f"{name}={pins[name]}-*") for name in sorted(wrong))
    if hold:
        unheld = [name for name in pins if name in wrong or not installed.get(name, ("", False))[1]]
        if unheld:
            yield "apt-mark hold " + " ".join(shlex.quote(n) for n in sorted(unheld))


@operation()
def packages_held(names: list[str]):
    """Hold installed packages against upgrades (the ones not held yet)."""
    installed = host.get_fact(DebPackages, names=sorted(names))
    unheld = [name for name in names if not installed.get(name, ("", False))[1]]
    if unheld:
        yield "apt-mark hold " + " ".join(shlex.quote(n) for n in sorted(unheld))


def matches_pin(found: tuple[str, bool] | None, upstream: str) -> bool:
    if found is None:
        return False
    version = found[0].split(":", 1)[-1]  # drop an epoch
    return version == upstream or version.startswith(upstream + "-")


@operation()
def packages_present(names: list[str]):
    """Debian packages the node needs, at whatever version the configured source has."""
    installed = host.get_fact(DebPackages, names=sorted(names))
    missing = [n for n in names if n not in installed]
    if missing:
        yield APT + " " + " ".join(shlex.quote(n) for n in sorted(missing))


@operation()
def apt_update(sources_changed: bool, marker: str):
    """Refresh apt's lists when kubehaus's sources changed or were never fetched."""
    if sources_changed or not host.get_fact(PathsPresent, paths=[marker]):
        yield APT_UPDATE
        yield f"touch {shlex.quote(marker)}"


SWAP_FSTAB_SED = (
    "sed -i -E 's/^([^#].*[[:space:]]swap[[:space:]].*)$/# \\1  # kubehaus: swap off/' /etc/fstab"
)


@operation()
def swap_off():
    """Swap off now, and off after a reboot (swap lines in /etc/fstab commented out)."""
    swap = host.get_fact(Swap)
    if swap["active"]:
        yield "swapoff -a"
    if swap["fstab"]:
        yield SWAP_FSTAB_SED


@operation()
def modules_loaded(names: list[str]):
    """Load modules that are neither loaded nor built in; a built-in one needs nothing."""
    missing = host.get_fact(MissingModules, names=names)
    for name in missing:
        yield f"modprobe {shlex.quote(name)}"


@operation()
def sysctls_set(settings: dict[str, str]):
    """Set the kernel parameters whose live value differs (the drop-in keeps them after a reboot)."""
    current = host.get_fact(Sysctls, keys=sorted(settings))
    for key, value in sorted(settings.items()):
        if current.get(key) != " ".join(str(value).split()):
            yield f"sysctl -q -w {shlex.quote(f'{key}={value}')}"


@operation()
def rdma_netns_exclusive():
    """Dranet moves RDMA devices into pods: switch a live shared-mode RDMA subsystem to exclusive
    now (the ib_core option drop-in keeps it so at boot). Nodes without RDMA devices need nothing."""
    if host.get_fact(RdmaNetnsMode) == "shared":
        yield "rdma system set netns exclusive"


@operation()
def unit_masked(unit: str):
    """``systemctl mask`` a unit unless it already is."""
    state = host.get_fact(Command, command=f"systemctl is-enabled {shlex.quote(unit)} 2>/dev/null || true")
    if (state or "").strip() != "masked":
        yield f"systemctl mask {shlex.quote(unit)}"


@operation()
def command_if(command: str, when: bool):
    """Run a command only when an earlier step changed something (sysctl --system, restarts)."""
    if when:
        yield command


@operation()
def kubeadm_init(config_path: str, upload_certs: bool):
    """Initialise the first control plane unless it already is (admin.conf present)."""
    if host.get_fact(PathsPresent, paths=["/etc/kubernetes/admin.conf"]):
        return
    flags = " --upload-certs" if upload_certs else ""
    # The join command kubeadm prints carries a token: --skip-token-print keeps it out of output.
    yield f"kubeadm init --config {shlex.quote(config_path)} --skip-token-print{flags}"


@operation()
def kubeadm_join(config_path: str):
    """Join with a 0600 config (it holds the token), then remove it, unless the node is joined already."""
    if host.get_fact(PathsPresent, paths=["/etc/kubernetes/kubelet.conf"]):
        return
    quoted = shlex.quote(config_path)
    yield f"kubeadm join --config {quoted}; status=$?; rm -f {quoted}; exit $status"


@operation()
def kubeadm_reset():
    """Undo kubeadm init/join on this node (only where it was done)."""
    done = host.get_fact(
        PathsPresent,
        paths=["/etc/kubernetes/kubelet.conf", "/etc/kubernetes/admin.conf", "/var/lib/kubelet/config.yaml"],
    )
    if done:
        yield "kubeadm reset -f"
        yield "systemctl stop kubelet || true"


@operation()
def packages_absent(names: list[str]):
    """Purge the named packages where installed (released from their hold first)."""
    installed = sorted(n for n in host.get_fact(DebPackages, names=sorted(names)) if n in names)
    if installed:
        quoted = " ".join(shlex.quote(n) for n in installed)
        yield f"apt-mark unhold {quoted} >/dev/null"
        yield (
            "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "
            f"-o DPkg::Lock::Timeout={APT_LOCK_WAIT_SECONDS} {quoted}"
        )


@operation()
def manifest_applied(path: str, kubeconfig: str):
    """kubectl apply, only when a server-side dry run shows something to create or change."""
    if host.get_fact(ManifestPending, path=path, kubeconfig=kubeconfig):
        yield f"kubectl --kubeconfig {shlex.quote(kubeconfig)} apply -f {shlex.quote(path)}"


@operation()
def manifest_removed(path: str, kubeconfig: str):
    """What an earlier apply applied from ``path`` deleted from the cluster, then the file itself
    (only where the file is still there: once removed, nothing is asked again)."""
    if host.get_fact(PathsPresent, paths=[path]):
        quoted = shlex.quote(path)
        yield f"kubectl --kubeconfig {shlex.quote(kubeconfig)} delete --ignore-not-found -f {quoted}"
        yield f"rm -f {quoted}"


@operation()
def helm_release_absent(release: str, namespace: str, kubeconfig: str):
    """helm uninstall, only where the release is installed. Helm leaves CRDs and the custom
    resources under them (ComputeDomains, queues) in place."""
    found = host.get_fact(HelmRelease, release=release, namespace=namespace, kubeconfig=kubeconfig)
    if any(r.get("name") == release for r in (found or {}).get("releases", [])):
        yield (
            f"helm --kubeconfig {shlex.quote(kubeconfig)} uninstall {shlex.quote(release)} "
            f"-n {shlex.quote(namespace)} --wait"
        )


# A quantity KAI's queue status holds that is no use at all: 0, 0.0, 0m, 0Mi (the usage fields'
# values are Kubernetes quantities, or numbers in older releases).
_ZERO = re.compile(r"[+-]?0*\.?0*(?:[a-zA-Z]{1,2})?")
# The parts of a Queue's status where KAI's queue controller accounts what its jobs hold or ask for.
_QUEUE_USAGE = ("allocated", "allocatedNonPreemptible", "requested")


def queue_in_use(queue: dict[str, Any]) -> list[str]:
    """What KAI's own accounting shows a queue holding or asking for (``gpu=2 allocated``); empty:
    nothing. A queue KAI has not accounted yet (no status) holds nothing KAI knows of."""
    status = queue.get("status") or {}
    found = []
    for part in _QUEUE_USAGE:
        for resource, value in sorted((status.get(part) or {}).items()):
            if not _ZERO.fullmatch(str(value).strip()):
                found.append(f"{resource}={value} {part}")
    return found


@operation()
def kai_queues_pruned(kept: list[str], kubeconfig: str, current: dict[str, dict[str, Any]] | None = None):
    """Delete each KAI Queue kubehaus marked (``MANAGED_BY_LABEL``) that ``kept`` no longer names,
    children before parents; an unmarked queue (KAI's defaults, an operator's) is never touched.

    KAI does not refuse to delete a queue in use (its webhook checks creates and updates only);
    what was running there would go on outside any queue's quota and what waits there would never be
    scheduled. So a queue whose status shows resources allocated or requested, or that is the parent
    of a queue that stays, is kept and the step fails saying so: the next apply deletes it once its
    jobs are done or moved. ``current``: the queues as read already (the cluster read); None: read."""
    queues = current if current is not None else host.get_fact(KaiQueues, kubeconfig=kubeconfig)

    def marked(queue: dict[str, Any]) -> bool:
        return (queue.get("metadata", {}).get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY

    stale = {name for name, queue in queues.items() if marked(queue) and name not in set(kept)}
    children: dict[str, list[str]] = {}
    for name, queue in queues.items():
        parent = (queue.get("spec") or {}).get("parentQueue")
        if parent:
            children.setdefault(parent, []).append(name)
    deleted: list[str] = []
    held: dict[str, list[str]] = {}

    def settle(name: str, seen: frozenset[str]) -> bool:
        """Whether ``name`` goes (its children settled first, so they are deleted before it)."""
        if name in deleted:
            return True
        if name in held or name not in stale or name in seen:
            return False
        staying = [c for c in sorted(children.get(name, [])) if not settle(c, seen | {name})]
        reasons = queue_in_use(queues[name]) + [f"parent of queue {c}" for c in staying]
        if reasons:
            held[name] = reasons
            return False
        deleted.append(name)
        return True

    for name in sorted(stale):
        settle(name, frozenset())
    base = f"kubectl --kubeconfig {shlex.quote(kubeconfig)}"
    for name in deleted:
        yield f"{base} delete queues.scheduling.run.ai {shlex.quote(name)} --ignore-not-found"
    if held:
        said = "; ".join(f"{name} ({', '.join(reasons)})" for name, reasons in sorted(held.items()))
        message = (
            f"KAI queues no longer in the inventory are still in use, kept: {said}. Let their jobs "
            "finish or move them to another queue, then apply again; or name the queues in the "
            "inventory again"
        )
        yield f"printf '%s\\n' {shlex.quote(message)} >&2; exit 1"


def release_in_state(
    found: dict[str, Any] | None, release: str, chart: str, version: str, values: dict[str, Any]
) -> bool:
    """Whether the HelmRelease fact shows the release deployed at this chart version and values."""
    deployed = [r for r in (found or {}).get("releases", []) if r.get("name") == release]
    return bool(
        deployed
        and deployed[0].get("chart") == f"{chart}-{version}"
        and deployed[0].get("status") == "deployed"
        and (found or {}).get("values") == values
    )


@operation()
def helm_release(
    release: str,
    namespace: str,
    chart: str,
    version: str,
    reference: str,
    values_path: str,
    values: dict[str, Any],
    kubeconfig: str,
    repo: str | None = None,
):
    """The chart's CRDs (server-side apply), then helm upgrade --install, only when the release's
    chart version or values differ."""
    found = host.get_fact(HelmRelease, release=release, namespace=namespace, kubeconfig=kubeconfig)
    if release_in_state(found, release, chart, version, values):
        return
    repo_flag = f" --repo {shlex.quote(repo)}" if repo else ""
    # Helm installs crds/ only when a CRD is absent and never upgrades one: the chart's CRDs go in
    # first by server-side apply (taking the fields over from Helm's install), as upstream advises
    yield (
        f"crds=$(helm show crds {shlex.quote(reference)}{repo_flag} --version {shlex.quote(version)}) && "
        f'{{ [ -z "$crds" ] || printf "%s\\n" "$crds" | kubectl --kubeconfig {shlex.quote(kubeconfig)} '
        "apply --server-side --force-conflicts --field-manager=kubehaus -f -; }"
    )
    yield (
        f"helm --kubeconfig {shlex.quote(kubeconfig)} upgrade --install {shlex.quote(release)} "
        f"{shlex.quote(reference)}{repo_flag} --version {shlex.quote(version)} -n {shlex.quote(namespace)} "
        f"--create-namespace -f {shlex.quote(values_path)}"
    )


# Which labels kubehaus set on a Node, so that one the inventory stops naming is removed: the labels
# themselves cannot say whose they are (an operator's or another controller's look the same).
MANAGED_LABELS = "kubehaus.io/managed-labels"


@operation()
def node_metadata(
    node: str,
    current_node: dict[str, Any] | None,
    labels: dict[str, str],
    taints: list[dict[str, str]],
    remove_taint_keys: list[str],
    kubeconfig: str,
    joining: bool = False,
):
    """Labels and taints on one Node: set what differs, remove kubehaus labels and taints that no
    longer apply.

    ``current_node`` is the Node as the API has it (read once for all nodes by the caller). A node
    not in the cluster is left alone, unless it is about to join (a plan's prediction). The labels
    kubehaus set are recorded in the ``kubehaus.io/managed-labels`` annotation (comma-separated
    keys; a label key cannot hold a comma); one recorded but no longer wanted is removed. A Node
    without the record (labelled before kubehaus kept one) loses nothing."""
    if current_node is None:
        if joining:
            yield f"true labels and taints for {shlex.quote(node)} once it has joined"
        return
    metadata = current_node["metadata"]
    current = metadata.get("labels", {})
    recorded = metadata.get("annotations", {}).get(MANAGED_LABELS, "")
    base = f"kubectl --kubeconfig {shlex.quote(kubeconfig)}"
    wrong = {k: v for k, v in labels.items() if current.get(k) != v}
    stale = sorted(k for k in set(filter(None, recorded.split(","))) - set(labels) if k in current)
    if wrong or stale:
        words = [f"{k}={v}" for k, v in sorted(wrong.items())] + [f"{k}-" for k in stale]
        quoted_words = " ".join(shlex.quote(w) for w in words)
        yield f"{base} label node {shlex.quote(node)} {quoted_words} --overwrite"
    present = current_node.get("spec", {}).get("taints", [])
    for taint in taints:
        if not any(_same_taint(taint, t) for t in present):
            spec = taint["key"] + (f"={taint['value']}" if taint.get("value") else "") + f":{taint['effect']}"
            yield f"{base} taint node {shlex.quote(node)} {shlex.quote(spec)} --overwrite"
    for taint in present:
        if taint["key"] in remove_taint_keys and not any(_same_taint(taint, t) for t in taints):
            removal = f"{taint['key']}:{taint['effect']}-"
            yield f"{base} taint node {shlex.quote(node)} {shlex.quote(removal)}"
    record = ",".join(sorted(labels))
    if record != recorded:
        annotation = f"{MANAGED_LABELS}={record}" if record else f"{MANAGED_LABELS}-"
        yield f"{base} annotate node {shlex.quote(node)} {shlex.quote(annotation)} --overwrite"


def _same_taint(a: dict[str, str], b: dict[str, str]) -> bool:
    return (a["key"], a.get("value", ""), a["effect"]) == (b["key"], b.get("value", ""), b["effect"])
