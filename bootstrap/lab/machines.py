"""Bring lab machines up and down: overlayfs roots, network namespaces, systemd-nspawn --boot.

Everything ``up`` makes is recorded in the lab's ``lab.json`` as it is made, so ``down`` can undo
a half-finished ``up``; ``down`` also sweeps by naming convention for anything a crash left out of
the record. Names: bridge ``khbr<id>``, host veths ``khv<id><nn>``, namespaces ``kh-<lab>-<machine>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..os_support.packages import needs_open_kernel_modules
from .base_image import ensure_base
from .driver_services import driver_service_files
from .hardware import MachineHardware
from .host import (
    LAB_TAG,
    LabError,
    link_exists,
    mounted,
    mounts_under,
    netns_exists,
    preflight,
    processes_with_arg,
    quiet,
    raise_inotify_limits,
    run,
    spawn_detached,
    tagged_inits,
)
from .inventory_writer import render_lab_inventory
from .mirror import PORT, build_mirror, deb_arch, serve
from .nvml_build import LIBRARY, build_sim_nvml
from .nvml_profile import NVML_PROFILE, render_nvml_profile
from .paths import CACHE_ROOT, LAB_ROOT, LabPaths
from .profiles import build_machine
from .registry import inventory_images, start_registry
from .spec import LabMachine, LabSpec
from .sysfs import render_sysfs, write_tree

SYSROOT = "/var/lib/kubehaus-lab/sysroot"  # inside each machine
Log = Callable[[str], None]


def lab_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:4]


def bridge_name(lab: str) -> str:
    return f"khbr{lab_id(lab)}"


def veth_name(lab: str, index: int) -> str:
    return f"khv{lab_id(lab)}{index:02d}"


def netns_name(lab: str, machine: str) -> str:
    return f"kh-{lab}-{machine}"


@dataclass
class MachineRecord:
    name: str
    address: str
    profile: str
    faults: list[str]
    role: str
    netns: str
    veth: str
    directory: str
    pid: int | None = None


@dataclass
class LabRecord:
    name: str
    bridge: str
    bridge_address: str
    machines: list[MachineRecord] = field(default_factory=list)
    inventory: str | None = None
    mirror_pid: int | None = None
    mirror_url: str | None = None
    registry_pid: int | None = None
    registry_url: str | None = None  # https://<bridge>:5000, TLS from the lab CA
    started: float = field(default_factory=time.time)

    def save(self, paths: LabPaths) -> None:
        paths.root.mkdir(parents=True, exist_ok=True)
        tmp = paths.record.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(paths.record)

    @classmethod
    def load(cls, paths: LabPaths) -> LabRecord | None:
        if not paths.record.exists():
            return None
        data = json.loads(paths.record.read_text())
        data["machines"] = [MachineRecord(**m) for m in data.get("machines", [])]
        return cls(**data)


def _multiarch() -> str:
    return {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}.get(platform.machine(), "")


def _prepare_root(merged: Path, spec: LabSpec, machine: LabMachine, public_key: str, library: Path) -> str:
    """Write the machine's identity, SSH access and simulated hardware; return its host public key."""
    (merged / "etc/hostname").write_text(machine.name + "\n")
    hosts = ["127.0.0.1 localhost", f"127.0.1.1 {machine.name}"]
    hosts += [f"{spec.address_of(m)} {m.name}" for m in spec.machines]
    (merged / "etc/hosts").write_text("\n".join(hosts) + "\n")
    ssh_dir = merged / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(public_key)
    os.chmod(ssh_dir / "authorized_keys", 0o600)
    key = merged / "etc/ssh/ssh_host_ed25519_key"
    for old in (key, key.with_suffix(".pub")):
        old.unlink(missing_ok=True)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{machine.name}", "-f", str(key)])
    hardware = build_machine(machine.name, machine.profile, machine.faults)
    if machine.driver == "packages":  # no loose files: the packages bring them (_install_driver_packages)
        hardware = hardware.model_copy(update={"driver_preinstalled": False})
    write_tree(render_sysfs(hardware), merged / SYSROOT.lstrip("/"))
    (merged / "etc/kubehaus").mkdir(parents=True, exist_ok=True)
    (merged / "etc/kubehaus/probe.env").write_text(f"KUBEHAUS_SYSFS_ROOT={SYSROOT}\n")
    lab_dir = merged / "etc/kubehaus-lab"
    lab_dir.mkdir(parents=True, exist_ok=True)
    (lab_dir / "machine.json").write_text(
        json.dumps(
            {
                "lab": spec.name,
                "machine": machine.name,
                "profile": machine.profile,
                "faults": machine.faults,
                "plugins_unregistered": machine.plugins_unregistered,
            },
            indent=2,
        )
    )
    for relative, (content, mode) in driver_service_files(hardware).items():
        path = merged / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if content.startswith("LINK:"):
            path.unlink(missing_ok=True)
            path.symlink_to(content.removeprefix("LINK:"))
        else:
            path.write_text(content)
            os.chmod(path, mode)
    if hardware.driver_version:
        (merged / NVML_PROFILE.lstrip("/")).write_text(render_nvml_profile(hardware))
    if hardware.driver_version and hardware.driver_preinstalled:
        libdir = merged / "usr/lib" / _multiarch()
        libdir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(library, libdir / LIBRARY)
        run(["chroot", str(merged), "ldconfig"])
    return " ".join(key.with_suffix(".pub").read_text().split()[:2])


