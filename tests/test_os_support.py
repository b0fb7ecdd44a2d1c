"""OS facts parsed from recorded release files, the support table, refusals and package names."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.os_support.facts import DEBIAN_12_AMD64, OsFactsError, os_facts, parse_release_text
from bootstrap.os_support.packages import driver_packages, needs_open_kernel_modules
from bootstrap.os_support.support import (
    UnsupportedOs,
    supported_release,
    supported_summary,
    unsupported_nodes,
    unsupported_reason,
)
from bootstrap.os_support.systems import SUPPORTED

RECORDED = Path(__file__).parent / "fixtures" / "os-release"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


# (fixture stem, dpkg architecture, dgx-release fixture or None) -> expected facts
CASES = {
    "debian-12": ("debian-12.os-release", "amd64", None, ("debian", "12", "bookworm", None)),
    "debian-13": ("debian-13.os-release", "amd64\n", None, ("debian", "13", "trixie", None)),
    "ubuntu-22.04": ("ubuntu-22.04.os-release", "amd64", None, ("ubuntu", "22.04", "jammy", None)),
    "ubuntu-24.04": ("ubuntu-24.04.os-release", "amd64", None, ("ubuntu", "24.04", "noble", None)),
    "dgx-os-7": (
        "dgx-os-7.os-release",
        "arm64\n",
        "dgx-os-7.dgx-release",
        ("ubuntu", "24.04", "noble", "7.3.1"),
    ),
    "dgx-os-5": (
        "dgx-os-5.os-release",
        "amd64",
        "dgx-os-5.dgx-release",
        ("ubuntu", "20.04", "focal", "5.2.0"),
    ),
}


def facts_of(case: str):
    os_release, arch, dgx, _ = CASES[case]
    return os_facts(recorded(os_release), arch, recorded(dgx) if dgx else None)


@pytest.mark.parametrize("case", sorted(CASES))
def test_recorded_release_files_parse_to_facts(case: str) -> None:
    facts = facts_of(case)
    assert (facts.id, facts.version_id, facts.codename, facts.dgx_os_version) == CASES[case][3]
    assert facts.architecture == CASES[case][1].strip()


def test_ubuntu_names_debian_as_its_parent_and_a_pretty_name() -> None:
    facts = facts_of("ubuntu-24.04")
    assert facts.id_like == ("debian",)
    assert facts.pretty_name == "Ubuntu 24.04.3 LTS"


def test_the_last_ota_version_is_the_dgx_os_a_node_runs() -> None:
    # DGX OS appends one DGX_OTA_VERSION per over-the-air upgrade; the build version is the image's.
    history = recorded("dgx-os-7.dgx-release") + 'DGX_OTA_VERSION="7.4.0"\nDGX_OTA_DATE="later"\n'
    facts = os_facts(recorded("dgx-os-7.os-release"), "arm64", history)
    assert (facts.dgx_os_version, facts.dgx_os_major) == ("7.4.0", 7)
    without_ota = 'DGX_NAME="DGX Spark"\nDGX_SWBUILD_VERSION="7.2.3"\n'
    assert os_facts(recorded("dgx-os-7.os-release"), "arm64", without_ota).dgx_os_version == "7.2.3"


def test_dgx_os_6_is_ubuntu_22_04_with_a_dgx_release() -> None:
    # No recorded DGX OS 6 /etc/dgx-release was found (tests/fixtures/os-release/README.md): this
    # one-line file is written here; the os-release is the recorded Ubuntu 22.04 one.
    facts = os_facts(recorded("ubuntu-22.04.os-release"), "amd64", 'DGX_SWBUILD_VERSION="6.2.1"\n')
    assert facts.dgx_os_major == 6
    assert supported_release("dgx-h100-1", facts).dgx_os == 6
    assert unsupported_reason("dgx-h100-1", facts) is None


def test_release_text_is_read_never_run() -> None:
    values = parse_release_text("A=\"$(touch /tmp/x)\"\nB='it''s'\n# comment\n\nC=plain\n")
    assert values == {"A": "$(touch /tmp/x)", "B": "its", "C": "plain"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('ID=ubuntu\nVERSION_ID="24.04\n', "line 2: No closing quotation"),
        ("ID=ubuntu\nrm -rf /\n", "line 2: not a KEY=value assignment"),
        ("ID=ubuntu two\n", "line 1: value of ID must be quoted"),
        ('NAME="Ubuntu"\n', "names no ID"),
    ],
)
def test_unreadable_release_text_is_refused_with_the_line(text: str, message: str) -> None:
    with pytest.raises(OsFactsError, match=message):
        os_facts(text, "amd64")


def test_architecture_must_be_one_dpkg_name() -> None:
    with pytest.raises(OsFactsError, match="not an architecture name"):
        os_facts(recorded("debian-12.os-release"), "amd64; reboot")


@pytest.mark.parametrize("case", ["debian-12", "debian-13", "ubuntu-22.04", "ubuntu-24.04", "dgx-os-7"])
def test_every_recorded_supported_system_is_accepted(case: str) -> None:
    assert unsupported_reason(case, facts_of(case)) is None


def test_default_facts_are_the_recorded_debian_12_amd64() -> None:
    facts = facts_of("debian-12")
    assert (facts.id, facts.version_id, facts.codename, facts.architecture) == (
        DEBIAN_12_AMD64.id,
        DEBIAN_12_AMD64.version_id,
        DEBIAN_12_AMD64.codename,
        DEBIAN_12_AMD64.architecture,
    )


SUPPORTED_TEXT = "kubehaus supports Debian 12, 13 on amd64; Ubuntu 22.04, 24.04 (DGX OS 6, 7) on amd64, arm64"


def test_an_unsupported_release_is_refused_naming_the_host_and_what_is_supported() -> None:
    reason = unsupported_reason("dgx-7", facts_of("dgx-os-5"))
    assert reason == (f"dgx-7: Ubuntu 20.04 (focal) amd64, DGX OS 5.2.0 is not supported: {SUPPORTED_TEXT}")
    with pytest.raises(UnsupportedOs, match=r"^dgx-7: Ubuntu 20\.04"):
        supported_release("dgx-7", facts_of("dgx-os-5"))


def test_an_unsupported_architecture_is_refused() -> None:
    ubuntu = os_facts(recorded("ubuntu-24.04.os-release"), "ppc64el")
    assert unsupported_reason("p9", ubuntu) == (
        "p9: Ubuntu 24.04 (noble) ppc64el is not supported: Ubuntu 24.04 on ppc64el has no NVIDIA CUDA "
        f"repository kubehaus knows of; {SUPPORTED_TEXT}"
    )
    # Debian arm64: no debian12/sbsa or debian13/sbsa repository could be confirmed (systems.py).
    debian_arm = os_facts(recorded("debian-13.os-release"), "arm64")
    assert "Debian 13 on arm64 has no NVIDIA CUDA repository" in str(unsupported_reason("gb-1", debian_arm))


def test_a_dgx_os_on_the_wrong_ubuntu_is_refused() -> None:
    mismatched = os_facts(recorded("ubuntu-22.04.os-release"), "amd64", recorded("dgx-os-7.dgx-release"))
    assert "DGX OS 7 is not the DGX OS of Ubuntu 22.04" in str(unsupported_reason("x", mismatched))


def test_debian_testing_without_a_version_is_refused() -> None:
    testing = os_facts('PRETTY_NAME="Debian GNU/Linux forky/sid"\nID=debian\n', "amd64")
    assert str(unsupported_reason("t", testing)).startswith("t: Debian (no VERSION_ID) amd64 is not")


def test_a_mixed_cluster_is_judged_node_by_node() -> None:
    fleet = {
        "cp-1": facts_of("debian-12"),
        "gpu-1": facts_of("ubuntu-22.04"),
        "gb200-1": facts_of("dgx-os-7"),
        "old-dgx": facts_of("dgx-os-5"),
        "gpu-2": facts_of("debian-13"),
    }
    assert [r.split(":")[0] for r in unsupported_nodes(fleet)] == ["old-dgx"]
    assert unsupported_nodes({k: v for k, v in fleet.items() if k != "old-dgx"}) == []


def test_the_summary_lists_every_supported_release() -> None:
    assert f"kubehaus supports {supported_summary()}" == SUPPORTED_TEXT
    assert {r.name for r in SUPPORTED} == {"Debian 12", "Debian 13", "Ubuntu 22.04", "Ubuntu 24.04"}


@pytest.mark.parametrize(
    ("distro", "open_modules", "driver"),
    [
        ("debian", False, "nvidia-driver"),
        ("debian", True, "nvidia-open"),
        ("ubuntu", False, "nvidia-driver-580"),
        ("ubuntu", True, "nvidia-driver-580-open"),
    ],
)
def test_driver_and_fabric_manager_names_for_branch_580(distro, open_modules: bool, driver: str) -> None:
    names = driver_packages(distro, "580.95.05", open_modules)
    assert (names.driver, names.fabric_manager) == (driver, "nvidia-fabricmanager-580")


def test_ubuntu_branch_590_names_are_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="drop the branch from their names"):
        driver_packages("ubuntu", "590.44.01", open_modules=True)
    assert driver_packages("debian", "590.44.01", True).fabric_manager == "nvidia-fabricmanager-590"


@pytest.mark.parametrize(
    ("names", "needs_open"),
    [
        (["NVIDIA H100 80GB HBM3"], True),
        (["NVIDIA H200"], True),
        (["NVIDIA GH200 480GB"], True),
        (["NVIDIA B200"], True),
        (["NVIDIA GB200"], True),
        (["NVIDIA GB10"], True),
        (["NVIDIA RTX PRO 6000 Blackwell Server Edition"], True),
        (["NVIDIA A100-SXM4-80GB", "NVIDIA L40S"], False),
        (["NVIDIA A100-SXM4-80GB", "NVIDIA H100 PCIe"], True),
        ([], False),
    ],
)
def test_hopper_and_blackwell_need_the_open_kernel_modules(names: list[str], needs_open: bool) -> None:
    assert needs_open_kernel_modules(names) is needs_open
