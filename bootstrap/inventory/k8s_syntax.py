"""Kubernetes naming rules (apimachinery's validation), so bad names fail before any join."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUANTITY = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


def dns1123_label_error(value: str) -> str | None:
    if len(value) > 63:
        return f"{value!r} is longer than 63 characters"
    if not _DNS1123_LABEL.match(value):
        return (
            f"{value!r} is not a DNS-1123 label "
            "(lower-case letters, digits and '-', starting and ending alphanumeric)"
        )
    return None


def dns1123_subdomain_error(value: str) -> str | None:
    if not value:
        return "the name is empty"
    if len(value) > 253:
        return f"{value!r} is longer than 253 characters"
    for part in value.split("."):
        if not part or dns1123_label_error(part):
            return (
                f"{value!r} is not a DNS-1123 name (lower-case letters, digits, '-' and '.', "
                "each part starting and ending alphanumeric)"
            )
    return None


def label_key_error(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        return f"label key {key!r} has an empty prefix"
    if prefix and dns1123_subdomain_error(prefix):
        return f"label key prefix {prefix!r} must be a DNS-1123 subdomain (e.g. example.com)"
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return (
            f"label key {key!r}: the name part must be 1-63 characters of letters, digits, "
            "'-', '_' or '.', starting and ending alphanumeric"
        )
    return None


def label_value_error(value: str) -> str | None:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return (
            f"label value {value!r} must be at most 63 characters of letters, digits, '-', '_' "
            "or '.', starting and ending alphanumeric (or empty)"
        )
    return None


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    def __str__(self) -> str:
        value = f"={self.value}" if self.value else ""
        return f"{self.key}{value}:{self.effect}"


def parse_taint(text: str) -> Taint:
    """Parse kubectl's ``key[=value]:Effect`` form; raise ValueError saying what is wrong."""
    body, sep, effect = text.rpartition(":")
    if not sep:
        raise ValueError(f"taint {text!r} has no effect; write key[=value]:Effect")
    if effect not in TAINT_EFFECTS:
        raise ValueError(f"taint effect {effect!r} must be one of {', '.join(TAINT_EFFECTS)}")
    key, _, value = body.partition("=")
    problem = label_key_error(key) if key else f"taint {text!r} has an empty key"
    if problem:
        raise ValueError(problem.replace("label key", "taint key"))
    problem = label_value_error(value)
    if problem:
        raise ValueError(problem.replace("label value", "taint value"))
    return Taint(key, value, effect)


def parse_quantity(text: str) -> float:
    """A Kubernetes resource quantity in base units (bytes, cores)."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (e.g. 2Gi, 500Mi, 1, 500m)")
    number = float(match.group(1))
    suffix = match.group(3) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    return number * _DECIMAL.get(suffix, 1.0)