def driver_package_names(hardware: MachineHardware) -> list[str]:
    """The packages a DGX-OS-style image has its driver from: the module flavour the GPUs need
    (Debian's names, as kubehaus would choose them) and fabric manager where NVSwitches are."""
    open_modules = needs_open_kernel_modules(gpu.name for gpu in hardware.gpus)
    names = ["nvidia-open" if open_modules else "nvidia-driver"]
    if hardware.fabric_manager is not None:
        names.append(f"nvidia-fabricmanager-{(hardware.driver_version or '').split('.')[0]}")
    return names


def _install_driver_packages(merged: Path, machine: LabMachine, mirror: Path) -> None:
    """DGX OS style: the driver stack installed at imaging from the (mirror's) repository, not held."""
    hardware = build_machine(machine.name, machine.profile, machine.faults)
    if not hardware.driver_version:
        raise LabError(f"{machine.name}: profile {machine.profile} has no GPU driver to pre-install")
    pool = mirror / "apt" / "pool" / "main"
    debs = []
    for name in driver_package_names(hardware):
        deb = pool / f"{name}_{hardware.driver_version}-1_{deb_arch()}.deb"
        if not deb.exists():
            raise LabError(f"{machine.name}: the mirror has no {deb.name} to pre-install")
        shutil.copy2(deb, merged / "tmp" / deb.name)
        debs.append(f"/tmp/{deb.name}")
    run(["chroot", str(merged), "dpkg", "-i", *debs])
    for deb in debs:
        (merged / deb.lstrip("/")).unlink()
    # enabled at boot, as NVIDIA's packages leave them on DGX OS (their maintainer scripts do)
    units = ["nvidia-persistenced", *(["nvidia-fabricmanager"] if hardware.fabric_manager else [])]
    run(["chroot", str(merged), "systemctl", "enable", *units])


def _network(record: MachineRecord, bridge: str, gateway: str, prefix: int) -> None:
    run(["ip", "netns", "add", record.netns])
    run(["ip", "link", "add", record.veth, "type", "veth", "peer", "name", "eth0", "netns", record.netns])
    run(["ip", "link", "set", record.veth, "master", bridge, "up"])
    ns = ["ip", "-n", record.netns]
    run([*ns, "link", "set", "lo", "up"])
    run([*ns, "addr", "add", f"{record.address}/{prefix}", "dev", "eth0"])
    run([*ns, "link", "set", "eth0", "up"])
    run([*ns, "route", "add", "default", "via", gateway])


