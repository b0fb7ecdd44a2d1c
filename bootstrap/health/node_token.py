"""Each joined node's health-check token: when apply issues one, and how it is asked for (pure).

The token is a TokenRequest of the kubehaus-health ServiceAccount bound to the node's own Node
object (credential.py says why). apply issues it with an expiry and keeps it, 0600, in the
cluster's state directory on the controller (beside the admin kubeconfig it already keeps there);
the node plan writes it to the node (render/health_unit.TOKEN_PATH, 0600), so the no-op fast path,
``plan`` and reset cover it like every other file. A re-run issues nothing while the stored token
has more than RENEW_BEFORE left: renewal is decided from the stored expiry, never by re-issuing
on every run (which would change the node's file each time). A node that joined in this run has a
new Node object, so a token bound to the old one is dead: it gets a new one.
"""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from .credential import ACCOUNT, NAMESPACE

TOKEN_LIFETIME = timedelta(days=90)
RENEW_BEFORE = timedelta(days=30)  # a token with less than this left is renewed by apply


class StoredToken(BaseModel):
    """One node's token as apply keeps it (state directory, 0600); never printed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str
    token: str
    expires: datetime

    def __repr__(self) -> str:  # a stray repr in a traceback or log must not carry the token
        return f"StoredToken(node={self.node!r}, expires={self.expires.isoformat()})"

    __str__ = __repr__


def renewal_reason(stored: StoredToken | None, now: datetime, joined_now: bool) -> str | None:
    """Why this node needs a new token now; None: the stored one stays."""
    if stored is None:
        return "no token issued yet"
    if joined_now:
        return "a new Node object (joined or initialised in this run)"
    if stored.expires - now < RENEW_BEFORE:
        return f"the token expires {stored.expires.strftime('%Y-%m-%d %H:%M')} UTC"
    return None


def token_command(kubeconfig: str, node: str, lifetime: timedelta = TOKEN_LIFETIME) -> str:
    """kubectl's TokenRequest, bound to the Node ``node`` (its uid read by kubectl), as JSON."""
    argv = [
        "kubectl", "--kubeconfig", kubeconfig, "create", "token", ACCOUNT, "--namespace", NAMESPACE,
        "--bound-object-kind", "Node", "--bound-object-name", node,
        "--duration", f"{int(lifetime.total_seconds())}s", "--output", "json",
    ]  # fmt: skip
    return shlex.join(argv)


class TokenAnswerError(ValueError):
    """kubectl's answer to the TokenRequest held no token (the message never quotes the answer)."""


def parse_token_answer(node: str, lines: list[str]) -> StoredToken:
    """The token and its expiry from ``kubectl create token -o json``'s TokenRequest."""
    try:
        answer = json.loads("\n".join(lines))
        status = answer["status"]
        token, expires = status["token"], status["expirationTimestamp"]
        when = datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (ValueError, KeyError, TypeError):
        raise TokenAnswerError(f"the TokenRequest for {node} answered no token and expiry") from None
    if not isinstance(token, str) or not token or any(c.isspace() for c in token):
        raise TokenAnswerError(f"the TokenRequest for {node} answered a malformed token")
    return StoredToken(node=node, token=token, expires=when)
