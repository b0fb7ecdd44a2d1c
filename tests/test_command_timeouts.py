"""A command on the control plane that gets no answer in time is the phase's error, never a crash:
pyinfra raises the built-in TimeoutError, which the phases' handlers would not catch."""

from __future__ import annotations

import pytest

from bootstrap.phase_support.cluster import JoinError, run_secret_command
from bootstrap.phase_support.maintenance import MaintenanceError, kubectl


class HungHost:
    """A host whose every command runs past its timeout, as pyinfra reports it."""

    def __init__(self) -> None:
        self.timeouts: list[int] = []

    def run_shell_command(self, command: str, **kwargs: object) -> tuple[bool, object]:
        self.timeouts.append(int(kwargs["_timeout"]))  # type: ignore[call-overload]
        raise TimeoutError(command)


def test_kubectl_that_gets_no_answer_is_a_maintenance_error() -> None:
    host = HungHost()
    with pytest.raises(MaintenanceError, match=r"kubectl get: no answer within 7 s"):
        kubectl(host, "get deployments -n kai-scheduler -o json", timeout=7)  # type: ignore[arg-type]
    assert host.timeouts == [7]


def test_secret_command_that_gets_no_answer_is_a_join_error_that_quotes_nothing_of_it() -> None:
    with pytest.raises(JoinError) as raised:
        run_secret_command(HungHost(), "kubectl create token kubehaus-health --bound-object-name n1")  # type: ignore[arg-type]
    assert str(raised.value) == "kubectl: no answer within 120 s"
