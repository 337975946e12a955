"""Strict YAML reading and declarative schema checking with line numbers.

PyYAML silently keeps the last of two duplicate keys, which is how tools end up simulating a
config the user did not write. This loader refuses duplicates and remembers the line of every
key so that each error can point at it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from andasim.errors import ConfigError


class LineMap(dict):
    """A dict that also records the 1-based source line of each of its keys."""

    key_lines: dict[str, int]
    start_line: int


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and records key lines."""

    source_name = "<config>"


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> LineMap:
    loader.flatten_mapping(node)
    result = LineMap()
    result.key_lines = {}
    result.start_line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise ConfigError(f"keys must be strings, got {key!r}", file=loader.source_name, line=line)
        if key in result:
            raise ConfigError(
                f"duplicate key (first defined on line {result.key_lines[key]})",
                file=loader.source_name, line=line, key=key,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_strict_yaml(path: Path | str, text: str | None = None) -> Any:
    """Parse a YAML file strictly; `text` overrides reading `path` (used for bundled resources)."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("file not found", file=name) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read file: {exc}", file=name) from None
    loader_cls = type("_Loader", (_StrictLoader,), {"source_name": name})
    try:
        return yaml.load(text, Loader=loader_cls)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError(f"invalid YAML: {exc.problem}", file=name, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=name) from None


# --- declarative schema ---------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One key of a mapping: its type, whether it is required and an optional extra check.

    `check` returns an error message or None. `kind` is one of: int, float (ints accepted),
    str, bool, map (a nested `Schema`), enum (`choices`).
    """

    kind: str
    required: bool = True
    doc: str = ""
    positive: bool = False
    non_negative: bool = False
    choices: tuple[str, ...] = ()
    schema: Schema | None = None
    check: Callable[[Any], str | None] | None = None


@dataclass(frozen=True)
class Schema:
    fields: Mapping[str, Field] = field(default_factory=dict)


_KIND_NAMES = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
               "map": "a mapping", "enum": "one of"}


def check_schema(data: Any, schema: Schema, *, file: str, prefix: str = "", line: int | None = None) -> None:
    """Validate `data` (a LineMap) against `schema`; raise ConfigError on the first problem."""
    if not isinstance(data, dict):
        raise ConfigError(f"must be a mapping, got {type(data).__name__}", file=file, line=line,
                          key=prefix or None)
    lines = getattr(data, "key_lines", {})
    start = getattr(data, "start_line", line)
    for key in data:
        if key not in schema.fields:
            valid = ", ".join(sorted(schema.fields))
            raise ConfigError(f"unknown key; valid keys here: {valid}", file=file,
                              line=lines.get(key), key=_join(prefix, key))
    for key, spec in schema.fields.items():
        full = _join(prefix, key)
        if key not in data or data[key] is None:
            if spec.required:
                raise ConfigError(f"missing required key ({_describe(spec)})", file=file, line=start,
                                  key=full)
            continue
        _check_value(data[key], spec, file=file, key=full, line=lines.get(key))


def _check_value(value: Any, spec: Field, *, file: str, key: str, line: int | None) -> None:
    def fail(msg: str) -> None:
        raise ConfigError(msg, file=file, line=line, key=key)

    if spec.kind == "map":
        assert spec.schema is not None
        check_schema(value, spec.schema, file=file, prefix=key, line=line)
        return
    if spec.kind == "enum":
        if not isinstance(value, str) or value not in spec.choices:
            fail(f"got {value!r}; valid: {', '.join(spec.choices)}")
        return
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            fail(f"must be {_describe(spec)}, got {value!r}")
    elif spec.kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(f"must be {_describe(spec)}, got {value!r}")
        if not math.isfinite(value):
            fail(f"must be finite, got {value!r}")
    elif spec.kind == "str":
        if not isinstance(value, str) or not value:
            fail(f"must be a non-empty string, got {value!r}")
    elif spec.kind == "bool" and not isinstance(value, bool):
        fail(f"must be true or false, got {value!r}")
    if spec.positive and value <= 0:
        fail(f"must be > 0, got {value!r}")
    if spec.non_negative and value < 0:
        fail(f"must be >= 0, got {value!r}")
    if spec.check is not None:
        msg = spec.check(value)
        if msg:
            fail(msg)


def _describe(spec: Field) -> str:
    if spec.kind == "enum":
        return "one of " + ", ".join(spec.choices)
    text = _KIND_NAMES[spec.kind]
    if spec.positive:
        text += " > 0"
    elif spec.non_negative:
        text += " >= 0"
    if spec.doc:
        text += f"; {spec.doc}"
    return text


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
