"""The lab spec: which simulated machines to boot, with which hardware profile and role."""

from __future__ import annotations

import ipaddress
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..inventory.errors import Diagnostic, InventoryError
from ..inventory.k8s_syntax import dns1123_label_error
from ..inventory.locate import Locator
from ..inventory.yaml_source import SourceDocument, parse_yaml_text
from .profiles import FAULTS, PROFILES

LAB_NETWORK = ipaddress.ip_network("198.18.0.0/15")  # RFC 2544 benchmarking range: never routed


class LabMachine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    role: Literal["control-plane", "worker"] = "worker"
    profile: str
    faults: list[str] = Field(default_factory=list)
    topology: dict[str, str] = Field(default_factory=dict)
    release: Literal["bookworm", "trixie"] = Field(
        "bookworm", description="The Debian release the machine runs (12 or 13): its own base image."
    )
    driver: Literal["files", "packages"] = Field(
        "files",
        description="How a GPU machine's driver is there before kubehaus: files (as a runfile install "
        "leaves it) or packages (DGX OS style: the driver and fabric manager packages of the "
        "profile's version installed from the mirror at imaging, not held).",
    )

    plugins_unregistered: list[Literal["gpu.nvidia.com", "dra.net"]] = Field(
        default_factory=list,
        description="Kubelet plugins that run on this machine but never register: the kubelet stand-in "
        "publishes no ResourceSlice for these drivers (how a test shows a serving check failing).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = dns1123_label_error(value)
        if problem or len(value) > 11:
            raise ValueError(
                problem
                or f"{value!r}: lab machine names are at most 11 characters (they name network interfaces)"
            )
        return value

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"unknown profile {value!r}; known: {', '.join(PROFILES)}")
        return value

    @field_validator("faults")
    @classmethod
    def _faults(cls, value: list[str]) -> list[str]:
        unknown = [f for f in value if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
        return value


class LabSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "kubehaus-lab"
    subnet: str = Field("198.18.0.0/24", description="Lab network; the bridge takes .1, machines .10 on.")
    machines: list[LabMachine] = Field(min_length=1, max_length=64)

    @field_validator("name")
    @classmethod
    def _lab_name(cls, value: str) -> str:
        problem = dns1123_label_error(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, value: str) -> str:
        network = ipaddress.ip_network(value, strict=True)
        if not network.subnet_of(LAB_NETWORK):  # type: ignore[arg-type]
            raise ValueError(f"{value} is outside 198.18.0.0/15; the lab only uses the benchmarking range")
        if network.num_addresses < 16:
            raise ValueError(f"{value} is too small for a lab")
        return str(network)

    @model_validator(mode="after")
    def _checks(self) -> LabSpec:
        names = [m.name for m in self.machines]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"machine names repeat: {', '.join(duplicates)}")
        if not any(m.role == "control-plane" for m in self.machines):
            raise ValueError("the lab needs a machine with role control-plane")
        if len(self.machines) + 10 > ipaddress.ip_network(self.subnet).num_addresses - 1:
            raise ValueError(f"{len(self.machines)} machines do not fit in {self.subnet}")
        return self

    @property
    def bridge_address(self) -> str:
        return str(ipaddress.ip_network(self.subnet)[1])

    @property
    def prefix_length(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    def address_of(self, machine: LabMachine) -> str:
        return str(ipaddress.ip_network(self.subnet)[10 + self.machines.index(machine)])


def default_spec_text() -> str:
    return resources.files(__package__).joinpath("default-lab.yaml").read_text(encoding="utf-8")


def parse_spec(text: str, file: str) -> LabSpec:
    """Parse a lab spec; errors are located like inventory errors."""
    document, problems = parse_yaml_text(text, file)
    if document is None:
        raise InventoryError(problems)
    return _validate(document)


def _validate(document: SourceDocument) -> LabSpec:
    if not isinstance(document.data, dict):
        raise InventoryError(
            [
                Diagnostic(
                    document.file,
                    1,
                    1,
                    "",
                    "a lab spec is a mapping",
                    "see kubehaus lab up --help for the format",
                )
            ]
        )
    try:
        return LabSpec.model_validate(document.data)
    except ValidationError as exc:
        locator = Locator(document)
        raise InventoryError(
            [
                locator.diagnostic(
                    tuple(e["loc"]),
                    e["msg"].removeprefix("Value error, "),
                    "see the lab spec format in docs/lab.md",
                )
                for e in exc.errors(include_url=False)
            ]
        ) from None


def load_spec(path: Path | None) -> LabSpec:
    if path is None:
        return parse_spec(default_spec_text(), "(embedded default lab)")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError([Diagnostic(str(path), 1, 1, "", f"cannot read lab spec: {exc}", "")]) from None
    return parse_spec(text, str(path))
