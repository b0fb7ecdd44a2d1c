"""kubehaus topology probe: runs ON a node, prints one JSON document describing its hardware.

Self-contained on purpose: it is shipped in the SSH command with the controller's own pynvml.py
and run by the node's python3, so it may import only the standard library and pynvml, and it
stays compatible with Python 3.8. NVML is read through pynvml; everything else from sysfs under a
root prefix (``KUBEHAUS_SYSFS_ROOT``, or ``/etc/kubehaus/probe.env``; default ``/``), as
node-feature-discovery does for containers. A node without an NVIDIA driver reports zero GPUs;
an NVML call a GPU does not support is recorded, never fatal. The controller validates the output
with ``bootstrap.topology.model.Topology``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time

# Every import costs each node CPU on every run (subprocess, socket, platform and shutil together
# about 10 ms, with 32 lab machines sharing two cores): commands are spawned without subprocess,
# and what platform, socket and shutil gave is read from os.uname() and PATH.

GEN_BY_SPEED = {"2.5": 1, "5.0": 2, "5": 2, "8.0": 3, "8": 3, "16.0": 4, "32.0": 5, "64.0": 6}
NVLINK_GENERATION = {1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 5, 8: 6}  # nvmlNvlinkVersion_t -> generation
FABRIC_STATES = {0: "not_supported", 1: "not_started", 2: "in_progress", 3: "completed"}
SERVICES = (
    ("fabric_manager", "nvidia-fabricmanager", "nv-fabricmanager"),
    ("persistenced", "nvidia-persistenced", "nvidia-persistenced"),
    ("imex", "nvidia-imex", "nvidia-imex"),
)
XID = re.compile(r"NVRM: Xid \(PCI:([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2})\): (\d+)")
MAX_LINKS = 18
BUS_ID = re.compile(r"^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


def sysfs_root() -> str:
    root = os.environ.get("KUBEHAUS_SYSFS_ROOT")
    if not root:
        try:
            with open("/etc/kubehaus/probe.env") as handle:
                for line in handle:
                    key, _, value = line.strip().partition("=")
                    if key == "KUBEHAUS_SYSFS_ROOT":
                        root = value.strip()
        except OSError:
            pass
    return root or "/"


class Reader:
    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, relative: str) -> str:
        return os.path.join(self.root, relative.lstrip("/"))

    def read(self, relative: str, default: str | None = None) -> str | None:
        try:
            with open(self.path(relative)) as handle:
                return handle.read().strip()
        except OSError:
            return default

    def listdir(self, relative: str) -> list[str]:
        try:
            return sorted(os.listdir(self.path(relative)))
        except OSError:
            return []

    def relative_real(self, relative: str) -> str:
        """A symlink's real path, as seen from inside the root (``/sys/devices/...``)."""
        real = os.path.realpath(self.path(relative))
        root = os.path.realpath(self.root)
        return "/" + os.path.relpath(real, root) if root != "/" else real


def to_int(text: str | None, default: int = 0) -> int:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return default


def cpulist_from_set(cpus: list[int]) -> str:
    spans: list[list[int]] = []
    for cpu in sorted(set(cpus)):
        if spans and spans[-1][1] + 1 == cpu:
            spans[-1][1] = cpu
        else:
            spans.append([cpu, cpu])
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)


def read_numa(reader: Reader) -> list[dict]:
    nodes = []
    for entry in reader.listdir("/sys/devices/system/node"):
        if not re.match(r"^node\d+$", entry):
            continue
        base = f"/sys/devices/system/node/{entry}"
        meminfo = reader.read(f"{base}/meminfo", "") or ""
        match = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
        distances = [to_int(d) for d in (reader.read(f"{base}/distance", "") or "").split()]
        nodes.append(
            {
                "id": int(entry[4:]),
                "cpus": reader.read(f"{base}/cpulist", "") or "",
                "memory_kib": int(match.group(1)) if match else 0,
                "distances": distances,
            }
        )
    return sorted(nodes, key=lambda n: n["id"])