# systemd-nspawn exits with 133 when the machine reboots (systemd-nspawn@.service restarts it on
# that status); this loop does the same, so `reboot` on a lab machine works as on a server. A TERM
# (lab down) is passed on to nspawn, which turns it into an orderly poweroff, and ends the loop.
REBOOT_LOOP = """
stop=; child=
trap 'stop=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
while :; do
  "$@" & child=$!
  wait "$child"; rc=$?
  while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
  if [ -n "$stop" ] || [ "$rc" -ne 133 ]; then exit "$rc"; fi
  echo "kubehaus lab: machine rebooted; starting it again"
done
"""


def _boot(lab: str, record: MachineRecord) -> int:
    directory = Path(record.directory)
    return spawn_detached(
        [
            "sh",
            "-c",
            REBOOT_LOOP,
            "kubehaus-lab-machine",
            "systemd-nspawn",
            "--quiet",
            "-D",
            str(directory / "merged"),
            "-M",
            f"{lab}-{record.name}",
            f"--hostname={record.name}",
            "--boot",
            "--register=no",
            "--keep-unit",
            "--link-journal=no",
            "--resolv-conf=off",
            "--timezone=off",
            f"--network-namespace-path=/run/netns/{record.netns}",
            "--private-network",  # with the netns above: /proc/sys/net writable, as on a real host
            f"--setenv={LAB_TAG}={lab}/{record.name}",
        ],
        directory / "console.log",
    )


