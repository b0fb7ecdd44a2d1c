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
from pyinfra.api import FileUploadCommand, StringCommand
from pyinfra.connectors.ssh import SSHConnector

from deploys import operations
from deploys.facts import FileOnNode


def read_fact(path: str) -> dict[str, str] | None:
    """The FileOnNode fact, its command run by a local shell."""
    fact = FileOnNode()
    out = subprocess.run(["sh", "-c", fact.command(path)], capture_output=True, text=True, check=True).stdout
    return fact.process(out.splitlines())


def commands(
    monkeypatch: pytest.MonkeyPatch, content: bytes, dest: Path, mode: int, sudo_user: str | None = None
) -> list:
    """``sudo_user``: the operation runs with ``_sudo`` (``ssh.sudo: true``) as this SSH user."""
    fake = SimpleNamespace(
        get_fact=lambda _fact, path: read_fact(path),
        current_op_global_arguments={"_sudo": True} if sudo_user else {},
        data={"ssh_user": sudo_user} if sudo_user else {},
        get_temp_filename=lambda key, temp_directory: f"{temp_directory}/pyinfra-{abs(hash(key))}",
    )
    monkeypatch.setattr(operations, "host", fake)
    return list(operations.file_content._inner(content, str(dest), mode))


def sftp_write(path: str, data: bytes) -> None:
    """What SFTP does: open (creating at the SFTP server's default 0644) and write; an existing
    file keeps its mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def run(command, upload_bytes: int | None = None, seen: list | None = None) -> None:
    """One yielded command: a shell line, or the upload (cut short after ``upload_bytes``); a sudo
    upload as pyinfra's SSH connector makes it (SFTP to the staged file, cp, rm), with each staged
    file's mode and its directory's mode and owner, as SFTP wrote, kept in ``seen``."""
    if isinstance(command, FileUploadCommand):
        data = command.src.getvalue() if isinstance(command.src, BytesIO) else b""
        data = data if upload_bytes is None else data[:upload_bytes]
        staged = command.remote_temp_filename
        if staged is None:
            sftp_write(command.dest, data)
            return
        sftp_write(staged, data)
        directory = os.stat(os.path.dirname(staged))
        if seen is not None:
            seen.append(
                (stat.S_IMODE(os.stat(staged).st_mode), stat.S_IMODE(directory.st_mode), directory.st_uid)
            )
        subprocess.run(["cp", staged, command.dest], check=True)
        os.unlink(staged)
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


def staged_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The sudo upload directory, under the test's own directory (the product's is in /tmp)."""
    directory = tmp_path / "tmp" / "kubehaus-upload-alice"
    directory.parent.mkdir(mode=0o1777)
    monkeypatch.setattr(
        operations, "upload_dir", lambda user: str(tmp_path / "tmp" / f"kubehaus-upload-{user}")
    )
    return directory


@needs_root
def test_a_sudo_upload_is_staged_where_only_the_ssh_user_can_read_it(monkeypatch, tmp_path: Path) -> None:
    """With ``ssh.sudo: true`` pyinfra uploads to a staged file as the SSH user, then sudo copies it:
    that file is made 0600 in a 0700 directory of the user's own before SFTP writes a byte."""
    directory = staged_in(monkeypatch, tmp_path)
    dest = tmp_path / "etc" / "join.yaml"
    found = commands(monkeypatch, b"token: s3cret\n", dest, 0o600, sudo_user="alice")
    prepare = [c for c in found if isinstance(c, StringCommand)]
    assert len(prepare) == 1 and prepare[0].connector_arguments == {"_sudo": False}  # as the SSH user
    upload = next(c for c in found if isinstance(c, FileUploadCommand))
    assert Path(upload.remote_temp_filename).parent == directory
    seen: list = []
    for command in found:
        run(command, seen=seen)
    assert seen == [(0o600, 0o700, os.getuid())]
    assert dest.read_bytes() == b"token: s3cret\n" and stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert list(directory.iterdir()) == []  # the staged copy is gone
    # a later write reuses the directory, still checked
    found = commands(monkeypatch, b"token: other\n", dest, 0o600, sudo_user="alice")
    seen = []
    for command in found:
        run(command, seen=seen)
    assert seen == [(0o600, 0o700, os.getuid())] and dest.read_bytes() == b"token: other\n"
    # without sudo nothing is staged: SFTP writes the 0600 temporary beside the destination
    found = commands(monkeypatch, b"token: third\n", dest, 0o600)
    assert not any(isinstance(c, StringCommand) for c in found)
    assert next(c for c in found if isinstance(c, FileUploadCommand)).remote_temp_filename is None


@needs_root
@pytest.mark.parametrize("planted", ["open", "symlink", "other user"])
def test_a_staging_directory_not_the_ssh_users_alone_is_refused(
    monkeypatch, tmp_path: Path, planted: str
) -> None:
    """Another local user who made the directory first (or a link to theirs) sees nothing: the
    staging refuses to go on, saying what to remove."""
    directory = staged_in(monkeypatch, tmp_path)
    if planted == "open":
        directory.mkdir(mode=0o755)
        directory.chmod(0o755)
    elif planted == "symlink":
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        directory.symlink_to(theirs)
    else:
        directory.mkdir(mode=0o700)
        os.chown(directory, 65534, 65534)
    found = commands(monkeypatch, b"token: s3cret\n", tmp_path / "join.yaml", 0o600, sudo_user="alice")
    prepare = next(c for c in found if isinstance(c, StringCommand))
    result = subprocess.run(["sh", "-c", str(prepare)], capture_output=True, text=True)
    assert result.returncode != 0
    assert f"{directory} is not a directory only root can read: remove it" in result.stderr
    assert not any(p.name.startswith("pyinfra-") for p in directory.iterdir())


def test_pyinfras_sudo_upload_goes_through_the_staged_file_and_the_staging_runs_without_sudo() -> None:
    """What the above relies on in pyinfra's SSH connector: with ``_sudo`` the SFTP upload goes to
    ``remote_temp_filename`` (then ``cp`` under sudo, ``rm``), and a command's own ``_sudo=False``
    wins over the operation's."""
    calls: list = []
    connector = SSHConnector.__new__(SSHConnector)
    connector._put_file = lambda src, path: calls.append(("sftp", path))
    connector.run_shell_command = lambda command, **kw: (
        calls.append((str(command), kw.get("_sudo"))),
        (True, None),
    )[1]
    assert connector.put_file(
        BytesIO(b"x"), "/etc/x.kubehaus-new", remote_temp_filename="/tmp/k/p", _sudo=True
    )
    assert calls == [
        ("sftp", "/tmp/k/p"),
        ("cp /tmp/k/p /etc/x.kubehaus-new", True),
        ("rm -f /tmp/k/p", None),
    ]
    seen: dict = {}
    host = SimpleNamespace(run_shell_command=lambda command, **kw: seen.update(kw) or (True, None))
    StringCommand("true", _sudo=False).execute(
        SimpleNamespace(print_output=False, print_input=False), host, {"_sudo": True}
    )
    assert seen["_sudo"] is False
