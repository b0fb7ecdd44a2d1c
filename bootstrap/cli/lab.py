"""``kubehaus lab``: simulated GPU machines on this host, to try kubehaus without real servers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..inventory import InventoryError
from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_output, add_verb

HELP = "simulated GPU machines on this host (up, down, status, ssh, fault)"
DESCRIPTION = """\
The lab boots simulated GPU servers on this Linux host so kubehaus can be tried, and tested,
without real hardware: systemd-nspawn machines (systemd as PID 1, sshd) on a bridge in
198.18.0.0/24, each over a shared Debian 12 base, each with a simulated NVIDIA driver
(libnvidia-ml.so.1 serving the machine's profile) and a matching sysfs tree (GPUs, NVSwitches,
NICs, NUMA). Profiles: dgx-h100, dgx-a100, l40s-pcie, gb200-tray, cpu-only, with faults such as
nvlink-down. `lab up` also writes the matching kubehaus inventory (for the default lab:
inventory/lab.yaml). Needs root on Linux.
"""
EPILOG = """\
examples:
  sudo kubehaus lab up                      the default lab: cp-1, dgx-1, dgx-2 (NVLink down), l40s-1
  sudo kubehaus lab up my-lab.yaml          a lab of your own (format: docs/lab.md)
  sudo kubehaus lab status
  sudo kubehaus lab ssh dgx-1 -- python3 -c 'print(1)'
  sudo kubehaus lab fault dgx-1 --set nvlink-down   dgx-1 loses an NVLink now (--clear: back)
  sudo kubehaus lab down                    removes machines, mounts, namespaces, veths, bridge
"""


def register(verbs: argparse._SubParsersAction) -> None:
    parser = add_verb(verbs, "lab", HELP, DESCRIPTION, EPILOG)
    actions = parser.add_subparsers(dest="lab_action", metavar="ACTION", required=True)
    up = actions.add_parser(
        "up",
        help="build (once) and boot the lab's machines",
        description="Boot the machines of a lab spec (default: the embedded lab).",
    )
    up.add_argument("spec", nargs="?", type=Path, help="lab spec YAML (default: the embedded default lab)")
    up.add_argument(
        "--inventory-out",
        type=Path,
        metavar="FILE",
        help="where to write the kubehaus inventory (default: /var/lib/kubehaus/lab/<lab>/inventory.yaml)",
    )
    up.set_defaults(handler=run_up)
    for action, helptext, handler in (
        ("down", "remove everything the lab made", run_down),
        ("status", "list the lab's machines and whether they answer", run_status),
    ):
        sub = actions.add_parser(action, help=helptext, description=helptext)
        sub.add_argument("--name", help="lab name (default: the only lab that is up)")
        if action == "status":
            add_output(sub)
        sub.set_defaults(handler=handler)
    ssh = actions.add_parser(
        "ssh",
        help="open a shell (or run a command) on a lab machine",
        description="SSH to a lab machine with the lab's key and known_hosts.",
    )
    ssh.add_argument("machine")
    ssh.add_argument("command", nargs=argparse.REMAINDER, help="command to run (after --)")
    ssh.add_argument("--name", help="lab name (default: the only lab that is up)")
    ssh.set_defaults(handler=run_ssh)
    fault = actions.add_parser(
        "fault",
        help="change a running machine's simulated hardware (inject or clear faults)",
        description="Give a running lab machine exactly the faults named (its NVML profile and sysfs "
        "tree rewritten; the next probe sees them, no reboot), or none with --clear. The faults are "
        "those of lab specs (docs/lab.md), nvlink-down for one.",
    )
    fault.add_argument("machine")
    which = fault.add_mutually_exclusive_group(required=True)
    which.add_argument("--set", action="append", metavar="FAULT", dest="faults", help="a fault (repeatable)")
    which.add_argument("--clear", action="store_true", help="remove every fault")
    fault.add_argument("--name", help="lab name (default: the only lab that is up)")
    fault.set_defaults(handler=run_fault)


def _lab_name(args: argparse.Namespace) -> str | None:
    from ..lab.machines import known_labs

    if args.name:
        return args.name
    labs = known_labs()
    if len(labs) == 1:
        return labs[0]
    if not labs:
        return "kubehaus-lab"
    print(f"several labs are up ({', '.join(labs)}); choose one with --name", file=sys.stderr)
    return None


def run_up(args: argparse.Namespace) -> int:
    from ..lab.host import LabError
    from ..lab.machines import up
    from ..lab.spec import load_spec

    try:
        spec = load_spec(args.spec)
        up(spec, inventory_out=args.inventory_out, log=lambda m: print(m, file=sys.stderr))
    except InventoryError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic.format(), file=sys.stderr)
        return EXIT_USAGE
    except LabError as exc:
        print(f"lab up: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def run_down(args: argparse.Namespace) -> int:
    from ..lab.host import LabError, preflight
    from ..lab.machines import down

    name = _lab_name(args)
    if name is None:
        return EXIT_USAGE
    try:
        preflight()
        done = down(name, log=lambda m: print(m, file=sys.stderr))
    except LabError as exc:
        print(f"lab down: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not done:
        print(f"lab {name!r}: nothing to remove", file=sys.stderr)
    return EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    from ..lab.machines import status

    name = _lab_name(args)
    if name is None:
        return EXIT_USAGE
    record, machines = status(name)
    if args.output == "json":
        print(
            json.dumps(
                {
                    "lab": name,
                    "up": record is not None,
                    "inventory": record.inventory if record else None,
                    "mirror": record.mirror_url if record else None,
                    "registry": record.registry_url if record else None,
                    "machines": [asdict(m) for m in machines],
                },
                indent=2,
            )
        )
    elif record is None:
        print(f"lab {name!r} is not up")
    else:
        table = Table(
            title=f"lab {name} (inventory: {record.inventory}; mirror: {record.mirror_url}; "
            f"registry: {record.registry_url})"
        )
        for column in ("machine", "address", "role", "profile", "faults", "running", "ssh"):
            table.add_column(column)
        for m in machines:
            table.add_row(
                m.name,
                m.address,
                m.role,
                m.profile,
                ", ".join(m.faults) or "-",
                "yes" if m.running else "[red]no[/]",
                "yes" if m.ssh else "[red]no[/]",
            )
        Console().print(table)
    healthy = record is not None and all(m.running and m.ssh for m in machines)
    return EXIT_OK if healthy else EXIT_FAILED


def run_fault(args: argparse.Namespace) -> int:
    from ..lab.host import LabError
    from ..lab.runtime_faults import set_faults

    name = _lab_name(args)
    if name is None:
        return EXIT_USAGE
    try:
        machine = set_faults(name, args.machine, [] if args.clear else args.faults)
    except LabError as exc:
        print(f"lab fault: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{machine.name}: faults now {', '.join(machine.faults) or 'none'}")
    return EXIT_OK


def run_ssh(args: argparse.Namespace) -> int:
    from ..lab.host import LabError
    from ..lab.machines import ssh_command

    name = _lab_name(args)
    if name is None:
        return EXIT_USAGE
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        argv = ssh_command(name, args.machine, command)
    except LabError as exc:
        print(f"lab ssh: {exc}", file=sys.stderr)
        return EXIT_USAGE
    os.execvp(argv[0], argv)
    return EXIT_FAILED  # not reached
