"""The nodes' health-check tokens as apply keeps them on the controller (state directory, 0600)."""

from __future__ import annotations

from pydantic import ValidationError

from ..health.node_token import StoredToken
from ..state_dir import StateDir


def stored_token(state_dir: StateDir, host: str) -> StoredToken | None:
    """The token apply issued ``host``; None when there is none, or the file is unreadable (the
    next token phase then issues a new one: a token is cheap, a stranded node check is not)."""
    path = state_dir.health_token_file(host)
    try:
        stored = StoredToken.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError):
        return None
    return stored if stored.node == host else None


def keep_token(state_dir: StateDir, stored: StoredToken) -> None:
    state_dir.write_json(state_dir.health_token_file(stored.node), stored.model_dump(mode="json"), 0o600)


def forget_token(state_dir: StateDir, host: str) -> None:
    state_dir.health_token_file(host).unlink(missing_ok=True)