def set_bits(words: list) -> list[int]:
    """The numbers of the set bits of a CPU mask made of 64-bit words (only the set ones visited)."""
    found = []
    for position, word in enumerate(words):
        word = int(word)
        while word:
            lowest = word & -word
            found.append(position * 64 + lowest.bit_length() - 1)
            word ^= lowest
    return found


def read_cpu(reader: Reader) -> dict:
    text = reader.read("/proc/cpuinfo", "") or ""
    model, sockets, cores, threads = "unknown", set(), set(), 0
    physical = "0"
    for line in text.splitlines():
        if not line.startswith(("processor", "model name", "physical id", "core id")):
            continue  # a large machine has thousands of lines of flags and bugs
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "processor":
            threads += 1
        elif key == "model name" and model == "unknown":
            model = value
        elif key == "physical id":
            physical = value
            sockets.add(value)
        elif key == "core id":
            cores.add((physical, value))
    return {
        "model": model,
        "sockets": max(1, len(sockets)),
        "cores": max(len(cores), 1),
        "threads": max(threads, 1),
    }


def link_generation(text: str | None) -> int | None:
    if not text:
        return None
    return GEN_BY_SPEED.get(text.split()[0])


def pci_device(reader: Reader, bus_id: str) -> dict:
    base = f"/sys/bus/pci/devices/{bus_id}"
    if not os.path.exists(reader.path(base)):
        return {"sysfs_path": None, "numa_node": -1, "local_cpulist": ""}
    width = reader.read(f"{base}/current_link_width")
    max_width = reader.read(f"{base}/max_link_width")
    return {
        "sysfs_path": reader.relative_real(base),
        "numa_node": to_int(reader.read(f"{base}/numa_node"), -1),
        "local_cpulist": reader.read(f"{base}/local_cpulist", "") or "",
        "pcie": {
            "current_generation": link_generation(reader.read(f"{base}/current_link_speed")),
            "current_width": to_int(width) if width else None,
            "max_generation": link_generation(reader.read(f"{base}/max_link_speed")),
            "max_width": to_int(max_width) if max_width else None,
        },
    }


