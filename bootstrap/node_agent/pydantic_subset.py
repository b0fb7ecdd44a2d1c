"""The part of pydantic's BaseModel that kubehaus's shipped rule modules use, in the standard library.

Shipped to a node as ``pydantic`` (only there: the controller always has the real one) so that the
health rules, the topology model, the findings and the watch decision run on the node from their
own, unchanged sources (docs/health-watch.md says why this, not a second rule set). It covers what
those modules use and no more: fields from annotations with defaults and ``Field(default,
default_factory, ge, le)``; ``str``, ``int``, ``bool``, ``None``, ``X | None``, ``Literal``,
``list``, ``dict``, ``Enum`` and nested models; ``Annotated[..., AfterValidator(f)]``;
``extra="forbid"`` and ``frozen``; ``model_validate``, ``model_dump`` and ``model_copy(update=)``.
Validation is pydantic's strict mode plus the one coercion the shipped data needs (JSON object keys
to ``int``); a value it cannot type raises ``ValidationError`` (the check then reports Unknown).
tests/test_node_agent.py holds it to pydantic's results on the same inputs.

Runs on the node's python3 (3.10 or later: Ubuntu 22.04) with ``-S``: no imports beyond the
standard library.
"""

from __future__ import annotations

import enum
import inspect
import sys
import types
import typing
from typing import Any

_MISSING = object()


class ValidationError(ValueError):
    """A value that does not fit its field (pydantic's class of the same name, reduced)."""


def ConfigDict(**settings: Any) -> dict[str, Any]:
    return dict(settings)


class AfterValidator:
    def __init__(self, func: Any) -> None:
        self.func = func


class _FieldInfo:
    def __init__(self, default: Any, default_factory: Any, ge: Any, le: Any) -> None:
        self.default, self.default_factory, self.ge, self.le = default, default_factory, ge, le


def Field(
    default: Any = _MISSING, *, default_factory: Any = None, ge: Any = None, le: Any = None, **_: Any
) -> Any:
    return _FieldInfo(default, default_factory, ge, le)


def _fail(where: str, value: Any, wanted: str) -> ValidationError:
    return ValidationError(f"{where}: {value!r} is not {wanted}")


