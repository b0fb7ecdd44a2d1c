"""``kubehaus schema``: the inventory's JSON Schema, for editors and CI linters."""

from __future__ import annotations

import argparse
import json

from ..inventory import InventorySpec
from .common import add_verb

HELP = "print the inventory JSON Schema (for editor completion)"
EPILOG = """\
examples:
  kubehaus schema > kubehaus.schema.json
  # then, first line of an inventory, for editors using yaml-language-server:
  # yaml-language-server: $schema=./kubehaus.schema.json
"""


def inventory_schema() -> dict:
    return InventorySpec.model_json_schema(mode="validation")


def register(verbs: argparse._SubParsersAction) -> None:
    parser = add_verb(verbs, "schema", HELP, HELP, EPILOG)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(json.dumps(inventory_schema(), indent=2, sort_keys=True))
    return 0
