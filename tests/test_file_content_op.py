"""kubehaus's file write on a node: the yielded commands run here with a local shell (the upload is
done by hand), against a real directory, so what a node sees at each point of the write is checked."""

from __future__ import annotations

import os
import stat
import subprocess
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from pyinfra.api import FileUploadCommand

from deploys import operations
from deploys.facts import FileOnNode


def read_fact(path: str) -> dict[str, str] | None:
    """The FileOnNode fact, its command run by a local shell."""
    fact = FileOnNode()
    out = subprocess.run(["sh", "-c", fact.command(path)], capture_output=True, text=True, check=True).stdout
    return fact.process(out.splitlines())


def commands(monkeypatch: pytest.MonkeyPatch, content: bytes, dest: Path, mode: int) -> list:
    monkeypatch.setattr(operations, "host", SimpleNamespace(get_fact=lambda _fact, path: read_fact(path)))
    return list(operations.file_content._inner(content, str(dest), mode))


def run(command, upload_bytes: int | None = None) -> None:
    """One yielded command: a shell line, or the upload (cut short after ``upload_bytes``)."""
    if isinstance(command, FileUploadCommand):
        data = command.src.getvalue() if isinstance(command.src, BytesIO) else b""
        with open(command.dest, "r+b") as f:  # SFTP opens the existing file: its mode stays
            f.truncate()
            f.write(data if upload_bytes is None else data[:upload_bytes])
        return
    subprocess.run(["sh", "-c", str(command)], check=True)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown root:root needs root")


@needs_root
def test_a_new_file_is_written_whole_with_its_mode_and_then_left_alone(monkeypatch, tmp_path: Path) -> None:
    dest = tmp_path / "etc" / "join.yaml"
    for command in commands(monkeypatch, b"token: s3cret\n", dest, 0o600):
        run(command)
    assert dest.read_bytes() == b"token: s3cret\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert sorted(p.name for p in dest.parent.iterdir()) == ["join.yaml"]
    assert commands(monkeypatch, b"token: s3cret\n", dest, 0o600) == []


@needs_root
def test_only_the_mode_is_mended_when_the_content_is_right(monkeypatch, tmp_path: Path) -> None:
    dest = tmp_path / "a.conf"
    dest.write_bytes(b"x\n")
    dest.chmod(0o666)
    found = commands(monkeypatch, b"x\n", dest, 0o644)
    assert [str(c) for c in found] == [f"chmod 644 {dest}"]


@needs_root
def test_a_write_cut_short_leaves_the_old_file_whole_and_secret_bytes_unreadable(
    monkeypatch, tmp_path: Path
) -> None:
    dest = tmp_path / "config.toml"
    dest.write_bytes(b"old = true\n")
    dest.chmod(0o644)
    found = commands(monkeypatch, b"new = 'a much longer content than before'\n", dest, 0o644)
    upload = next(i for i, c in enumerate(found) if isinstance(c, FileUploadCommand))
    for command in found[:upload]:
        run(command)
    temp = Path(found[upload].dest)
    assert temp.parent == dest.parent and temp.name.endswith(operations.WRITE_SUFFIX)
    assert stat.S_IMODE(temp.stat().st_mode) == 0o600  # before a byte of the content is in it
    run(found[upload], upload_bytes=5)  # the run is killed mid-upload
    assert dest.read_bytes() == b"old = true\n"
    # the next apply starts over and finishes
    for command in commands(monkeypatch, b"new = 'a much longer content than before'\n", dest, 0o644):
        run(command)
    assert dest.read_bytes() == b"new = 'a much longer content than before'\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644 and not temp.exists()
