"""containerd stand-in daemon: reads its config like containerd 2.x, then listens on the CRI socket.

What it checks, as the real one does: config.toml parses, its ``version`` is supported, imports are
followed (globs, in order) and merged. It reports what the merged config enables (CRI plugin, CDI,
NRI, systemd cgroups) in a status file the kubelet stand-in and the tests read; a CRI plugin left in
``disabled_plugins`` (the containerd.io package's default config) makes the kubelet fail as it would.
"""

from __future__ import annotations

import glob
import json
import os
import socket
import sys
import time
import tomllib
from typing import Any

from .common import die, notify_ready, path, version_line, write_private
from .node import CRI_SOCKET, RUNTIME_STATUS

CONFIG = "/etc/containerd/config.toml"


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load(config_file: str) -> tuple[dict[str, Any], list[str]]:
    def read(file: str) -> dict[str, Any]:
        try:
            with open(file, "rb") as handle:
                return tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            die(f"containerd: failed to load TOML from {file}: {exc}")
        except OSError:
            return {}

    main = read(path(config_file))
    files = [config_file]
    merged = main
    for pattern in main.get("imports", []):
        for file in sorted(glob.glob(path(pattern))):
            imported = read(file)
            if imported.get("version", main.get("version", 1)) != main.get("version", 1):
                die(
                    f"containerd: {file}: config version {imported.get('version')} does not match {main.get('version')}"
                )
            merged = merge(merged, {k: v for k, v in imported.items() if k not in ("version", "imports")})
            files.append(file)
    version = merged.get("version", 1)
    if version == 1:  # containerd 2.x migrates a version 1 config (the containerd.io default) itself
        version = merged["version"] = 2
    if version not in (2, 3):
        die(f"containerd: unsupported config version {version} (containerd 2.x reads 2 and 3)")
    return merged, files


def status_of(config: dict[str, Any]) -> dict[str, Any]:
    plugins = config.get("plugins", {})
    disabled = set(config.get("disabled_plugins", []))
    if config.get("version") == 3:
        cri = plugins.get("io.containerd.cri.v1.runtime", {})
        cri_enabled = not disabled & {"cri", "io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime"}
    else:
        cri = plugins.get("io.containerd.grpc.v1.cri", {})
        cri_enabled = not disabled & {"cri", "io.containerd.grpc.v1.cri"}
    runc = cri.get("containerd", {}).get("runtimes", {}).get("runc", {}).get("options", {})
    nri = plugins.get("io.containerd.nri.v1.nri", {})
    return {
        "cri": cri_enabled,
        "cdi": bool(cri.get("enable_cdi", config.get("version") == 3)),
        "cdi_spec_dirs": cri.get("cdi_spec_dirs", ["/etc/cdi", "/var/run/cdi"]),
        "nri": not nri.get("disable", config.get("version") != 3),
        "systemd_cgroup": bool(runc.get("SystemdCgroup", False)),
    }


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["-v"]):
        print(version_line("containerd"))
        return
    if argv[:2] == ["config", "dump"]:
        merged, _ = load(CONFIG)
        print(json.dumps(merged, indent=2))
        return
    if argv:
        die(f"containerd (stand-in): {' '.join(argv)!r} is not simulated", 3)
    merged, files = load(CONFIG)
    write_private(path(RUNTIME_STATUS), json.dumps({**status_of(merged), "config_files": files}), 0o644)
    socket_path = path(CRI_SOCKET)
    os.makedirs(os.path.dirname(socket_path), exist_ok=True)
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(8)
    print(f"containerd stand-in serving on {socket_path}", flush=True)
    notify_ready()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
