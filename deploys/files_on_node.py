"""Putting kubehaus's own files on a node: content compared by checksum, written only when it differs.

Discovery already read the checksum, mode and owner of every file kubehaus manages (see
node_state.py): a file it saw exactly as wanted is not checked again, saving its round trips.
"""

from __future__ import annotations

from io import BytesIO, StringIO

from pyinfra.operations import files

from bootstrap.deploy_executor import known_state, record, step
from bootstrap.render.node_files import NodeFile

from .node_state import file_in_state, file_state


def put(node_file: NodeFile, name: str | None = None) -> bool:
    name = name or f"file {node_file.path}"
    if file_in_state(known_state(), node_file.path, file_state(node_file.content, node_file.mode)):
        record(name, changed=False)
        return False
    return step(
        name,
        files.put,
        src=StringIO(node_file.content),
        dest=node_file.path,
        mode=f"{node_file.mode:o}",
        user="root",
        group="root",
    )


def put_bytes(path: str, content: bytes, mode: int, name: str) -> bool:
    if file_in_state(known_state(), path, file_state(content, mode)):
        record(name, changed=False)
        return False
    return step(name, files.put, src=BytesIO(content), dest=path, mode=f"{mode:o}", user="root", group="root")
