"""Plain data (a dict from YAML/JSON/env) validated into a typed, frozen config dataclass.

Strict on purpose, like ``hub.settings``: an unknown key is an error (a typo in a security
setting must not be silently ignored), and so is a value of the wrong type. Supported field
types: ``str``, ``int``, ``float``, ``bool``, ``tuple[str, ...]``, ``Literal[...]``,
``X | None`` and nested config dataclasses. Semantic checks live in each dataclass's
``__post_init__`` and raise :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from connectors.errors import ConfigError

T = TypeVar("T")


def parse_config(cls: type[T], data: Mapping[str, Any] | T, *, where: str = "") -> T:
    """Build ``cls`` from ``data``; raise :class:`ConfigError` naming the offending key."""
    if isinstance(data, cls):
        return data
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a config dataclass")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'config'}: expected a mapping")
    hints = get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise ConfigError(f"{where or 'config'}: unknown key(s): {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, f in known.items():
        path = f"{where}.{name}" if where else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{path}: required")
            continue
        kwargs[name] = _coerce(hints[name], data[name], path)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:  # a __post_init__ that forgot to use ConfigError
        raise ConfigError(f"{where or 'config'}: {exc}") from exc


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _coerce(inner[0], value, path)
        raise TypeError(f"unsupported union at {path}")
    if origin is typing.Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{path}: must be one of {', '.join(map(repr, allowed))}")
        return value
    if origin is tuple:
        args = get_args(tp)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"unsupported tuple type at {path}")
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise ConfigError(f"{path}: expected a list")
        return tuple(_coerce(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        return parse_config(tp, value, where=path)  # type: ignore[arg-type]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {path}")


def require_url(value: str, key: str, *, allow_http: bool, required: bool = True) -> None:
    """An absolute http(s) URL without credentials; https unless ``allow_http``.

    Tokens and codes travel to these endpoints, so plain http is refused outside tests
    (RFC 6749 §3.1.2.1, §3.2: TLS is required for the authorization and token endpoints).
    """
    if not value:
        if required:
            raise ConfigError(f"{key}: required")
        return
    parts = urlsplit(value)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        need = "an http(s)" if allow_http else "an https"
        raise ConfigError(f"{key}: must be {need} URL")
    if parts.username or parts.password:
        raise ConfigError(f"{key}: must not contain credentials")
    if parts.fragment:
        raise ConfigError(f"{key}: must not contain a fragment")
