"""The lab's signed mirror: apt installs stand-ins only with the lab key; tampering is refused."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap.lab.machines import ssh_command
from bootstrap.lab.mirror import KEYRING, PORT, apt_source, build_standin, sign_release
from bootstrap.lab.standins import KUBERNETES_DEBS, STANDINS, binaries

from .lab_fixture import Lab

KEY_ON_NODE = "/etc/apt/keyrings/kubehaus-lab.gpg"
NODE = "cp-1"


def on_node(lab: Lab, command: str) -> subprocess.CompletedProcess[str]:
    argv = ssh_command(lab.spec.name, NODE, [command])
    return subprocess.run(
        [argv[0], "-o", "BatchMode=yes", *argv[1:]], capture_output=True, text=True, timeout=120
    )


def apt_update(lab: Lab) -> subprocess.CompletedProcess[str]:
    """A fresh update: with old lists present, apt keeps them and only warns about a bad repo."""
    return on_node(lab, "rm -rf /var/lib/apt/lists/* && apt-get update 2>&1")


def installable(lab: Lab, package: str) -> bool:
    policy = on_node(lab, f"apt-cache policy {package}").stdout
    return "Candidate:" in policy and "Candidate: (none)" not in policy


@pytest.fixture(scope="module")
def node_uses_mirror(lab: Lab) -> Iterator[Lab]:
    url = lab.record.mirror_url
    assert url
    setup = (
        f'mkdir -p /etc/apt/keyrings && python3 -c "import urllib.request; '
        f"open('{KEY_ON_NODE}','wb').write(urllib.request.urlopen('{url}/{KEYRING}').read())\" && "
        f"printf '{apt_source(url, KEY_ON_NODE)}' > /etc/apt/sources.list.d/kubehaus-lab.sources"
    )
    result = on_node(lab, setup)
    assert result.returncode == 0, result.stderr
    yield lab
    # leave the machine as lab up made it: other tests (apply) configure apt their own way
    on_node(
        lab,
        f"rm -f /etc/apt/sources.list.d/kubehaus-lab.sources {KEY_ON_NODE} && rm -rf /var/lib/apt/lists/*",
    )


@pytest.fixture
def pristine_mirror(lab: Lab) -> Iterator[Path]:
    """The mirror's dists directory; restored exactly after a test tampers with it."""
    dists = lab.paths.mirror / "apt" / "dists"
    backup = lab.paths.root / "dists.backup"
    shutil.copytree(dists, backup)
    try:
        yield dists / "kubehaus"
    finally:
        shutil.rmtree(dists)
        backup.rename(dists)


@pytest.mark.lab  # boots the lab: never in an unlocked unit run
def test_apt_installs_a_stand_in_with_the_lab_key(node_uses_mirror: Lab) -> None:
    lab = node_uses_mirror
    update = apt_update(lab)
    assert update.returncode == 0, update.stdout
    assert "W:" not in update.stdout and "E:" not in update.stdout
    install = on_node(
        lab,
        "apt-get install -y -q kubeadm=1.34.2-1.1 conntrack && kubeadm version && "
        "dpkg-query -W -f '${Version} ${Description}' kubeadm",
    )
    assert install.returncode == 0, install.stderr + install.stdout
    assert "kubeadm v1.34.2 (kubehaus lab stand-in" in install.stdout
    assert "1.34.2-1.1 STAND-IN for kubehaus lab tests" in install.stdout
    versions = on_node(lab, "apt-cache madison kubeadm | awk '{print $3}' | sort")
    assert versions.stdout.split() == sorted(KUBERNETES_DEBS)


@pytest.mark.lab
def test_the_mirror_serves_debians_real_containerd_as_containerd_io(node_uses_mirror: Lab) -> None:
    lab = node_uses_mirror
    assert apt_update(lab).returncode == 0
    versions = on_node(lab, "apt-cache madison containerd.io | awk '{print $3}' | sort -V")
    assert versions.stdout.split() == ["1.7.24-1", "2.1.9-1", "2.3.2-1"]
    described = on_node(lab, "apt-cache show containerd.io=2.3.2-1 | grep -A3 '^Description'")
    assert "no real containerd 2.3.2: these are 2.1.9's binaries" in described.stdout
    shown = on_node(lab, "apt-cache show containerd.io=2.1.9-1 runc").stdout
    assert "Description: Debian's containerd 2.1.9+ds1-5 (sid), served as containerd.io" in shown
    assert "Maintainer: Debian Go Packaging Team" in shown and "STAND-IN" not in shown
    assert "Package: runc\n" in shown and "Version: 1.1.5+ds1-1+deb12u1\n" in shown  # bookworm's
    assert not installable(lab, "containerd")  # only under the name kubehaus pins


