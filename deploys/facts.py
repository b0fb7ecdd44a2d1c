"""pyinfra facts the deploys decide with: each one SSH command that only reads."""

from __future__ import annotations

import json
import shlex
from typing import Any

from pyinfra.api import FactBase


class DebPackages(FactBase):
    """Installed version and hold state of the named packages: {name: (version, held)}.

    The hold is dpkg's selection, the first letter of ``db:Status-Abbrev`` (``h``), which is what
    ``apt-mark hold`` sets and ``apt-mark showhold`` reads: asked of dpkg directly, this costs 10 ms
    where ``apt-mark``, which loads apt's whole cache first, cost 100-700 ms on every node read.
    """

    default = dict

    def command(self, names: list[str]) -> str:
        quoted = " ".join(shlex.quote(n) for n in names)
        fields = "${Package} ${Version} ${db:Status-Abbrev}\\n"
        return f"dpkg-query -W -f='{fields}' {quoted} 2>/dev/null; true"

    def process(self, output: list[str]) -> dict[str, tuple[str, bool]]:
        found: dict[str, tuple[str, bool]] = {}
        for line in output:
            parts = line.split()
            # db:Status-Abbrev: the selection (i install, h hold, ...) then the state (i installed)
            if len(parts) >= 3 and parts[2][1:2] == "i":
                found[parts[0]] = (parts[1], parts[2][:1] == "h")
        return found


class Swap(FactBase):
    """Active swap devices (/proc/swaps) and whether /etc/fstab still enables swap at boot."""

    @staticmethod
    def default() -> dict[str, Any]:
        return {"active": [], "fstab": False}

    def command(self) -> str:
        return (
            "tail -n +2 /proc/swaps 2>/dev/null; "
            "grep -Eq '^[^#].*[[:space:]]swap[[:space:]]' /etc/fstab 2>/dev/null && echo FSTAB-SWAP; true"
        )

    def process(self, output: list[str]) -> dict[str, Any]:
        lines = [line.strip() for line in output if line.strip()]
        return {
            "active": [line.split()[0] for line in lines if line != "FSTAB-SWAP"],
            "fstab": "FSTAB-SWAP" in lines,
        }


# Built-in modules without parameters have no /sys/module entry; what they provide shows instead.
MODULE_EVIDENCE = {
    "br_netfilter": "[ -e /proc/sys/net/bridge ]",
    "overlay": "grep -qw overlay /proc/filesystems",
}


class MissingModules(FactBase):
    """Which of the named kernel modules are neither loaded nor built in.

    Present means: /sys/module/<name>, a modules.builtin entry, or what the module provides
    (/proc/sys/net/bridge for br_netfilter, overlay in /proc/filesystems). /sys is also read under
    the node's probe root prefix (/etc/kubehaus/probe.env): lab machines show their simulated
    hardware's modules there.
    """

    default = list

    def command(self, names: list[str]) -> str:
        checks = []
        for name in names:
            module = shlex.quote(name)
            evidence = MODULE_EVIDENCE.get(name, "false")
            checks.append(
                f'if [ -e /sys/module/{module} ] || [ -e "$root/sys/module/"{module} ] || {evidence} '
                f'|| grep -qs "/{name}.ko" "/lib/modules/$(uname -r)/modules.builtin"; then :; '
                f"else echo {module}; fi;"
            )
        return (
            "root=/; KUBEHAUS_SYSFS_ROOT=; [ -r /etc/kubehaus/probe.env ] && . /etc/kubehaus/probe.env; "
            'root="${KUBEHAUS_SYSFS_ROOT:-/}"; ' + " ".join(checks) + " true"
        )

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip()]


class Sysctls(FactBase):
    """Current values of the named kernel parameters: {key: value}; absent keys are left out."""

    default = dict

    def command(self, keys: list[str]) -> str:
        return "sysctl -e " + " ".join(shlex.quote(k) for k in keys) + " 2>/dev/null; true"

    def process(self, output: list[str]) -> dict[str, str]:
        values = {}
        for line in output:
            key, sep, value = line.partition(" = ")
            if sep:
                values[key.strip()] = " ".join(value.split())
        return values


class RdmaNetnsMode(FactBase):
    """The live RDMA netns mode ("shared" or "exclusive"); None where the node has no RDMA devices."""

    def command(self) -> str:
        return (
            "ls /sys/class/infiniband 2>/dev/null | grep -q . && "
            "rdma system show 2>/dev/null | grep -o 'netns [a-z]*'; true"
        )

    def process(self, output: list[str]) -> str | None:
        for line in output:
            if line.startswith("netns "):
                return line.split()[1]
        return None


class PathsPresent(FactBase):
    """Which of the given paths exist on the node."""

    default = list

    def command(self, paths: list[str]) -> str:
        return " ".join(f"[ -e {shlex.quote(p)} ] && echo {shlex.quote(p)};" for p in paths) + " true"

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip()]


class ManifestPending(FactBase):
    """What a server-side dry run of ``kubectl apply`` would create or change (empty: in sync)."""

    default = list

    def command(self, path: str | list[str], kubeconfig: str) -> str:
        files = " ".join(f"-f {shlex.quote(p)}" for p in ([path] if isinstance(path, str) else path))
        return (
            f"kubectl --kubeconfig {shlex.quote(kubeconfig)} apply --dry-run=server "
            f"{files} 2>&1 || echo KUBEHAUS-DRY-RUN-FAILED"
        )

    def process(self, output: list[str]) -> list[str]:
        if any("KUBEHAUS-DRY-RUN-FAILED" in line for line in output):
            # the apply itself will fail and say why; report the whole object set as pending
            return [line for line in output if "KUBEHAUS-DRY-RUN-FAILED" not in line] or ["(dry run failed)"]
        return [line for line in output if not line.rstrip().endswith("unchanged (server dry run)")]


