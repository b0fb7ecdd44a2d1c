"""The one protobuf body the stand-in API server reads: a TokenRequest, as kubectl sends it.

``kubectl create token`` posts its TokenRequest in Kubernetes' protobuf encoding (the ``k8s\\0``
magic, then a ``runtime.Unknown`` envelope whose ``raw`` field is the TokenRequest message); every
other request kubehaus makes is JSON. Field numbers from k8s.io/api/authentication/v1's
generated.proto: TokenRequest{metadata=1, spec=2}, TokenRequestSpec{audiences=1,
boundObjectRef=3, expirationSeconds=4}, BoundObjectReference{kind=1, apiVersion=2, name=3, uid=4};
runtime.Unknown{typeMeta=1, raw=2}, TypeMeta{apiVersion=1, kind=2}.
"""

from __future__ import annotations

from typing import Any

from .cri import parse_fields

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


class ProtobufError(ValueError):
    pass


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    try:
        return parse_fields(data)
    except ValueError as exc:  # truncated, or a wire type no TokenRequest field has
        raise ProtobufError(str(exc)) from None


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError("a string field holds a number")
    return value.decode("utf-8")


def token_request(body: bytes) -> dict[str, Any]:
    """A protobuf TokenRequest as the JSON object the API server would have decoded."""
    if not body.startswith(MAGIC):
        raise ProtobufError("no Kubernetes protobuf magic")
    envelope = dict(_fields(body[len(MAGIC) :]))
    raw = envelope.get(2)
    if not isinstance(raw, bytes):
        raise ProtobufError("no object in the envelope")
    spec: dict[str, Any] = {}
    for number, value in _fields(raw):
        if number != 2 or not isinstance(value, bytes):
            continue
        for field, item in _fields(value):
            if field == 1:
                spec.setdefault("audiences", []).append(_text(item))
            elif field == 4 and isinstance(item, int):
                spec["expirationSeconds"] = item
            elif field == 3 and isinstance(item, bytes):
                names = {1: "kind", 2: "apiVersion", 3: "name", 4: "uid"}
                spec["boundObjectRef"] = {names[n]: _text(v) for n, v in _fields(item) if n in names}
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