def _convert(kind: Any, value: Any, where: str) -> Any:
    """``value`` as ``kind`` (an annotation, already evaluated)."""
    origin = typing.get_origin(kind)
    if kind is Any:
        return value
    if kind is None or kind is type(None):
        if value is not None:
            raise _fail(where, value, "None")
        return None
    if origin is typing.Annotated:
        base, *extras = typing.get_args(kind)
        result = _convert(base, value, where)
        for extra in extras:
            if isinstance(extra, AfterValidator):
                try:
                    result = extra.func(result)
                except (ValueError, TypeError) as exc:
                    raise ValidationError(f"{where}: {exc}") from None
        return result
    if origin is typing.Union or origin is types.UnionType:
        errors = []
        for option in typing.get_args(kind):
            try:
                return _convert(option, value, where)
            except ValidationError as exc:
                errors.append(str(exc))
        raise ValidationError("; ".join(errors))
    if origin is typing.Literal:
        if value in typing.get_args(kind) and type(value) in {type(a) for a in typing.get_args(kind)}:
            return value
        raise _fail(where, value, f"one of {typing.get_args(kind)}")
    if origin is list:
        if not isinstance(value, list | tuple):
            raise _fail(where, value, "a list")
        (item,) = typing.get_args(kind) or (Any,)
        return [_convert(item, v, f"{where}.{i}") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(where, value, "a mapping")
        key_kind, value_kind = typing.get_args(kind) or (Any, Any)
        return {_key(key_kind, k, where): _convert(value_kind, v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        if isinstance(value, kind):
            return value
        if not isinstance(value, dict):
            raise _fail(where, value, f"a {kind.__name__} object")
        return kind._build(value, where)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except ValueError:
            raise _fail(where, value, f"a {kind.__name__}") from None
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise _fail(where, value, "a boolean")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _fail(where, value, "an integer")
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _fail(where, value, "a number")
    if kind is str:
        if isinstance(value, str):
            return value
        raise _fail(where, value, "a string")
    raise ValidationError(f"{where}: the node's pydantic subset cannot check {kind!r}")


def _key(kind: Any, key: Any, where: str) -> Any:
    if kind is int and isinstance(key, str):  # JSON object keys are strings; pydantic reads them
        try:
            return int(key)
        except ValueError:
            raise _fail(where, key, "an integer key") from None
    return _convert(kind, key, f"{where} (key)")


def _dump(value: Any, json_mode: bool) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json" if json_mode else "python")
    if isinstance(value, list | tuple):
        return [_dump(v, json_mode) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v, json_mode) for k, v in value.items()}
    if json_mode and isinstance(value, enum.Enum):
        return value.value
    return value


class BaseModel:
    """Fields from the class's annotations, checked on construction."""

    model_config: typing.ClassVar[dict[str, Any]] = {}

    @classmethod
    def _fields(cls) -> dict[str, tuple[Any, Any]]:
        """name -> (annotation, default or _FieldInfo), evaluated once per class."""
        cached = cls.__dict__.get("_kubehaus_fields")
        if cached is not None:
            return cached
        fields: dict[str, tuple[Any, Any]] = {}
        for klass in reversed(cls.__mro__):
            if klass is BaseModel or not issubclass(klass, BaseModel):
                continue
            namespace = vars(sys.modules[klass.__module__])
            for name, text in inspect.get_annotations(klass).items():
                if name == "model_config" or name.startswith("_"):
                    continue
                kind = eval(text, namespace) if isinstance(text, str) else text  # our own shipped sources
                if typing.get_origin(kind) is typing.ClassVar:
                    continue
                fields[name] = (kind, klass.__dict__.get(name, _MISSING))
        cls._kubehaus_fields = fields  # type: ignore[attr-defined]
        return fields

    @classmethod
    def _build(cls, data: dict[str, Any], where: str) -> Any:
        fields = cls._fields()
        if cls.model_config.get("extra") == "forbid":
            extra = [k for k in data if k not in fields]
            if extra:
                names = ", ".join(map(str, extra))
                raise ValidationError(f"{where or cls.__name__}: unexpected field(s) {names}")
        self = object.__new__(cls)
        for name, (kind, default) in fields.items():
            info = default if isinstance(default, _FieldInfo) else None
            here = f"{where}.{name}" if where else name
            if name in data:
                value = _convert(kind, data[name], here)
            elif info is not None and info.default_factory is not None:
                value = info.default_factory()
            elif info is not None and info.default is not _MISSING:
                value = info.default
            elif info is None and default is not _MISSING:
                value = default
            else:
                raise ValidationError(f"{here}: field required")
            if info is not None and isinstance(value, int | float) and not _within(value, info):
                raise ValidationError(f"{here}: {value!r} is outside [{info.ge}, {info.le}]")
            object.__setattr__(self, name, value)
        return self

    def __init__(self, **data: Any) -> None:
        built = type(self)._build(data, "")
        for name in type(self)._fields():
            object.__setattr__(self, name, getattr(built, name))

    @classmethod
    def model_validate(cls, data: Any) -> Any:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise _fail(cls.__name__, data, "an object")
        return cls._build(data, "")

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        return {name: _dump(getattr(self, name), mode == "json") for name in type(self)._fields()}

    def model_copy(self, update: dict[str, Any] | None = None) -> Any:
        copy = object.__new__(type(self))
        for name in type(self)._fields():
            object.__setattr__(copy, name, getattr(self, name))
        for name, value in (update or {}).items():  # like pydantic: not validated
            object.__setattr__(copy, name, value)
        return copy

    def __setattr__(self, name: str, value: Any) -> None:
        if type(self).model_config.get("frozen"):
            raise ValidationError(f"{type(self).__name__} is frozen")
        object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in type(self)._fields())

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        if not type(self).model_config.get("frozen"):
            raise TypeError(f"unhashable type: {type(self).__name__!r}")
        return hash(tuple(_frozen(v) for v in self._values()))

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in type(self)._fields())
        return f"{type(self).__name__}({values})"


def _within(value: float, info: _FieldInfo) -> bool:
    return (info.ge is None or value >= info.ge) and (info.le is None or value <= info.le)


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value
