"""No input, however broken, makes the loader raise anything but a located InventoryError."""

from __future__ import annotations

import contextlib
import copy
import os
import re
import resource
import signal
import tempfile
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from bootstrap.inventory import Inventory, InventoryError, load_inventory
from bootstrap.inventory.loader import INTERNAL_ERROR, load_document
from bootstrap.inventory.value_types import CONTROL_CHARACTERS as CONTROL
from bootstrap.inventory.yaml_source import parse_yaml_text

REPO = Path(__file__).parent.parent
VALID = (REPO / "inventory" / "dgx-h100-pod.yaml").read_text()


def load_text(text: str) -> Inventory | InventoryError:
    """Load from text; return the error instead of raising so tests can inspect both."""
    document, problems = parse_yaml_text(text, "fuzz.yaml")
    if document is None:
        assert problems
        return InventoryError(problems)
    try:
        return load_document(document, REPO / "inventory")
    except InventoryError as exc:
        return exc


def assert_located(result: Inventory | InventoryError, text: str) -> None:
    if isinstance(result, InventoryError):
        assert result.diagnostics
        line_count = max(1, text.count("\n") + 1)
        for diagnostic in result.diagnostics:
            assert diagnostic.message
            if diagnostic.file == "fuzz.yaml":
                assert 1 <= diagnostic.line <= line_count + 1
                assert diagnostic.column >= 1


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["1.34", "198.18.0.1", "control-plane", "NoSchedule", "~", "-1"]),
)
yaml_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text_never_escapes(text: str) -> None:
    assert_located(load_text(text), text)


@settings(max_examples=200, deadline=None)
@given(yaml_values)
def test_arbitrary_yaml_documents_never_escape(value: Any) -> None:
    stream = StringIO()
    YAML(typ="safe").dump(value, stream)
    text = stream.getvalue()
    assert_located(load_text(text), text)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _mutate(base: dict, path: tuple, action: str, payload: Any) -> dict:
    data = copy.deepcopy(base)
    if not path:
        return {"__root__": payload} if action == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = payload
    elif action == "add-key" and isinstance(parent[last], dict):
        parent[last]["unexpected_" + str(payload)[:8]] = payload
    return data


VALID_DATA = YAML(typ="safe").load(VALID)
PATHS = _paths(VALID_DATA)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), st.sampled_from(["delete", "replace", "add-key"]), yaml_values)
def test_mutated_valid_inventory_never_escapes(path: tuple, action: str, payload: Any) -> None:
    mutated = _mutate(VALID_DATA, path, action, payload)
    stream = StringIO()
    YAML(typ="safe").dump(mutated, stream)
    text = stream.getvalue()
    assert_located(load_text(text), text)


def test_the_unmutated_inventory_is_valid() -> None:
    assert isinstance(load_text(VALID), Inventory)


# --- issue 17: 10,000 mutated shipped examples, special files included -------------------------
#
# Each case writes a mutated copy of a shipped example (text-level edits: hostile payloads, YAML
# tags/aliases/merge keys, control characters, truncation, malformed Ansible INI) or picks a
# special file, and loads it the way `kubehaus validate` does. Asserted per case: only Inventory
# or InventoryError comes back (no traceback, no internal-error diagnostic), every diagnostic is
# one located line with no raw control character, a 5 s alarm (no hang); for the whole run an
# address-space limit of +1 GiB (no memory blow-up). Derandomized: CI runs the same 10,000 cases.

