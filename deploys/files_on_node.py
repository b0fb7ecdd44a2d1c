"""Putting kubehaus's own files on a node: content compared by checksum, written only when it differs.

Discovery already read the checksum, mode and owner of every file kubehaus manages (see
node_state.py): a file it saw exactly as wanted is not checked again, saving its round trips. A plan
(dry run) also takes discovery's word for a file it saw differ: writing it is then certain, and asking
pyinfra's facts again would cost the same reads twice (most of a 1000-host plan's time).
"""

from __future__ import annotations

from bootstrap.deploy_executor import known_state, planning, record, step
from bootstrap.render.node_files import NodeFile

from .node_state import file_in_state, file_state
from .operations import file_content


def _decided(path: str, wanted: tuple[str, int], name: str) -> bool | None:
    """Whether the write changes the node, when discovery's read already says; else None."""
    seen = known_state()
    if file_in_state(seen, path, wanted):
        record(name, changed=False)
        return False
    if seen is not None and path in seen.files and planning():
        record(name, changed=True)
        return True
    return None


def put(node_file: NodeFile, name: str | None = None) -> bool:
    name = name or f"file {node_file.path}"
    return put_bytes(node_file.path, node_file.content.encode(), node_file.mode, name)


def put_bytes(path: str, content: bytes, mode: int, name: str) -> bool:
    decided = _decided(path, file_state(content, mode), name)
    if decided is not None:
        return decided
    return step(name, file_content, content, path, mode)
