"""Pieces every verb shares: loading the inventory with located errors, output choice."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..inventory import Inventory, InventoryError, load_inventory
from ..outcome import EXIT_FAILED, EXIT_HELD_OUT, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from ..runner import Runner

__all__ = ["EXIT_FAILED", "EXIT_HELD_OUT", "EXIT_OK", "EXIT_USAGE"]


def add_verb(
    verbs: argparse._SubParsersAction, name: str, summary: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    """A verb's parser: one-line summary for the verb list, a description and examples for --help."""
    return verbs.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write YYYY-MM-DD") from None


def add_today(parser: argparse.ArgumentParser) -> None:
    """``--today``: the day end of life is judged on (a fixed day makes a check reproducible)."""
    parser.add_argument(
        "--today",
        type=_day,
        default=datetime.now(UTC).date(),
        metavar="YYYY-MM-DD",
        help="judge end of life as of this day (default: today, UTC)",
    )


def add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        "-o",
        choices=("text", "json"),
        default="text",
        help="text for people (default) or json for other tools",
    )


def add_limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit",
        "-l",
        action="append",
        metavar="HOSTS",
        help="only these hosts: names or roles (control-plane, worker), comma separated; repeatable",
    )


def limit_of(args: argparse.Namespace) -> list[str] | None:
    if not args.limit:
        return None
    return [name.strip() for item in args.limit for name in item.split(",") if name.strip()]


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """Options of every verb that contacts hosts."""
    add_limit(parser)
    add_output(parser)
    parser.add_argument(
        "--trust-new-host-keys",
        action="store_true",
        help="accept and record host keys not yet in known_hosts (trust on first use); "
        "a changed key is still refused",
    )
    parser.add_argument("--state-dir", metavar="DIR", help="override cluster.state_dir")
    parser.add_argument(
        "--parallel",
        type=positive_int,
        metavar="N",
        help="hosts worked on at once (default: 20 per controller CPU core)",
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def register_host_verb(
    verbs: argparse._SubParsersAction,
    name: str,
    summary: str,
    description: str,
    epilog: str,
    handler: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """A verb that loads an inventory and contacts its hosts."""
    parser = add_verb(verbs, name, summary, description, epilog)
    parser.add_argument("inventory", metavar="INVENTORY")
    add_connection_options(parser)
    if name in ("apply", "plan"):  # the compatibility check against the cluster (docs/versions.md)
        add_today(parser)
    parser.set_defaults(handler=handler)
    return parser


def prepare_run(
    args: argparse.Namespace,
    phases: Callable[[], list],
    dry_run: bool = False,
    judge: Callable[[dict], dict] | None = None,
) -> tuple[Inventory, Runner] | None:
    """Load the inventory and build the runner; None after reporting why not (exit 2)."""
    inventory = load_or_report(args.inventory)
    if inventory is None:
        return None
    runner = build_runner(args, inventory, phases(), dry_run, judge)
    return None if runner is None else (inventory, runner)


def build_runner(
    args: argparse.Namespace,
    inventory: Inventory,
    phases: list,
    dry_run: bool = False,
    judge: Callable[[dict], dict] | None = None,
) -> Runner | None:
    """The runner for a verb's phases with the shared options; None after reporting a bad --limit."""
    from ..runner import Runner, RunOptions
    from ..state_dir import StateDir
    from .display import ConsoleProgress

    try:
        options = RunOptions(
            limit=limit_of(args),
            trust_new_host_keys=args.trust_new_host_keys,
            parallel=args.parallel,
            dry_run=dry_run,
            prune=getattr(args, "prune", False),
            today=getattr(args, "today", None),
        )
        state_dir = StateDir(Path(args.state_dir)) if args.state_dir else None
        return Runner(inventory, phases, options, ConsoleProgress(), state_dir, judge)
    except KeyError as exc:
        print(f"--limit names unknown hosts: {exc.args[0]}", file=sys.stderr)
        return None


def load_or_report(path: str) -> Inventory | None:
    """Load an inventory; print every located error and return None if it has any."""
    try:
        inventory = load_inventory(path)
    except InventoryError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic.format(), file=sys.stderr)
        print(
            f"{path}: {len([d for d in exc.diagnostics if d.severity == 'error'])} error(s); "
            "nothing was contacted",
            file=sys.stderr,
        )
        return None
    for warning in inventory.warnings:
        print(warning.format(), file=sys.stderr)
    return inventory