def _wait_for_ssh(record: MachineRecord, paths: LabPaths, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((record.address, 22), timeout=1):
                break
        except OSError:
            if record.pid and not _alive(record.pid):
                raise LabError(  # noqa: B904  (the refused connection is expected, not the cause)
                    f"machine {record.name} stopped while booting; see {record.directory}/console.log"
                )
            time.sleep(0.2)
    else:
        raise LabError(f"machine {record.name} did not answer on {record.address}:22; see its console.log")
    check = [
        "ssh",
        "-q",
        "-i",
        str(paths.private_key),
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={paths.known_hosts}",
        "-o",
        "ConnectTimeout=5",
        f"root@{record.address}",
        "true",
    ]
    while time.monotonic() < deadline:
        if subprocess.run(check, capture_output=True).returncode == 0:
            return
        time.sleep(0.3)
    raise LabError(f"machine {record.name}: sshd answers but key login with the lab key fails")


def _wait_for_port(address: str, port: int, deadline: float, what: str) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise LabError(f"{what} did not start listening on {address}:{port}")


def _alive(pid: int) -> bool:
    """Whether a machine's nspawn still runs; an exited child of ours (a zombie) counts as gone."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def up(
    spec: LabSpec,
    *,
    base: Path = LAB_ROOT,
    cache: Path = CACHE_ROOT,
    inventory_out: Path | None = None,
    log: Log = print,
    boot_timeout: float = 90,
) -> LabRecord:
    preflight()
    paths = LabPaths.for_lab(spec.name, base)
    existing = LabRecord.load(paths)
    if existing is not None:
        raise LabError(
            f"lab {spec.name!r} is already up ({len(existing.machines)} machines); "
            "run 'kubehaus lab down' first"
        )
    started = time.monotonic()
    changed = raise_inotify_limits()
    if changed:
        log(f"raised host inotify limits for systemd in many machines: {', '.join(changed)}")
    releases = tuple(sorted({m.release for m in spec.machines}))
    base_dirs = {release: ensure_base(cache, log, release) for release in releases}
    library = build_sim_nvml(cache)
    paths.root.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.root, 0o700)
    if not paths.private_key.exists():
        run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                f"kubehaus-lab-{spec.name}",
                "-f",
                str(paths.private_key),
            ]
        )
    public_key = paths.private_key.with_suffix(".pub").read_text()
    record = LabRecord(name=spec.name, bridge=bridge_name(spec.name), bridge_address=spec.bridge_address)
    record.save(paths)
    try:
        if not link_exists(record.bridge):
            run(["ip", "link", "add", record.bridge, "type", "bridge"])
        run(["ip", "addr", "replace", f"{spec.bridge_address}/{spec.prefix_length}", "dev", record.bridge])
        run(["ip", "link", "set", record.bridge, "up"])
        build_mirror(paths.mirror, paths.root / "gnupg", spec.name, cache, library, releases)
        record.mirror_pid = serve(paths.mirror, spec.bridge_address, paths.root / "mirror.log")
        record.mirror_url = f"http://{spec.bridge_address}:{PORT}"
        record.save(paths)
        _wait_for_port(spec.bridge_address, PORT, time.monotonic() + 10, "the lab mirror")
        registry = start_registry(
            paths.root,
            paths.mirror,
            spec.name,
            spec.bridge_address,
            cache,
            inventory_images(render_lab_inventory(spec, paths)),
        )
        record.registry_pid, record.registry_url = registry.pid, registry.url
        record.save(paths)
        known_hosts = []
        for index, machine in enumerate(spec.machines):
            directory = paths.machine(machine.name)
            entry = MachineRecord(
                name=machine.name,
                address=spec.address_of(machine),
                profile=machine.profile,
                faults=list(machine.faults),
                role=machine.role,
                netns=netns_name(spec.name, machine.name),
                veth=veth_name(spec.name, index),
                directory=str(directory),
            )
            record.machines.append(entry)
            record.save(paths)
            for part in ("upper", "work", "merged"):
                (directory / part).mkdir(parents=True, exist_ok=True)
            run(
                [
                    "mount",
                    "-t",
                    "overlay",
                    "overlay",
                    "-o",
                    f"lowerdir={base_dirs[machine.release]},upperdir={directory / 'upper'},"
                    f"workdir={directory / 'work'}",
                    str(directory / "merged"),
                ]
            )
            host_key = _prepare_root(directory / "merged", spec, machine, public_key, library)
            if machine.driver == "packages":
                _install_driver_packages(directory / "merged", machine, paths.mirror)
            known_hosts.append(f"{entry.address} {host_key}")
            _network(entry, record.bridge, spec.bridge_address, spec.prefix_length)
        paths.known_hosts.write_text("\n".join(known_hosts) + "\n")
        for entry in record.machines:
            entry.pid = _boot(spec.name, entry)
            record.save(paths)
        log(f"booting {len(record.machines)} machines...")
        deadline = time.monotonic() + boot_timeout
        with ThreadPoolExecutor(max_workers=min(16, len(record.machines))) as pool:
            list(pool.map(lambda m: _wait_for_ssh(m, paths, deadline), record.machines))
    except BaseException:
        log("lab up failed; cleaning up what it made")
        down(spec.name, base=base, log=lambda _m: None)
        raise
    target = inventory_out or (paths.root / "inventory.yaml")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_lab_inventory(spec, paths))
    record.inventory = str(target)
    record.save(paths)
    log(
        f"lab {spec.name!r}: {len(record.machines)} machines answering SSH "
        f"in {time.monotonic() - started:.1f}s; "
        f"inventory: {target}"
    )
    return record


def down(name: str, *, base: Path = LAB_ROOT, log: Log = print, stop_timeout: float = 20) -> list[str]:
    """Remove everything the lab made; safe to repeat and after a half-finished up."""
    paths = LabPaths.for_lab(name, base)
    record = LabRecord.load(paths)
    done: list[str] = []
    pids = set(processes_with_arg(str(paths.root) + "/"))
    pids |= set(processes_with_arg(str(paths.mirror), program="http.server"))
    pids |= set(processes_with_arg(str(paths.root) + "/", program="docker-registry"))
    if record:
        pids |= {m.pid for m in record.machines if m.pid and _alive(m.pid)}
        if record.mirror_pid and _alive(record.mirror_pid):
            pids.add(record.mirror_pid)
        if record.registry_pid and _alive(record.registry_pid):
            pids.add(record.registry_pid)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # nspawn --boot turns this into an orderly poweroff
    deadline = time.monotonic() + stop_timeout
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    # Machines whose nspawn is gone (killed, crashed) or did not stop in time: killing a
    # machine's init ends every process in its PID namespace.
    stragglers = {p for p in pids if _alive(p)} | set(tagged_inits(name))
    for pid in stragglers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in stragglers) and time.monotonic() < deadline:
        time.sleep(0.1)
    pids |= stragglers
    if pids:
        done.append(f"stopped {len(pids)} machine process(es)")
    for mount in mounts_under(paths.root):
        for _ in range(10):
            if quiet(["umount", str(mount)]) or not mounted(mount):
                break
            time.sleep(0.3)
        else:
            quiet(["umount", "-l", str(mount)])
        done.append(f"unmounted {mount}")
    namespaces = [m.netns for m in record.machines] if record else []
    prefix = f"kh-{name}-"
    if Path("/run/netns").is_dir():
        namespaces += [n.name for n in Path("/run/netns").iterdir() if n.name.startswith(prefix)]
    for namespace in sorted(set(namespaces)):
        if netns_exists(namespace) and quiet(["ip", "netns", "del", namespace]):
            done.append(f"deleted netns {namespace}")
    veth_prefix = f"khv{lab_id(name)}"
    for link in sorted(p.name for p in Path("/sys/class/net").iterdir()):
        if link.startswith(veth_prefix) and quiet(["ip", "link", "del", link]):
            done.append(f"deleted veth {link}")
    if link_exists(bridge_name(name)) and quiet(["ip", "link", "del", bridge_name(name)]):
        done.append(f"deleted bridge {bridge_name(name)}")
    if paths.root.exists():
        if mounts_under(paths.root):
            raise LabError(f"cannot remove {paths.root}: still mounted; run 'kubehaus lab down' again")
        # rm, not shutil.rmtree: after a run, rmtree here left about 600 descriptors open per GPU
        # machine (its simulated sysfs tree), and taking down a 32-machine lab hit EMFILE
        run(["rm", "-rf", "--one-file-system", str(paths.root)])
        done.append(f"removed {paths.root}")
    for line in done:
        log(line)
    return done


@dataclass
class MachineStatus:
    name: str
    address: str
    profile: str
    faults: list[str]
    role: str
    running: bool
    ssh: bool


def status(name: str, *, base: Path = LAB_ROOT) -> tuple[LabRecord | None, list[MachineStatus]]:
    record = LabRecord.load(LabPaths.for_lab(name, base))
    if record is None:
        return None, []
    states = []
    for machine in record.machines:
        running = bool(machine.pid and _alive(machine.pid))
        try:
            with socket.create_connection((machine.address, 22), timeout=1):
                reachable = True
        except OSError:
            reachable = False
        states.append(
            MachineStatus(
                machine.name,
                machine.address,
                machine.profile,
                machine.faults,
                machine.role,
                running,
                reachable,
            )
        )
    return record, states


def known_labs(base: Path = LAB_ROOT) -> list[str]:
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / "lab.json").exists())


def ssh_command(name: str, machine: str, command: list[str], *, base: Path = LAB_ROOT) -> list[str]:
    paths = LabPaths.for_lab(name, base)
    record = LabRecord.load(paths)
    if record is None:
        raise LabError(f"lab {name!r} is not up")
    for entry in record.machines:
        if entry.name == machine:
            return [
                "ssh",
                "-i",
                str(paths.private_key),
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                f"UserKnownHostsFile={paths.known_hosts}",
                f"root@{entry.address}",
                *command,
            ]
    names = ", ".join(m.name for m in record.machines)
    raise LabError(f"lab {name!r} has no machine {machine!r}; it has {names}")
