"""Precise types for inventory values that reach a file or a command line.

Every string an operator writes ends up somewhere: an ssh_config, a deb822 apt source, an Ansible
argument list, a kubelet config, a shell command on a node. Each type here admits only what its
target can carry as plain data (no newline, no quote, no shell or config syntax), and its error
says what is allowed. The renderers still serialise or quote: the types are the first wall, not
the only one.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictFloat, StrictInt

from .k8s_syntax import dns1123_subdomain_error

# C0 and C1 controls, DEL and the Unicode line/paragraph separators: anything that can end a
# line in some parser or move a terminal's cursor.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
POSIX_USER = r"[A-Za-z_][A-Za-z0-9_.-]*"  # at most 32 characters
MAX_USER = 32
CONTAINER_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
MAX_PATH = 4096
MAX_PATH_PART = 255
MAX_TEXT = 256


def shown(value: Any, limit: int = 60) -> str:
    """A value for an error message: repr (control characters escaped), cut to ``limit``."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...'"


def require_text(value: Any) -> Any:
    """Reject YAML numbers where text is meant: ``1.30`` silently becomes 1.3 otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"expected text, but YAML read the boolean {str(value).lower()}; put it in quotes")
    if isinstance(value, int | float):
        raise ValueError(f"expected text, but YAML read the number {value!r}; put it in quotes")
    return value


def _refuse_bool(value: Any) -> Any:
    """YAML ``true`` is not the number 1 (pydantic's lax mode would say it is)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, but YAML read the boolean {str(value).lower()}")
    return value


def _pattern(regex: str, allowed: str, max_length: int) -> AfterValidator:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if len(value) > max_length or not compiled.fullmatch(value):
            raise ValueError(f"{shown(value)} is not allowed: {allowed}; at most {max_length} characters")
        return value

    return AfterValidator(check)


def _check_free_text(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError(
            f"{shown(value)} holds a control character (newline, tab, escape, NUL...): write it on one line"
        )
    if len(value) > MAX_TEXT:
        raise ValueError(f"text is longer than {MAX_TEXT} characters")
    return value


def _check_path(value: str) -> str:
    if not value:
        raise ValueError("the path is empty")
    if CONTROL_CHARACTERS.search(value) or '"' in value:
        raise ValueError(
            f"{shown(value)} holds a control character (newline, tab, NUL...) or a double quote; "
            "a path here is one line of ordinary characters"
        )
    if len(value) > MAX_PATH:
        raise ValueError(f"the path is longer than {MAX_PATH} characters")
    if any(len(part.encode()) > MAX_PATH_PART for part in value.split("/")):
        raise ValueError(f"a part of the path is longer than {MAX_PATH_PART} bytes (the system's limit)")
    return value


_URL_CHARACTERS = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")


def check_ipv4_or_dns(value: str) -> str:
    """An IPv4 address or a DNS name (IPv6 is refused: see README, "Inventory validation")."""
    text = value.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        if dns1123_subdomain_error(text.lower()):
            raise ValueError(f"{shown(value)} is neither an IP address nor a DNS name") from None
        return text
    if address.version == 6:
        raise ValueError(
            f"{shown(value)} is an IPv6 address; kubehaus supports IPv4 clusters only (kubeadm, "
            "the CNI ranges and the lab are set up for IPv4): use the host's IPv4 address or DNS name"
        )
    return text


def check_url(value: str) -> str:
    """An http(s) URL with a host and nothing a deb822 field or a shell could read as syntax."""
    if len(value) > 2048:
        raise ValueError("the URL is longer than 2048 characters")
    if not _URL_CHARACTERS.fullmatch(value):
        raise ValueError(
            f"{shown(value)} is not a URL: only the characters of RFC 3986 are allowed "
            "(no spaces, quotes or control characters; percent-encode them)"
        )
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{shown(value)} must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the URL holds user credentials; they would be written to the nodes' apt sources")
    if parts.query or parts.fragment:
        raise ValueError(f"{shown(value)} has a query or fragment; give the mirror's base URL")
    host = parts.hostname
    if not host:
        raise ValueError(f"{shown(value)} names no host")
    check_ipv4_or_dns(host)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{shown(value)} has a port that is not a number in 1-65535") from None
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 1-65535")
    return value


def _check_ssh_path(value: str) -> str:
    _check_path(value)
    if "%" in value or "\\" in value or "~" in value.removeprefix("~/"):
        raise ValueError(
            f"{shown(value)} holds '%', a backslash or a '~' after the start, which ssh reads as a "
            "token, an escape or the home directory; rename or link the file"
        )
    return value


def _check_url_or_path(value: str) -> str:
    if "://" in value:
        return check_url(value)
    return _check_path(value)


def _text(*validators: Any) -> Any:
    return Annotated[str, BeforeValidator(require_text), *validators]


FreeText = _text(AfterValidator(_check_free_text))
LocalPath = _text(AfterValidator(_check_path))
SshPath = _text(AfterValidator(_check_ssh_path))
Url = _text(AfterValidator(check_url))
UrlOrPath = _text(AfterValidator(_check_url_or_path))
PosixUser = _text(
    _pattern(
        POSIX_USER,
        "a user name is letters, digits, '_', '.' and '-', starting with a letter or '_'",
        MAX_USER,
    )
)
ContainerName = _text(
    _pattern(
        CONTAINER_NAME,
        "a container name is letters, digits, '_', '.' and '-' ([A-Za-z0-9_.-]), starting alphanumeric",
        128,
    )
)
ProfileName = _text(
    _pattern(
        r"[A-Za-z0-9][A-Za-z0-9_.-]*",
        "a profile name is letters, digits, '_', '.' and '-', starting alphanumeric, e.g. dgx-h100",
        63,
    )
)
AnsibleGroup = _text(
    _pattern(
        r"[A-Za-z0-9_][A-Za-z0-9_.-]*",
        "an Ansible group name is letters, digits, '_', '.' and '-', e.g. gpu_h100",
        128,
    )
)
KubeletOptionName = _text(
    _pattern(
        r"[a-z0-9]([a-z0-9-]*[a-z0-9])?",
        "a kubelet policy option is lower-case letters, digits and '-', e.g. full-pcpus-only",
        63,
    )
)
KubeletOptionValue = _text(
    _pattern(
        r"[A-Za-z0-9_.-]+",
        "an option value is letters, digits, '_', '.' and '-', e.g. \"true\"",
        63,
    )
)
TopologyLevel = _text(
    _pattern(
        r"[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?",
        "a topology level is a host topology key: letters, digits, '_', '.' and '-', e.g. rack",
        63,
    )
)

Int = Annotated[StrictInt, BeforeValidator(_refuse_bool)]
Int32 = Annotated[Int, Field(ge=-(2**31), le=2**31 - 1)]
Count = Annotated[Int, Field(ge=0, le=2**31 - 1)]
Finite = Annotated[StrictFloat, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
NoBool = BeforeValidator(_refuse_bool)
