"""The engine's shape: phases/ holds only phases, none importing another; shared helpers live in
phase_support/ and import no phase; the probe-and-judge sequence is written once."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1] / "bootstrap"


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports (also inside functions), as dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p) if node.level else node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def phase_modules() -> list[Path]:
    return sorted(p for p in (ROOT / "phases").glob("*.py") if p.name != "__init__.py")


def test_no_phase_imports_another_phase() -> None:
    phases = {f"bootstrap.phases.{p.stem}" for p in phase_modules()}
    for path in phase_modules():
        imported = imported_modules(path, "bootstrap.phases")
        assert not imported & phases, f"{path.name} imports {sorted(imported & phases)}"


def test_phase_support_imports_no_phase() -> None:
    for path in sorted((ROOT / "phase_support").glob("*.py")):
        imported = imported_modules(path, "bootstrap.phase_support")
        assert not any(m.startswith("bootstrap.phases") for m in imported), path.name


def test_every_phase_module_defines_a_phase() -> None:
    for path in phase_modules():
        tree = ast.parse(path.read_text())
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
        assert any(c.name.endswith("Phase") for c in classes), f"{path.name} is not a phase"


def test_the_probe_and_judge_sequence_is_written_once() -> None:
    """Saving a probed topology, judging it and writing the health report are phase_support/probe.py's:
    no phase does one of them itself (verify judges every host: that is the gate)."""
    for path in phase_modules():
        text = path.read_text().replace("write_health_report(", "")
        assert not ("write_json" in text and "topology_file(" in text), f"{path.name} saves a topology"
        assert "health_report(" not in text, f"{path.name} builds the health report"
        assert "probe_host(" not in text or "rejudge(" in text, f"{path.name} probes without judging"
