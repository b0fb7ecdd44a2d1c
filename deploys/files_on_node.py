"""Putting kubehaus's own files on a node: content compared by checksum, written only when it differs."""

from __future__ import annotations

from io import BytesIO, StringIO

from pyinfra.operations import files

from bootstrap.deploy_executor import step
from bootstrap.render.node_files import NodeFile


def put(node_file: NodeFile, name: str | None = None) -> bool:
    return step(
        name or f"file {node_file.path}",
        files.put,
        src=StringIO(node_file.content),
        dest=node_file.path,
        mode=f"{node_file.mode:o}",
        user="root",
        group="root",
    )


def put_bytes(path: str, content: bytes, mode: int, name: str) -> bool:
    return step(name, files.put, src=BytesIO(content), dest=path, mode=f"{mode:o}", user="root", group="root")
