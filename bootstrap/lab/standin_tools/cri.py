"""A CRI image client for lab machines: the calls the kubelet makes to pull an image, over the
runtime's gRPC socket (k8s.io/cri-api runtime/v1, service ``runtime.v1.ImageService``).

Debian has no crictl, so the lab makes these calls itself, as the kubelet does: PullImage with only
the image's name (no hosts directory, no auth: containerd's CRI resolves it through its own
registry configuration, the ``config_path`` apply wrote), then ImageStatus and ListImages to see what
the runtime holds. The messages are encoded here (a handful of string fields); grpcio is Debian's
python3-grpcio, on every lab machine.

Messages used (field numbers of cri-api's api.proto):
  ImageSpec{image=1}; PullImageRequest{image=1 ImageSpec}; PullImageResponse{image_ref=1};
  ImageStatusRequest{image=1 ImageSpec, verbose=2}; ImageStatusResponse{image=1 Image};
  ListImagesRequest{filter=1}; ListImagesResponse{images=1 repeated Image};
  Image{id=1, repo_tags=2 repeated, repo_digests=3 repeated, size=4 uint64}.

Usage on a lab machine: ``PYTHONPATH=/usr/lib/kubehaus-standin/kubelet python3 -m
standin_tools.cri pull|status REFERENCE`` or ``... list``; JSON on stdout, the runtime's error
(``rpc error: code = ... desc = ...``) on stderr with exit status 1.
"""

from __future__ import annotations

import json
import sys

CRI_SOCKET = "/run/containerd/containerd.sock"
IMAGE_SERVICE = "/runtime.v1.ImageService"


class CriError(Exception):
    """The runtime refused a CRI call; the message is what the kubelet would log."""


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def length_field(number: int, data: bytes) -> bytes:
    """A length-delimited field (string, bytes or an embedded message)."""
    return varint(number << 3 | 2) + varint(len(data)) + data


def parse_fields(message: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of every field: varints as ints, length-delimited as bytes; fixed
    32/64-bit fields are skipped (none of the messages used here has one)."""
    fields: list[tuple[int, int | bytes]] = []
    position = 0

    def read_varint() -> int:
        nonlocal position
        value = shift = 0
        while True:
            if position >= len(message):
                raise ValueError("truncated protobuf varint")
            byte = message[position]
            position += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while position < len(message):
        key = read_varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields.append((number, read_varint()))
        elif wire == 2:
            length = read_varint()
            if position + length > len(message):
                raise ValueError("truncated protobuf field")
            fields.append((number, message[position : position + length]))
            position += length
        elif wire in (1, 5):
            position += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return fields


def image_spec(reference: str) -> bytes:
    return length_field(1, reference.encode())


def pull_request(reference: str) -> bytes:
    return length_field(1, image_spec(reference))


def status_request(reference: str) -> bytes:
    return length_field(1, image_spec(reference))


def decode_image(message: bytes) -> dict[str, object]:
    image: dict[str, object] = {"id": "", "repo_tags": [], "repo_digests": [], "size": 0}
    for number, value in parse_fields(message):
        if number == 1 and isinstance(value, bytes):
            image["id"] = value.decode()
        elif number == 2 and isinstance(value, bytes):
            image["repo_tags"].append(value.decode())  # type: ignore[union-attr]
        elif number == 3 and isinstance(value, bytes):
            image["repo_digests"].append(value.decode())  # type: ignore[union-attr]
        elif number == 4 and isinstance(value, int):
            image["size"] = value
    return image


def decode_pull_response(message: bytes) -> str:
    return next((v.decode() for n, v in parse_fields(message) if n == 1 and isinstance(v, bytes)), "")


def decode_status_response(message: bytes) -> dict[str, object] | None:
    """The image, or None: ImageStatus answers an empty message for an image it does not hold."""
    found = [v for n, v in parse_fields(message) if n == 1 and isinstance(v, bytes)]
    return decode_image(found[0]) if found else None


def decode_list_response(message: bytes) -> list[dict[str, object]]:
    return [decode_image(v) for n, v in parse_fields(message) if n == 1 and isinstance(v, bytes)]


def go_code(name: str) -> str:
    """gRPC's status code as Go prints it (DEADLINE_EXCEEDED -> DeadlineExceeded)."""
    return "".join(part.title() for part in name.split("_"))


def call(method: str, request: bytes, socket_path: str = CRI_SOCKET, timeout: float = 120.0) -> bytes:
    import grpc  # Debian's python3-grpcio on lab machines; not needed on the host

    channel = grpc.insecure_channel(f"unix://{socket_path}")
    try:
        return channel.unary_unary(method)(request, timeout=timeout)  # bytes in, bytes out
    except grpc.RpcError as error:
        raise CriError(f"rpc error: code = {go_code(error.code().name)} desc = {error.details()}") from None
    finally:
        channel.close()


def pull(reference: str, socket_path: str = CRI_SOCKET) -> str:
    """PullImage as the kubelet sends it for a pod's image (no auth): the image's ref (its id)."""
    return decode_pull_response(call(f"{IMAGE_SERVICE}/PullImage", pull_request(reference), socket_path))


def status(reference: str, socket_path: str = CRI_SOCKET) -> dict[str, object] | None:
    return decode_status_response(
        call(f"{IMAGE_SERVICE}/ImageStatus", status_request(reference), socket_path)
    )


def list_images(socket_path: str = CRI_SOCKET) -> list[dict[str, object]]:
    return decode_list_response(call(f"{IMAGE_SERVICE}/ListImages", b"", socket_path))


def main(argv: list[str]) -> int:
    usage = "usage: python3 -m standin_tools.cri pull REFERENCE | status REFERENCE | list"
    try:
        if argv[:1] == ["list"] and len(argv) == 1:
            answer: object = list_images()
        elif argv[:1] == ["pull"] and len(argv) == 2:
            answer = {"image_ref": pull(argv[1])}
        elif argv[:1] == ["status"] and len(argv) == 2:
            answer = {"image": status(argv[1])}
        else:
            print(usage, file=sys.stderr)
            return 2
    except CriError as error:
        print(f"{argv[0]} {' '.join(argv[1:])}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