@pytest.mark.lab  # boots the lab: never in an unlocked unit run
def test_a_tampered_index_is_refused(node_uses_mirror: Lab, pristine_mirror: Path) -> None:
    for index in (pristine_mirror / "main").rglob("Packages*"):
        index.write_bytes(index.read_bytes() + b"\n")
    update = apt_update(node_uses_mirror)
    assert update.returncode != 0
    assert "Hash Sum mismatch" in update.stdout or "unexpected size" in update.stdout, update.stdout
    assert not installable(node_uses_mirror, "kubelet")


@pytest.mark.lab  # boots the lab: never in an unlocked unit run
def test_a_release_signed_by_another_key_is_refused(
    node_uses_mirror: Lab, pristine_mirror: Path, tmp_path: Path
) -> None:
    attacker = tmp_path / "gnupg"
    attacker.mkdir(mode=0o700)
    subprocess.run(
        [
            "gpg",
            "--homedir",
            str(attacker),
            "--batch",
            "--quiet",
            "--passphrase",
            "",
            "--quick-gen-key",
            "attacker <evil@example.invalid>",
            "ed25519",
            "sign",
            "never",
        ],
        check=True,
    )
    listing = subprocess.run(
        ["gpg", "--homedir", str(attacker), "--list-secret-keys", "--with-colons"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    try:
        sign_release(pristine_mirror, attacker, fingerprint)
    finally:  # gpg started an agent for this homedir: it must not outlive the test
        subprocess.run(["gpgconf", "--homedir", str(attacker), "--kill", "gpg-agent"], check=False)
    update = apt_update(node_uses_mirror)
    assert update.returncode != 0
    assert (
        "NO_PUBKEY" in update.stdout
        or "not signed" in update.stdout
        or "couldn't be verified" in update.stdout
    ), update.stdout


@pytest.mark.lab  # boots the lab: never in an unlocked unit run
def test_without_the_key_the_mirror_is_refused(node_uses_mirror: Lab) -> None:
    lab = node_uses_mirror
    hide = on_node(
        lab,
        f"mv {KEY_ON_NODE} {KEY_ON_NODE}.away && rm -rf /var/lib/apt/lists/* && apt-get update 2>&1; "
        f"status=$?; mv {KEY_ON_NODE}.away {KEY_ON_NODE}; exit $status",
    )
    assert hide.returncode != 0
    assert (
        "NO_PUBKEY" in hide.stdout or "not signed" in hide.stdout or "couldn't be verified" in hide.stdout
    ), hide.stdout
    assert not installable(lab, "kubelet")


@pytest.mark.lab  # boots the lab: never in an unlocked unit run
def test_the_restored_mirror_is_trusted_again(node_uses_mirror: Lab) -> None:
    assert apt_update(node_uses_mirror).returncode == 0
    assert installable(node_uses_mirror, "kubelet")


@pytest.mark.lab  # boots the lab: never in an unlocked unit run
def test_mirror_listens_on_the_lab_bridge_only(lab: Lab) -> None:
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
    socket.create_connection((lab.spec.bridge_address, PORT), timeout=1).close()


def test_every_stand_in_says_what_it_is_and_has_two_versions(tmp_path: Path) -> None:
    for standin in STANDINS:
        assert len(standin.versions) >= 2, standin.package
        deb = build_standin(standin.package, standin.versions[0], tmp_path, tmp_path / "staging")
        description = subprocess.run(
            ["dpkg-deb", "-f", str(deb), "Description"], capture_output=True, text=True, check=True
        ).stdout
        assert description.startswith(f"STAND-IN for kubehaus lab tests: not the real {standin.summary}"), (
            standin.package
        )
        contents = subprocess.run(
            ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True
        ).stdout
        for binary in binaries(standin):
            assert f"./usr/bin/{binary}" in contents
