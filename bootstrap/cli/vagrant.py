"""``kubehaus vagrant-inventory``: the inventory for a Vagrant cluster, from `vagrant ssh-config`."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .common import EXIT_OK, EXIT_USAGE, add_verb

HELP = "write a kubehaus inventory for Vagrant VMs from `vagrant ssh-config`"
DESCRIPTION = """\
Read `vagrant ssh-config` (run here, or from --ssh-config FILE) and write the matching kubehaus
inventory: one host per VM with its address, port, user and private key. Host keys are still
verified: the first run against the VMs needs --trust-new-host-keys, which records them in the
cluster's known_hosts (Vagrant itself turns checking off). See docs/vagrant.md.
"""
EPILOG = """\
examples:
  cd vagrant && vagrant up && kubehaus vagrant-inventory --control-plane cp1 -o ../inventory/vagrant.yaml
  vagrant ssh-config > ssh.cfg; kubehaus vagrant-inventory --ssh-config ssh.cfg --control-plane cp1
"""


def register(verbs: argparse._SubParsersAction) -> None:
    parser = add_verb(verbs, "vagrant-inventory", HELP, DESCRIPTION, EPILOG)
    parser.add_argument("--ssh-config", type=Path, metavar="FILE", help="saved `vagrant ssh-config` output")
    parser.add_argument(
        "--control-plane",
        action="append",
        required=True,
        metavar="VM",
        help="VM to make a control plane (repeatable)",
    )
    parser.add_argument("--cluster", default="vagrant", help="cluster name (default: vagrant)")
    parser.add_argument("--profile", help="profile name to give every VM (a profile without GPUs)")
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here (default: stdout)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..inventory.vagrant import vagrant_inventory

    if args.ssh_config:
        text = args.ssh_config.read_text()
    else:
        try:
            text = subprocess.run(
                ["vagrant", "ssh-config"], capture_output=True, text=True, check=True
            ).stdout
        except (OSError, subprocess.CalledProcessError) as exc:
            print(
                f"vagrant ssh-config failed ({exc}); run it in the Vagrantfile's directory, "
                "or pass --ssh-config",
                file=sys.stderr,
            )
            return EXIT_USAGE
    try:
        inventory = vagrant_inventory(text, args.cluster, args.control_plane, args.profile)
    except ValueError as exc:
        print(f"vagrant-inventory: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.output:
        args.output.write_text(inventory)
        print(f"written: {args.output} (check it with: kubehaus validate {args.output})", file=sys.stderr)
    else:
        print(inventory, end="")
    return EXIT_OK
