"""The inventory: one YAML file describing a cluster, loaded into pydantic models (pure)."""

from .errors import Diagnostic, InventoryError, Severity
from .inventory import HostSSH, Inventory
from .loader import load_document, load_inventory
from .models import Host, InventorySpec, Profile

__all__ = [
    "Diagnostic",
    "Host",
    "HostSSH",
    "Inventory",
    "InventoryError",
    "InventorySpec",
    "Profile",
    "Severity",
    "load_document",
    "load_inventory",
]