FUZZ_EXAMPLES = int(os.environ.get("KUBEHAUS_FUZZ_EXAMPLES", "10000"))
CASE_SECONDS = 5
EXAMPLES = {
    name: (REPO / "inventory" / name).read_text()
    for name in ("kind-nodes.yaml", "kubespray-import.yaml", "small.yaml", "lab.yaml", "dgx-h100-pod.yaml")
}
# the big examples parse in 20-40 ms, the small in 7-14: draw the small ones more often
WEIGHTED_EXAMPLES = [
    *["kind-nodes.yaml"] * 3,
    *["kubespray-import.yaml"] * 3,
    *["small.yaml"] * 2,
    "lab.yaml",
    "dgx-h100-pod.yaml",
]
EXAMPLE_DATA = {
    name: (data, _paths(data)) for name, data in ((n, YAML(typ="safe").load(t)) for n, t in EXAMPLES.items())
}
KUBESPRAY_INI = (REPO / "inventory" / "kubespray" / "hosts.ini").read_text()
PAYLOADS = [
    '"ops\\n  ProxyCommand touch /tmp/kubehaus-pwned\\n#"',
    '"/tmp/kh\\n  StrictHostKeyChecking no"',
    '"http://198.18.0.1/\\nTrusted: yes"',
    '"kind; touch /tmp/kubehaus-pwned"',
    '"$(touch /tmp/kubehaus-pwned)"',
    '"\\x1b[2J\\x1b]0;t\\x07"',
    '"a\\0b"',
    "!!python/object:os.system {}",
    "!!python/name:os.system",
    "!!float abc",
    "!!bool maybe",
    "!!int 1.5",
    "!!set {a, b}",
    "!!binary aGk=",
    "!!timestamp 2001-12-14",
    "!local x",
    "*undefined",
    "&a [*a]",
    "{<<: *a}",
    ".nan",
    "-.inf",
    "true",
    "1267650600228229401496703205376",
    "-1",
    "0x1F",
    "1e400",
    "[a, b]",
    "{a: 1}",
    "[]",
    "{}",
    "~",
    "''",
    '"gpu[0:3000000]"',
    '"[::1]:6443"',
    "fd00::1",
    '"' + "x" * 300 + '"',
    "'" + "/a" * 2100 + "'",
    "2024-01-01",
    "null",
    "'%d %h ~'",
]
ODD_CHARACTERS = [
    "\x00",
    "\t",
    "\r",
    "\x1b",
    "\x85",
    "\u2028",
    "\ufeff",
    "\ud7ff",
    ":",
    "- ",
    "#",
    "&",
    "*",
    '"',
    "'",
    "{",
    "[",
    "|",
    ">",
]


def _mutate_text(text: str, data: st.DataObject) -> str:
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 3))):
        lines = lines or [""]
        index = data.draw(st.integers(0, max(0, len(lines) - 1)))
        op = data.draw(
            st.sampled_from(["value", "value", "insert", "delete", "dup", "chars", "truncate", "indent"])
        )
        line = lines[index] if lines else ""
        if op == "value" and ":" in line:
            key = line.split(":", 1)[0]
            lines[index] = f"{key}: {data.draw(st.sampled_from(PAYLOADS))}"
        elif op == "insert":
            indent = " " * data.draw(st.sampled_from([0, 2, 4, 6]))
            key = data.draw(
                st.sampled_from(["user", "port", "bastion", "container", "state_dir", "x", "<<", "profile"])
            )
            lines.insert(index, f"{indent}{key}: {data.draw(st.sampled_from(PAYLOADS))}")
        elif op == "delete" and lines:
            del lines[index]
        elif op == "dup" and lines:
            lines.insert(index, line)
        elif op == "chars":
            at = data.draw(st.integers(0, len(line)))
            odd = data.draw(st.sampled_from(ODD_CHARACTERS))
            lines[index] = line[:at] + odd * data.draw(st.integers(1, 3)) + line[at:]
        elif op == "truncate":
            lines = lines[: index + 1]
            lines[-1] = line[: data.draw(st.integers(0, len(line)))]
        elif op == "indent":
            lines[index] = " " * data.draw(st.integers(1, 3)) + line
    return "\n".join(lines)


SPECIAL = [
    "fifo",
    "dev-zero",
    "dev-urandom",
    "directory",
    "sparse-2GiB",
    "17MiB",
    "loop-link",
    "missing",
    "long-name",
]


