"""When apply issues a node its health-check token, how it asks, and what it keeps (no hosts)."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bootstrap.health.credential import ACCOUNT, NAMESPACE
from bootstrap.health.node_token import (
    RENEW_BEFORE,
    TOKEN_LIFETIME,
    StoredToken,
    TokenAnswerError,
    parse_token_answer,
    renewal_reason,
    token_command,
)
from bootstrap.phase_support.health_tokens import forget_token, keep_token, stored_token
from bootstrap.state_dir import StateDir

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SECRET = "eyJhbGciOi.secret-part"


def stored(expires: datetime, node: str = "gpu-1") -> StoredToken:
    return StoredToken(node=node, token=SECRET, expires=expires)


def test_a_fresh_token_is_kept_and_one_running_out_is_renewed() -> None:
    assert renewal_reason(None, NOW, False) == "no token issued yet"
    assert renewal_reason(stored(NOW + TOKEN_LIFETIME), NOW, False) is None
    assert renewal_reason(stored(NOW + RENEW_BEFORE + timedelta(minutes=1)), NOW, False) is None
    reason = renewal_reason(stored(NOW + RENEW_BEFORE - timedelta(minutes=1)), NOW, False)
    assert reason is not None and reason.startswith("the token expires 2027-01-01")
    assert renewal_reason(stored(NOW - timedelta(days=1)), NOW, False) is not None
    # a node that joined in this run has a new Node object: a token bound to the old one is dead
    assert (
        renewal_reason(stored(NOW + TOKEN_LIFETIME), NOW, True)
        == "a new Node object (joined or initialised in this run)"
    )


def test_the_request_is_bound_to_the_node_and_quoted() -> None:
    argv = shlex.split(token_command("/etc/kubernetes/admin.conf", "gpu 1; rm -rf /"))
    assert argv[:6] == ["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "create", "token", ACCOUNT]
    options = dict(zip(argv[6::2], argv[7::2], strict=True))
    assert options == {
        "--namespace": NAMESPACE,
        "--bound-object-kind": "Node",
        "--bound-object-name": "gpu 1; rm -rf /",
        "--duration": f"{int(TOKEN_LIFETIME.total_seconds())}s",
        "--output": "json",
    }


def answer(status: dict) -> list[str]:
    document = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "status": status}
    return json.dumps(document, indent=2).splitlines()


def test_the_answer_gives_the_token_and_its_expiry() -> None:
    found = parse_token_answer(
        "gpu-1", answer({"token": SECRET, "expirationTimestamp": "2027-03-02T12:00:00Z"})
    )
    assert found == stored(datetime(2027, 3, 2, 12, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    "lines",
    [
        ["not json " + SECRET],
        answer({"token": SECRET}),
        answer({"token": "two words", "expirationTimestamp": "2027-03-02T12:00:00Z"}),
        answer({"token": "", "expirationTimestamp": "2027-03-02T12:00:00Z"}),
    ],
)
def test_a_bad_answer_is_refused_without_quoting_it(lines: list[str]) -> None:
    with pytest.raises(TokenAnswerError) as caught:
        parse_token_answer("gpu-1", lines)
    assert SECRET not in str(caught.value) and "words" not in str(caught.value)


def test_the_token_is_kept_private_and_never_in_its_repr(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state").ensure()
    token = stored(NOW + TOKEN_LIFETIME)
    assert SECRET not in repr(token) and SECRET not in str(token) and SECRET not in f"{token}"
    keep_token(state, token)
    path = state.health_token_file("gpu-1")
    assert path.stat().st_mode & 0o777 == 0o600
    assert stored_token(state, "gpu-1") == token
    assert stored_token(state, "gpu-2") is None
    path.write_text("{corrupt")
    assert stored_token(state, "gpu-1") is None  # a corrupt file: the token phase issues a new one
    forget_token(state, "gpu-1")
    assert not path.exists()