def natural(name: str) -> list:
    """mlx5_2 before mlx5_10, as nvidia-smi numbers NICs."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def read_nics(reader: Reader) -> list[dict]:
    nics = []
    for name in sorted(reader.listdir("/sys/class/infiniband"), key=natural):
        base = f"/sys/class/infiniband/{name}"
        device = reader.relative_real(f"{base}/device")
        bus_id = os.path.basename(device)
        netdevs = reader.listdir(f"{base}/device/net")
        port = f"{base}/ports/1"
        nics.append(
            {
                "name": name,
                "netdev": netdevs[0] if netdevs else None,
                "bus_id": bus_id,
                "numa_node": to_int(reader.read(f"{base}/device/numa_node"), -1),
                "sysfs_path": device,
                "port_state": reader.read(f"{port}/state"),
                "phys_state": reader.read(f"{port}/phys_state"),
                "rate": reader.read(f"{port}/rate"),
                "link_layer": reader.read(f"{port}/link_layer"),
            }
        )
    return nics


def sysfs_bus_id(nvml_bus_id: str) -> str:
    domain, bus, devfn = nvml_bus_id.split(":")
    return f"{int(domain, 16):04x}:{bus.lower()}:{devfn.lower()}"


def is_nvidia_gpu(reader: Reader, bus_id: str) -> bool:
    base = f"/sys/bus/pci/devices/{bus_id}"
    return reader.read(f"{base}/vendor") == "0x10de" and (reader.read(f"{base}/class") or "").startswith(
        "0x03"
    )


def sysfs_gpus(reader: Reader) -> list[str]:
    """The GPUs the nvidia driver is bound to in sysfs: a GPU NVML lost or never initialised stays.

    One listing of the driver's directory, not a read of every PCI function (hundreds on a DGX).
    """
    listed = reader.listdir("/sys/bus/pci/drivers/nvidia")
    return [bus for bus in listed if BUS_ID.match(bus) and is_nvidia_gpu(reader, bus)]


def text(value):
    return value.decode() if isinstance(value, bytes) else value


def read_gpu(n, index: int, reader: Reader) -> dict:  # n: the pynvml module
    """One GPU's readings; any NVML error on its identity, or a lost GPU, makes an error record.

    Only the GPU itself is given up: the caller goes on with the next index.
    """
    record: dict = {"index": index, "bus_id": None, "error": None, "call": "nvmlDeviceGetHandleByIndex"}
    try:
        handle = n.nvmlDeviceGetHandleByIndex(index)
        record["call"] = "nvmlDeviceGetPciInfo"
        record["bus_id"] = sysfs_bus_id(text(n.nvmlDeviceGetPciInfo(handle).busId))
        record["call"] = "nvmlDeviceGetUUID"
        uuid = text(n.nvmlDeviceGetUUID(handle))
        record["call"] = "nvmlDeviceGetName"
        name = text(n.nvmlDeviceGetName(handle))
        return read_gpu_details(n, handle, index, record, uuid, name, reader)
    except n.NVMLError as error:
        record["error"] = type(error).__name__
        return record


def read_gpu_details(n, handle, index: int, record: dict, uuid: str, name: str, reader: Reader) -> dict:
    import ctypes

    unsupported: list[str] = []

    def call(name: str, *args):
        record["call"] = name
        try:
            return getattr(n, name)(handle, *args)
        except (n.NVMLError_NotSupported, n.NVMLError_FunctionNotFound):
            unsupported.append(name)
        except n.NVMLError_GpuIsLost:
            raise  # the GPU fell off the bus while being read: read_gpu makes it an error record
        except n.NVMLError as error:
            unsupported.append(f"{name}: {error}")
        return None

    bus_id = record["bus_id"]
    pci = pci_device(reader, bus_id)
    gpu = {
        "index": index,
        "uuid": uuid,
        "name": name,
        "bus_id": bus_id,
        "numa_node": pci["numa_node"],
        "sysfs_path": pci["sysfs_path"],
        "cpu_affinity": pci["local_cpulist"],
        "unsupported": unsupported,
    }
    memory = call("nvmlDeviceGetMemoryInfo")
    gpu["memory_bytes"] = memory.total if memory is not None else None
    gpu["nvml_numa_id"] = call("nvmlDeviceGetNumaNodeId")
    affinity = call("nvmlDeviceGetCpuAffinity", 64)
    if affinity is not None:
        cpus = set_bits(affinity)
        if cpus:
            gpu["cpu_affinity"] = cpulist_from_set(cpus)
    gpu["pcie"] = {
        "current_generation": call("nvmlDeviceGetCurrPcieLinkGeneration"),
        "current_width": call("nvmlDeviceGetCurrPcieLinkWidth"),
        "max_generation": call("nvmlDeviceGetMaxPcieLinkGeneration"),  # device and system together
        "max_width": call("nvmlDeviceGetMaxPcieLinkWidth"),
        "gpu_max_generation": call("nvmlDeviceGetGpuMaxPcieLinkGeneration"),  # the GPU's own
        "replays": call("nvmlDeviceGetPcieReplayCounter"),
    }
    sysfs_link = dict(pci.get("pcie") or {})
    sysfs_link["gpu_max_generation"] = sysfs_link.get("max_generation")  # LnkCap: the device's own
    for key, value in sysfs_link.items():  # sysfs fills what NVML does not say
        if gpu["pcie"][key] is None:
            gpu["pcie"][key] = value
    utilization = call("nvmlDeviceGetUtilizationRates")
    gpu["utilization"] = utilization.gpu if utilization is not None else None
    reasons = call("nvmlDeviceGetCurrentClocksEventReasons")
    if reasons is None and "nvmlDeviceGetCurrentClocksEventReasons" in unsupported:  # before R535
        reasons = call("nvmlDeviceGetCurrentClocksThrottleReasons")
    gpu["clock_event_reasons"] = reasons
    mig = call("nvmlDeviceGetMigMode")
    gpu["mig_enabled"] = bool(mig[0]) if mig is not None else None
    ecc = call("nvmlDeviceGetEccMode")
    gpu["ecc_enabled"] = bool(ecc[0]) if ecc is not None else None
    if gpu["ecc_enabled"]:  # with ECC off, NVML counts nothing
        gpu["ecc_uncorrectable"] = call(
            "nvmlDeviceGetTotalEccErrors", n.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, n.NVML_VOLATILE_ECC
        )
        gpu["ecc_uncorrectable_aggregate"] = call(  # lifetime: a reboot does not clear it
            "nvmlDeviceGetTotalEccErrors", n.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, n.NVML_AGGREGATE_ECC
        )
    single = call("nvmlDeviceGetRetiredPages", n.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS)
    double = call("nvmlDeviceGetRetiredPages", n.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR)
    if single is not None and double is not None:
        gpu["retired_pages"] = {"single_bit": len(single), "double_bit": len(double)}
    pending = call("nvmlDeviceGetRetiredPagesPendingStatus")
    gpu["retired_pages_pending"] = bool(pending) if pending is not None else None
    rows = call("nvmlDeviceGetRemappedRows")
    if rows is not None:
        gpu["remapped_rows"] = {
            "correctable": rows[0],
            "uncorrectable": rows[1],
            "pending": bool(rows[2]),
            "failure": bool(rows[3]),
        }
    persistence = call("nvmlDeviceGetPersistenceMode")
    gpu["persistence"] = bool(persistence) if persistence is not None else None
    info = n.c_nvmlGpuFabricInfoV_t()
    if call("nvmlDeviceGetGpuFabricInfoV", ctypes.byref(info)) is not None:
        gpu["fabric"] = {
            "state": FABRIC_STATES.get(info.state, "not_supported"),
            "status": info.status,
            "cluster_uuid": bytes(info.clusterUuid).hex(),
            "clique_id": info.cliqueId,
            "health_mask": info.healthMask,
        }
    record["call"] = "nvmlDeviceGetNvLinkState"
    gpu["nvlinks"] = read_links(n, handle, unsupported)
    return gpu


def read_links(n, handle, unsupported: list[str]) -> list[dict]:
    """Each link's state, peer and counters; a failing link call is recorded once, never fatal."""

    def failed(name: str, error) -> None:
        entry = f"{name}: {error}"
        if entry not in unsupported:
            unsupported.append(entry)

    try:
        field = n.nvmlDeviceGetFieldValues(handle, [n.NVML_FI_DEV_NVLINK_LINK_COUNT])[0]
    except n.NVMLError_GpuIsLost:
        raise
    except n.NVMLError:
        return []
    if field.nvmlReturn != 0:
        return []
    links = []
    for index in range(min(field.value.uiVal, MAX_LINKS)):
        try:
            active = bool(n.nvmlDeviceGetNvLinkState(handle, index))
        except n.NVMLError_GpuIsLost:
            raise
        except (n.NVMLError_NotSupported, n.NVMLError_FunctionNotFound):
            continue
        except n.NVMLError as error:
            failed("nvmlDeviceGetNvLinkState", error)
            continue
        link = {"index": index, "active": active}
        peer_call = "nvmlDeviceGetNvLinkVersion"
        try:
            link["version"] = NVLINK_GENERATION.get(n.nvmlDeviceGetNvLinkVersion(handle, index))
            peer_call = "nvmlDeviceGetNvLinkRemotePciInfo"
            remote = n.nvmlDeviceGetNvLinkRemotePciInfo(handle, index).busId
            link["remote_bus_id"] = remote.decode() if isinstance(remote, bytes) else remote
            peer_call = "nvmlDeviceGetNvLinkRemoteDeviceType"
            kind = n.nvmlDeviceGetNvLinkRemoteDeviceType(handle, index)
            link["remote_type"] = {0: "gpu", 2: "switch"}.get(kind, "unknown")
        except (n.NVMLError_NotSupported, n.NVMLError_FunctionNotFound):
            pass
        except n.NVMLError_GpuIsLost:
            raise
        except n.NVMLError as error:  # e.g. the peer of an inactive link may be unknown
            failed(peer_call, error)
        for counter, key in enumerate(
            ("replay_errors", "recovery_errors", "crc_flit_errors", "crc_data_errors")
        ):
            try:
                link[key] = n.nvmlDeviceGetNvLinkErrorCounter(handle, index, counter)
            except n.NVMLError_GpuIsLost:
                raise
            except (n.NVMLError_NotSupported, n.NVMLError_FunctionNotFound):
                link[key] = None
            except n.NVMLError as error:
                link[key] = None
                failed("nvmlDeviceGetNvLinkErrorCounter", error)
        links.append(link)
    return links