def _special_file(kind: str, tmp: Path) -> Path:
    if kind == "fifo":
        os.mkfifo(tmp / "fifo.yaml")
        return tmp / "fifo.yaml"
    if kind in ("dev-zero", "dev-urandom"):
        return Path("/dev/" + kind.removeprefix("dev-"))
    if kind == "directory":
        return tmp
    if kind == "sparse-2GiB":
        with (tmp / "sparse.yaml").open("wb") as handle:
            handle.truncate(2 << 30)
        return tmp / "sparse.yaml"
    if kind == "17MiB":
        (tmp / "big.yaml").write_text("# x\n" * (17 * 256 * 1024))
        return tmp / "big.yaml"
    if kind == "loop-link":
        (tmp / "loop.yaml").symlink_to(tmp / "loop.yaml")
        return tmp / "loop.yaml"
    if kind == "long-name":
        return tmp / ("x" * 300 + ".yaml")
    return tmp / "missing.yaml"


WRONG_TYPES = st.one_of(
    scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=8), scalars, max_size=3)
)
FAST_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
OUTCOMES = {"valid": 0, "refused": 0, "special files": 0}
_LOCATED = re.compile(r"^[^\n]*:\d+:\d+: [^\n]*: [^\n]*$")


def _check_case(path: Path) -> None:
    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"loading {path} took over {CASE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(CASE_SECONDS)
    try:
        load_inventory(path)
        OUTCOMES["valid"] += 1
    except InventoryError as exc:
        OUTCOMES["refused"] += 1
        assert exc.diagnostics
        for diagnostic in exc.diagnostics:
            head, *rest = diagnostic.format().split("\n")
            assert _LOCATED.match(head), head
            assert not CONTROL.search(head + "".join(rest)), head
            assert len(rest) <= 1
            assert INTERNAL_ERROR not in diagnostic.message, diagnostic.format()
            assert diagnostic.line >= 1 and diagnostic.column >= 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _address_space_limit(extra: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as handle:
        size = int(handle.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(st.data())
def _fuzz_case(data: st.DataObject) -> None:
    if data.draw(st.integers(0, 9)) == 0:
        with tempfile.TemporaryDirectory(prefix="kubehaus-fuzz-") as name:
            OUTCOMES["special files"] += 1
            _check_case(_special_file(data.draw(st.sampled_from(SPECIAL)), Path(name)))
        return
    tmp = FUZZ_DIR[0]  # one directory for all ordinary cases: rmdir was a tenth of the run
    example = data.draw(st.sampled_from(WEIGHTED_EXAMPLES))
    text = EXAMPLES[example]
    if example == "kubespray-import.yaml":
        ini = _mutate_text(KUBESPRAY_INI, data) if data.draw(st.booleans()) else KUBESPRAY_INI
        (tmp / "kubespray" / "hosts.ini").write_text(ini, errors="surrogatepass")
    path = tmp / example
    if data.draw(st.integers(0, 3)) == 0:  # wrong types at every path, as data
        base, paths = EXAMPLE_DATA[example]
        mutated = _mutate(
            base,
            data.draw(st.sampled_from(paths)),
            data.draw(st.sampled_from(["delete", "replace", "replace", "add-key"])),
            data.draw(WRONG_TYPES),
        )
        text = yaml.dump(mutated, Dumper=FAST_DUMPER, allow_unicode=True)
    else:
        text = _mutate_text(text, data)
    path.write_text(text, errors="surrogatepass")
    _check_case(path)


FUZZ_DIR: list[Path] = []


def test_ten_thousand_mutated_examples_load_with_located_errors_only() -> None:
    started = time.monotonic()
    with _address_space_limit(1 << 30), tempfile.TemporaryDirectory(prefix="kubehaus-fuzz-") as shared:
        FUZZ_DIR[:] = [Path(shared)]
        (FUZZ_DIR[0] / "kubespray").mkdir()
        for kind in SPECIAL:  # each kind at least once, whatever hypothesis draws
            with tempfile.TemporaryDirectory(prefix="kubehaus-fuzz-") as name:
                _check_case(_special_file(kind, Path(name)))
        _fuzz_case()
    print(f"{FUZZ_EXAMPLES} fuzz cases in {time.monotonic() - started:.1f} s: {OUTCOMES}")
    assert OUTCOMES["valid"] and OUTCOMES["refused"] and OUTCOMES["special files"]
