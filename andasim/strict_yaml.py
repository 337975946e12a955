"""Strict YAML reading and declarative schema checking with line numbers.

PyYAML silently keeps the last of two duplicate keys, which is how tools end up simulating a
config the user did not write. This loader refuses duplicates and remembers the line of every
key so that each error can point at it.

Config files are small and written by hand, so the loader also refuses what only a hostile file
needs: more than `MAX_CONFIG_BYTES`, anchors and aliases (a "billion laughs" alias bomb expands
a few lines into gigabytes), nesting deeper than `MAX_DEPTH`, and anything that is not a
regular file (a FIFO would block, `/dev/zero` never ends). Error messages quote at most a short
prefix of a value (`safe_read.short`), never the whole of it.

Each `Field` declares its accepted range (`min`/`max`, or `positive`), so the checks and the
generated range tables in docs/hw_config.md (`andasim/schema_docs.py`) come from one place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from andasim.errors import ConfigError
from andasim.safe_read import read_text_file, short

MAX_CONFIG_BYTES = 1 << 20   # 1 MiB: the largest bundled YAML is ~10 KiB
MAX_DEPTH = 32               # nesting levels of mappings/lists; bundled files use at most 4


class LineMap(dict):
    """A dict that also records the 1-based source line of each of its keys."""

    key_lines: dict[str, int]
    start_line: int


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, anchors, aliases and deep nesting; records key lines."""

    source_name = "<config>"
    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise ConfigError("YAML anchors and aliases (&name, *name) are not supported; write the "
                              "values out", file=self.source_name, line=line)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ConfigError(f"nested deeper than {MAX_DEPTH} levels", file=self.source_name, line=line)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> LineMap:
    loader.flatten_mapping(node)
    result = LineMap()
    result.key_lines = {}
    result.start_line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise ConfigError(f"keys must be strings, got {short(key)}", file=loader.source_name, line=line)
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
        text = read_text_file(path, max_bytes=MAX_CONFIG_BYTES, what="YAML config")
    elif len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"is {len(text)} characters; a YAML config may be at most {MAX_CONFIG_BYTES}",
                          file=name)
    loader_cls = type("_Loader", (_StrictLoader,), {"source_name": name})
    try:
        return yaml.load(text, Loader=loader_cls)  # a SafeLoader subclass: no arbitrary objects
    except ConfigError:
        raise
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError(f"invalid YAML: {str(exc.problem)[:80]}", file=name, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {str(exc)[:80]}", file=name) from None
    except (ValueError, OverflowError, RecursionError) as exc:  # e.g. an integer of 5000 digits
        raise ConfigError(f"invalid value: {str(exc)[:80]}", file=name) from None


# --- declarative schema ---------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One key of a mapping: its type, whether it is required, its accepted range and unit.

    `kind` is one of: int, float (ints accepted), str, bool, map (a nested `Schema`), enum
    (`choices`). Numbers must lie in [`min`, `max`] (either may be None); `positive` excludes 0
    from below. The range is part of the schema so that the docs are generated from it; a
    range that reflects a model limit says why in `doc`. `check` adds a rule that a range cannot
    express and returns an error message or None.
    """

    kind: str
    required: bool = True
    doc: str = ""
    positive: bool = False
    non_negative: bool = False
    min: float | None = None
    max: float | None = None
    unit: str = ""
    choices: tuple[str, ...] = ()
    schema: Schema | None = None
    check: Callable[[Any], str | None] | None = None

    def range_text(self) -> str:
        """The accepted range in interval notation, e.g. `[1, 1024]` or `(0, 1e+05]`; '' if none."""
        if self.kind not in ("int", "float"):
            return ""
        low = 0 if (self.positive or self.non_negative) and self.min is None else self.min
        if low is None and self.max is None:
            return "any"
        left = "(" if self.positive and self.min is None else "["
        lo = "-inf" if low is None else _num(low)
        hi = "inf" if self.max is None else _num(self.max)
        return f"{left}{lo}, {hi}{']' if self.max is not None else ')'}"


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


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


def check_option(value: Any, spec: Field, option: str, key: str) -> None:
    """Check a command-line override of config key `key` against its field (same range, same rule)."""
    _check_value(value, spec, file=option, key=key, line=None)


def _check_value(value: Any, spec: Field, *, file: str, key: str, line: int | None) -> None:
    def fail(msg: str) -> None:
        raise ConfigError(msg, file=file, line=line, key=key)

    if spec.kind == "map":
        assert spec.schema is not None
        check_schema(value, spec.schema, file=file, prefix=key, line=line)
        return
    if spec.kind == "enum":
        if not isinstance(value, str) or value not in spec.choices:
            fail(f"got {short(value)}; valid: {', '.join(spec.choices)}")
        return
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            fail(f"must be {_describe(spec)}, got {short(value)}")
    elif spec.kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(f"must be {_describe(spec)}, got {short(value)}")
        if not math.isfinite(value):
            fail(f"must be finite, got {short(value)}")
    elif spec.kind == "str":
        if not isinstance(value, str) or not value:
            fail(f"must be a non-empty string, got {short(value)}")
    elif spec.kind == "bool" and not isinstance(value, bool):
        fail(f"must be true or false, got {short(value)}")
    if spec.kind in ("int", "float"):
        below = (spec.positive and value <= 0) or (spec.non_negative and value < 0) or (
            spec.min is not None and value < spec.min)
        if below or (spec.max is not None and value > spec.max):
            unit = f" {spec.unit}" if spec.unit else ""
            fail(f"must be in {spec.range_text()}{unit}, got {short(value)}")
    if spec.check is not None:
        msg = spec.check(value)
        if msg:
            fail(msg)


def _describe(spec: Field) -> str:
    if spec.kind == "enum":
        return "one of " + ", ".join(spec.choices)
    text = _KIND_NAMES[spec.kind]
    if spec.kind in ("int", "float") and spec.range_text() != "any":
        text += f" in {spec.range_text()}"
    if spec.unit:
        text += f" {spec.unit}"
    if spec.doc:
        text += f"; {spec.doc}"
    return text


def iter_fields(schema: Schema, prefix: str = "") -> Any:
    """(dotted key, Field) for every leaf of `schema`, depth first, in declaration order."""
    for key, spec in schema.fields.items():
        full = _join(prefix, key)
        if spec.kind == "map" and spec.schema is not None:
            yield from iter_fields(spec.schema, full)
        else:
            yield full, spec


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
