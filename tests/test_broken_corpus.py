"""Every broken inventory reports exactly the errors its footer lists, at those places.

Footer lines: ``# expect: [FILE:]LINE:COLUMN PATH`` (FILE when the error is in an imported
Ansible inventory), ``# expect-warning: ...`` for warnings, and ``# today: YYYY-MM-DD`` for the day
end of life is judged on (default ``CORPUS_DAY``, fixed so that the corpus never ages).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from bootstrap.inventory import InventoryError, Severity, load_inventory

CORPUS = Path(__file__).parent / "inventories" / "broken"
FILES = sorted(CORPUS.glob("*.yaml"))
_EXPECT = re.compile(r"^# (expect|expect-warning): (?:([\w.-]+):)?(\d+):(\d+) (\S+)$")
_TODAY = re.compile(r"^# today: (\d{4}-\d{2}-\d{2})$", re.MULTILINE)
CORPUS_DAY = date(2026, 9, 30)  # the compatibility matrix's facts are as of September 2026


def day_of(path: Path) -> date:
    found = _TODAY.search(path.read_text())
    return date.fromisoformat(found.group(1)) if found else CORPUS_DAY


def expectations(path: Path) -> set[tuple[str, str, int, int, str]]:
    found = set()
    for line in path.read_text().splitlines():
        match = _EXPECT.match(line)
        if match:
            kind, file, row, col, field = match.groups()
            severity = "error" if kind == "expect" else "warning"
            found.add((severity, file or path.name, int(row), int(col), "" if field == "-" else field))
    return found


def test_corpus_is_large_enough() -> None:
    assert len(FILES) >= 30


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_broken_inventory_reports_exactly_its_errors(path: Path) -> None:
    expected = expectations(path)
    assert any(e[0] == "error" for e in expected), f"{path.name} has no '# expect:' footer"
    with pytest.raises(InventoryError) as caught:
        load_inventory(path, end_of_life_on=day_of(path))
    actual = {
        (d.severity.value, Path(d.file).name, d.line, d.column, d.path) for d in caught.value.diagnostics
    }
    assert actual == expected
    for diagnostic in caught.value.diagnostics:
        assert diagnostic.message
        if diagnostic.severity is Severity.ERROR:
            assert diagnostic.hint, f"no hint for {diagnostic.format()}"
        assert diagnostic.format().startswith(f"{diagnostic.file}:{diagnostic.line}:{diagnostic.column}: ")


def test_unknown_key_suggests_the_near_miss() -> None:
    with pytest.raises(InventoryError) as caught:
        load_inventory(CORPUS / "host-unknown-key.yaml")
    unknown = [d for d in caught.value.diagnostics if "unknown key" in d.message]
    assert unknown[0].hint == "did you mean 'address'?"


def test_every_error_of_a_file_is_reported_at_once() -> None:
    with pytest.raises(InventoryError) as caught:
        load_inventory(CORPUS / "many-errors-at-once.yaml")
    assert len(caught.value.diagnostics) == 6