def read_nvml(reader: Reader) -> dict:
    try:
        import pynvml as n
    except ImportError:
        return {"nvml_error": "pynvml not available to the probe"}
    try:
        n.nvmlInit()
    except n.NVMLError as error:
        return {"nvml_error": type(error).__name__}
    result: dict = {"driver_version": None, "nvml_version": None, "cuda_version": None, "gpus": []}
    try:
        try:  # system-wide: a failure here is NVML's, reported as such, never a crashed probe
            result["driver_version"] = text(n.nvmlSystemGetDriverVersion())
            count = n.nvmlDeviceGetCount()
        except n.NVMLError as error:
            result["nvml_error"] = type(error).__name__
            return result
        for key, name in (
            ("nvml_version", "nvmlSystemGetNVMLVersion"),
            ("cuda_version", "nvmlSystemGetCudaDriverVersion"),
        ):
            with contextlib.suppress(n.NVMLError):
                result[key] = text(getattr(n, name)())
        errors = []
        for index in range(count):
            gpu = read_gpu(n, index, reader)
            (errors if gpu.get("error") else result["gpus"]).append(gpu)
        result["gpu_errors"] = errors
        result["missing_gpus"] = cross_check(result["gpus"], errors, sysfs_gpus(reader))
        return result
    finally:
        with contextlib.suppress(n.NVMLError):
            n.nvmlShutdown()