class HelmRelease(FactBase):
    """A Helm release's chart, version and user-supplied values (None when not installed)."""

    def command(self, release: str, namespace: str, kubeconfig: str) -> str:
        return (
            f"{self.list_command(kubeconfig, namespace)}; echo KUBEHAUS-VALUES; "
            f"{self.values_command(release, namespace, kubeconfig)}"
        )

    @staticmethod
    def list_command(kubeconfig: str, namespace: str | None = None) -> str:
        """The releases of one namespace, or of all (None): the cluster read lists them once."""
        config = f"--kubeconfig {shlex.quote(kubeconfig)}"
        listing = f"-n {shlex.quote(namespace)} list" if namespace is not None else "list -A"
        return f"helm {config} {listing} -o json 2>/dev/null || echo '[]'"

    @staticmethod
    def values_command(release: str, namespace: str, kubeconfig: str) -> str:
        args = f"--kubeconfig {shlex.quote(kubeconfig)} -n {shlex.quote(namespace)}"
        return f"helm {args} get values {shlex.quote(release)} -o json 2>/dev/null || echo null"

    def process(self, output: list[str]) -> dict[str, Any] | None:
        listing, _, values = "\n".join(output).partition("KUBEHAUS-VALUES")
        return self.from_parts(listing, values)

    @staticmethod
    def from_parts(listing: str, values: str, namespace: str | None = None) -> dict[str, Any]:
        """The fact from a listing (of all namespaces: kept to ``namespace``) and the values."""
        releases = json.loads(listing.strip() or "[]")
        if namespace is not None:
            releases = [r for r in releases if r.get("namespace") == namespace]
        return {"releases": releases, "values": json.loads(values.strip() or "null")}


class ApiServerVersion(FactBase):
    """The API server's version, without the "v" (raises on an answer that is not one)."""

    def command(self, kubeconfig: str) -> str:
        return f"kubectl --kubeconfig {shlex.quote(kubeconfig)} get --raw /version"

    def process(self, output: list[str]) -> str:
        return str(json.loads("\n".join(output))["gitVersion"]).lstrip("v")


class KubernetesNodes(FactBase):
    """Every Node object as the API server has it."""

    default = dict

    def command(self, kubeconfig: str) -> str:
        # no cluster yet (a plan before the first apply): no nodes
        return (
            f"[ -e {shlex.quote(kubeconfig)} ] && kubectl --kubeconfig {shlex.quote(kubeconfig)} "
            "get nodes -o json || echo '{\"items\": []}'"
        )

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        items = json.loads("\n".join(output))["items"]
        return {item["metadata"]["name"]: item for item in items}


class KaiQueues(FactBase):
    """Every KAI Queue in the cluster by name (none before there is a cluster, or before KAI's CRD
    is installed); a read that fails otherwise fails the step, rather than look like no queues."""

    default = dict

    def command(self, kubeconfig: str) -> str:
        config = shlex.quote(kubeconfig)
        # stdout is the listing; stderr is kept to tell a missing CRD from a failed read
        return (
            f"if [ -e {config} ]; then "
            f"{{ err=$(kubectl --kubeconfig {config} get queues.scheduling.run.ai -o json 2>&1 1>&3); }} "
            "3>&1 "
            '|| case "$err" in *"doesn\'t have a resource type"*) echo \'{"items": []}\' ;; '
            "*) printf '%s\\n' \"$err\" >&2; exit 1 ;; esac; "
            "else echo '{\"items\": []}'; fi"
        )

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        items = json.loads("\n".join(output))["items"]
        return {item["metadata"]["name"]: item for item in items}


def written_after_start(unit: str, paths: list[str], label: str = "") -> str:
    """Shell printing each of ``paths`` modified after the running ``unit`` last started (``label``
    before each, for a read of many units). Nothing for a unit that is not active, or an old systemd
    without ``--timestamp``: then the check proves nothing, and nothing is restarted for it."""
    name = shlex.quote(unit)
    files = " ".join(shlex.quote(p) for p in paths)
    prefix = f"{shlex.quote(label)} " if label else ""
    return (
        f"t=$(systemctl show -p ActiveEnterTimestamp --value --timestamp=us+utc {name} 2>/dev/null); "
        f'[ "$(systemctl is-active {name} 2>/dev/null)" = active ] && [ -n "$t" ] && '
        's=$(date -d "$t" +%s%6N) && '
        f'for f in {files}; do m=$(stat -c %.6Y -- "$f" 2>/dev/null | tr -d .) && '
        f'[ -n "$m" ] && [ "$m" -gt "$s" ] && echo {prefix}"$f"; done; true'
    )


class WrittenAfterStart(FactBase):
    """Which of the given files were written after the unit last started: the restart they asked
    for never came (an apply killed between the write and the restart), so the unit runs with what
    was there before."""

    default = list

    def command(self, unit: str, paths: list[str]) -> str:
        return written_after_start(unit, paths)

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip()]


class FileOnNode(FactBase):
    """A file's SHA-256, mode (octal text) and owner:group, or None when there is no file: one read
    where pyinfra's ``File`` and ``Sha256File`` facts take two."""

    default = type(None)

    def command(self, path: str) -> str:
        quoted = shlex.quote(path)
        return f"if [ -f {quoted} ]; then stat -c '%a %U:%G' {quoted} && sha256sum {quoted}; fi"

    def process(self, output: list[str]) -> dict[str, str] | None:
        if len(output) < 2:
            return None
        mode, owner = output[0].split(" ", 1)
        return {"mode": mode, "owner": owner, "sha256": output[1].split()[0]}
