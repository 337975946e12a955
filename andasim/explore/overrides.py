"""Design overrides by dotted key (`pe_array.rows=16`), validated exactly like a YAML file.

An override edits the design's raw mapping (as read from its YAML) and the edited mapping goes
through `hw_from_mapping`, the loader's own schema check. Editing a frozen `HardwareConfig` with
`dataclasses.replace` would skip that check (`rows=0` would reach the engine); this cannot.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

import yaml

from andasim.errors import AndasimInputError, ConfigError
from andasim.hw.config import HardwareConfig, hw_from_mapping
from andasim.strict_yaml import LineMap

Override = tuple[str, Any]  # (dotted key, value)

_RANGE_RE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
MAX_RANGE_VALUES = 4096  # a range longer than this is almost certainly a typo (8..80000)


def parse_scalar(text: str) -> Any:
    """One value as YAML would read it: `8` -> 8, `1.5` -> 1.5, `true` -> True, `ring` -> 'ring'."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, bool | int | float | str) else text


def parse_values(option: str, key: str, text: str) -> list[Any]:
    """The values of `KEY=V1,V2,...`; `LO..HI` is the inclusive integer range."""
    values: list[Any] = []
    for item in text.split(","):
        if not item.strip():
            raise AndasimInputError(f"{option} {key}: empty value in {text!r}; write KEY=V1,V2,... "
                                    "or KEY=LO..HI")
        match = _RANGE_RE.match(item)
        if match:
            lo, hi = int(match.group(1)), int(match.group(2))
            if hi < lo or hi - lo >= MAX_RANGE_VALUES:
                raise AndasimInputError(f"{option} {key}: range {item.strip()} must have LO <= HI and at "
                                        f"most {MAX_RANGE_VALUES} values")
            values.extend(range(lo, hi + 1))
        else:
            values.append(parse_scalar(item.strip()))
    dup = sorted({repr(v) for v in values if values.count(v) > 1})
    if dup:
        raise AndasimInputError(f"{option} {key}: value listed twice: {', '.join(dup)}")
    return values


def parse_assignment(option: str, text: str) -> tuple[str, list[Any]]:
    """`KEY=V1,V2` -> (KEY, [V1, V2]) with the key's spelling checked."""
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise AndasimInputError(f"{option} {text!r}: expected KEY=V1,V2,... (e.g. pe_array.rows=8,16)")
    if not _KEY_RE.match(key):
        raise AndasimInputError(f"{option} {key!r}: a key is dotted words such as pe_array.rows")
    return key, parse_values(option, key, rest)


def _plain(value: Any) -> Any:
    """A LineMap tree as plain dicts (for pickling to workers and for hashing)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _line_map(data: Any) -> Any:
    """Plain dicts back to LineMaps (no line numbers: the values come from the command line)."""
    if isinstance(data, dict):
        out = LineMap()
        out.key_lines = {}
        out.start_line = None
        for k, v in data.items():
            out[k] = _line_map(v)
            out.key_lines[k] = None
        return out
    if isinstance(data, list):
        return [_line_map(v) for v in data]
    return data


def _copy_node(node: Any) -> Any:
    """A shallow copy of one mapping, line numbers included."""
    out = copy.copy(node)
    if hasattr(node, "key_lines"):
        out.key_lines = dict(node.key_lines)
    return out


def apply_overrides(mapping: Any, overrides: Sequence[Override], design: str) -> Any:
    """A copy of the raw design `mapping` with each dotted key set; refuses a missing section.

    Only the mappings on an overridden key's path are copied; the base mapping is never changed.
    """
    data = _copy_node(mapping)
    copied = {id(data)}
    for key, value in overrides:
        parts = key.split(".")
        node = data
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                have = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
                raise AndasimInputError(f"--set {key}: design {design} has no section '{where}' "
                                        f"(keys there: {have})")
            if id(child) not in copied:
                child = _copy_node(child)
                copied.add(id(child))
                node[part] = child
            node = child
        node[parts[-1]] = value
        if hasattr(node, "key_lines"):
            node.key_lines.setdefault(parts[-1], None)
    return data


def validated_design(mapping: Any, file: str, overrides: Sequence[Override], design: str) -> HardwareConfig:
    """Apply `overrides` to a raw design mapping and validate it through the hardware schema.

    A schema error about an overridden key is reported as `--set KEY=VALUE (design): problem`;
    one about another key that the overrides made invalid names both.
    """
    data = apply_overrides(mapping, overrides, design)
    try:
        return hw_from_mapping(data, file)
    except ConfigError as exc:
        for key, value in overrides:
            if exc.key is not None and (exc.key == key or key.startswith(exc.key + ".")
                                        or exc.key.startswith(key + ".")):
                raise AndasimInputError(f"--set {key}={value!r} on design {design}: key '{exc.key}': "
                                        f"{exc.detail}") from None
        if overrides:
            sets = " ".join(f"{k}={v!r}" for k, v in overrides)
            raise AndasimInputError(f"design {design} with --set {sets}: {exc}") from None
        raise


def plain_mapping(mapping: Any) -> dict[str, Any]:
    """The raw mapping as plain dicts, for shipping to workers."""
    return _plain(mapping)


def mapping_from_plain(data: dict[str, Any]) -> Any:
    """Inverse of `plain_mapping`: a mapping `hw_from_mapping` accepts."""
    return _line_map(data)


def lookup(mapping: Any, key: str) -> Any:
    """The value at a dotted key of a raw design mapping (None when absent)."""
    node = mapping
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