def cross_check(gpus: list[dict], errors: list[dict], in_sysfs: list[str]) -> list[str]:
    """Name error records that NVML gave no bus ID; return the sysfs GPUs NVML did not list at all.

    NVML numbers GPUs in PCI bus order, so a GPU lost at index i sits between its neighbours' bus
    IDs: it is named when exactly one unaccounted sysfs GPU lies there.
    """
    known = {gpu["index"]: gpu["bus_id"] for gpu in [*gpus, *errors] if gpu["bus_id"]}
    unaccounted = sorted(set(in_sysfs) - set(known.values()))
    for record in errors:
        if record["bus_id"]:
            continue
        low = max((bus for i, bus in known.items() if i < record["index"]), default="")
        high = min((bus for i, bus in known.items() if i > record["index"]), default="~")
        between = [bus for bus in unaccounted if low < bus < high]
        if len(between) == 1:
            record["bus_id"] = between[0]
            unaccounted.remove(between[0])
    return unaccounted


def run(args: list[str], timeout: float = 10) -> str | None:
    """What a command prints (None: it cannot run), without the subprocess module.

    Importing subprocess costs every GPU node 7 ms of CPU per run; a spawn and a pipe do the same.
    """
    import select

    try:
        readable, writable = os.pipe()
        null = os.open(os.devnull, os.O_RDWR)
        try:
            pid = os.posix_spawnp(
                args[0],
                args,
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, null, 0),
                    (os.POSIX_SPAWN_DUP2, writable, 1),
                    (os.POSIX_SPAWN_DUP2, null, 2),
                ],
            )
        finally:
            os.close(writable)
            os.close(null)
    except OSError:
        return None
    chunks: list[bytes] | None = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([readable], [], [], left)[0]:
                chunks = None  # hung: what it printed so far is not trusted
                break
            chunk = os.read(readable, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(readable)
    while not os.waitpid(pid, os.WNOHANG)[0]:  # reaped, and killed past the deadline
        if chunks is None or time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.001)
    if chunks is None:
        return None
    return b"".join(chunks).decode(errors="replace").strip()


