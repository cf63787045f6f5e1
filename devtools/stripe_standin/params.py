"""Stripe's form encoding: `a[b][0][c]=v` pairs in, nested dicts and lists out.

The client flattens every request (query string for GET, form body for POST) this
way; endpoints then read typed values with the helpers below, which name the
offending parameter exactly as Stripe does (`line_items[0][quantity]`).
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .errors import missing_param, param_error, unknown_param

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")
_INTEGER = re.compile(r"^-?\d+$")

Params = dict[str, Any]


def decode(pairs: Iterable[tuple[str, str]]) -> Params:
    """Rebuild nested params; dicts keyed 0..n become lists, as Stripe reads them."""
    root: Params = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            raise param_error(key, f"Invalid parameter name: {key}")
        parts = [match.group(1), *_PART.findall(match.group(2))]
        node = root
        for depth, part in enumerate(parts):
            if part == "":
                part = str(len(node))
            if depth == len(parts) - 1:
                if isinstance(node.get(part), dict):
                    raise param_error(key, f"Invalid value for {key}: a hash was also given")
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise param_error(key, f"Invalid value for {key}: a string was also given")
                node = child
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {key: _listify(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def decode_query(target: str) -> Params:
    return decode(parse_qsl(urlsplit(target).query, keep_blank_values=True))


def decode_body(body: bytes) -> Params:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise param_error("body", "Request body is not valid UTF-8") from exc
    return decode(parse_qsl(text, keep_blank_values=True))


def name(prefix: str, key: str | int) -> str:
    """The wire name of a nested param, used in error messages."""
    return f"{prefix}[{key}]" if prefix else str(key)


def reject_unknown(params: Mapping[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    allowed = set(allowed)
    for key in params:
        if key not in allowed:
            raise unknown_param(name(prefix, key))


def get_str(
    params: Mapping[str, Any],
    key: str,
    *,
    prefix: str = "",
    required: bool = False,
    max_length: int | None = None,
) -> str | None:
    value = params.get(key)
    wire = name(prefix, key)
    if value is None or value == "":
        if required:
            raise missing_param(wire)
        return None
    if not isinstance(value, str):
        raise param_error(wire, f"Invalid string: {wire} must be a string")
    if max_length is not None and len(value) > max_length:
        raise param_error(wire, f"Invalid {wire}: must be at most {max_length} characters")
    return value


def get_int(
    params: Mapping[str, Any],
    key: str,
    *,
    prefix: str = "",
    required: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    raw = get_str(params, key, prefix=prefix, required=required)
    wire = name(prefix, key)
    if raw is None:
        return None
    if not _INTEGER.match(raw):
        raise param_error(wire, f"Invalid integer: {raw}")
    value = int(raw)
    if minimum is not None and value < minimum:
        raise param_error(wire, f"This value must be greater than or equal to {minimum}.")
    if maximum is not None and value > maximum:
        raise param_error(wire, f"This value must be less than or equal to {maximum}.")
    return value


def get_dict(
    params: Mapping[str, Any], key: str, *, prefix: str = "", required: bool = False
) -> dict[str, Any] | None:
    value = params.get(key)
    wire = name(prefix, key)
    if value is None or value == "":
        if required:
            raise missing_param(wire)
        return None
    if not isinstance(value, dict):
        raise param_error(wire, f"Invalid hash: {wire} must be a hash")
    return value


def get_list(
    params: Mapping[str, Any], key: str, *, prefix: str = "", required: bool = False
) -> list[Any] | None:
    value = params.get(key)
    wire = name(prefix, key)
    if value is None or value == "" or value == {}:
        if required:
            raise missing_param(wire)
        return None
    if not isinstance(value, list):
        raise param_error(wire, f"Invalid array: {wire} must be an array")
    return value


def get_metadata(
    params: Mapping[str, Any], key: str = "metadata", *, prefix: str = ""
) -> dict[str, str]:
    """Stripe's metadata limits: 50 keys, keys up to 40 and values up to 500 characters."""
    metadata = get_dict(params, key, prefix=prefix) or {}
    if len(metadata) > 50:
        raise param_error(name(prefix, key), "Invalid metadata: at most 50 keys are allowed")
    for meta_key, value in metadata.items():
        wire = name(name(prefix, key), meta_key)
        if not isinstance(value, str):
            raise param_error(wire, f"Invalid string: {wire} must be a string")
        if len(meta_key) > 40:
            raise param_error(wire, "Metadata keys can be at most 40 characters long")
        if len(value) > 500:
            raise param_error(wire, "Metadata values can be at most 500 characters long")
    return {meta_key: value for meta_key, value in metadata.items() if value != ""}