def which(binary: str) -> str | None:
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory or ".", binary)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def read_services() -> dict:
    found, present = {}, {}
    for key, unit, binary in SERVICES:
        path = which(binary) or ("/usr/bin/" + binary if os.path.exists("/usr/bin/" + binary) else None)
        unit_known = any(
            os.path.exists(f"{d}/{unit}.service")
            for d in ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
        )
        found[key] = None
        if path or unit_known:
            present[key] = (unit, path)
    if not present:
        return found
    # one systemctl for every unit: it prints one state per unit, in order
    states = (run(["systemctl", "is-active", *(unit for unit, _ in present.values())]) or "").splitlines()
    for position, (key, (_unit, path)) in enumerate(present.items()):
        active = position < len(states) and states[position] == "active"
        banner = run([path, "--version"]) if path else None
        match = re.search(r"(\d+\.\d+(?:\.\d+)*)", banner or "")
        found[key] = {"installed": True, "active": active, "version": match.group(1) if match else None}
    return found


def read_xids(reader: Reader) -> list[dict]:
    if reader.root != "/":
        text = reader.read("/var/log/kern.log", "") or ""
    else:
        text = run(["journalctl", "-k", "-b", "-q", "--no-pager", "-o", "cat"]) or run(["dmesg"]) or ""
    events = []
    for line in text.splitlines():
        match = XID.search(line)
        if match:
            events.append(
                {
                    "bus_id": sysfs_bus_id(match.group(1) + ".0"),
                    "xid": int(match.group(2)),
                    "line": line.strip()[:300],
                }
            )
    return events


def os_name() -> str:
    try:
        with open("/etc/os-release") as handle:
            for line in handle:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return os.uname().sysname


def read_file(path: str, limit: int = 65536):
    try:
        with open(path, errors="replace") as handle:
            return handle.read(limit)
    except OSError:
        return None


def read_os() -> dict:
    """The release files and dpkg's architecture, as text: the controller parses them."""
    os_release = read_file("/etc/os-release")
    if os_release is None:
        os_release = read_file("/usr/lib/os-release") or ""
    return {
        "os_release": os_release,
        "dgx_release": read_file("/etc/dgx-release"),
        "architecture": run(["dpkg", "--print-architecture"]) or "",
    }


def probe() -> dict:
    root = sysfs_root()
    reader = Reader(root)
    problems = []
    if not os.path.isdir(reader.path("/sys/devices")):
        problems.append(f"no sysfs under {root}")
    result = {
        "schema_version": 1,
        "hostname": os.uname().nodename,
        "kernel": os.uname().release,
        "os_name": os_name(),
        "sysfs_root": root,
        "cpu": read_cpu(reader),
        "numa": read_numa(reader),
        "nics": read_nics(reader),
        "xid_events": read_xids(reader),
        "problems": problems,
        "os": read_os(),
    }
    result.update(read_nvml(reader))
    result.update(read_services())
    return result


if __name__ == "__main__":
    print(json.dumps(probe()))
