"""Every number of every input schema has a declared range, enforced and documented (issue 19).

Each numeric key present in a bundled file is pushed just outside its range; the loader must
refuse it with one line naming the file and the key. The range tables in docs/hw_config.md must
be the ones rendered from the schemas.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from andasim.bundled import bundled_dir
from andasim.errors import ConfigError
from andasim.hw.config import load_hw
from andasim.hw.energy import load_cost_table
from andasim.schema_docs import rewrite, schemas
from andasim.strict_yaml import iter_fields
from andasim.system.offload.tiers import load_system
from andasim.workload.card import load_card

ROOT = Path(__file__).resolve().parents[1]

_BUNDLED = {  # schema name -> (bundled file text, loader)
    "design": (lambda: bundled_dir("hw_configs").joinpath("anda.yaml").read_text(encoding="utf-8"), load_hw),
    "system": (lambda: (bundled_dir("hw_configs") / "systems" / "t4-flexgen.yaml").read_text("utf-8"),
               load_system),
    "cost_table": (lambda: (ROOT / "andasim/hw/cost_tables/anda_16nm.yaml").read_text(encoding="utf-8"),
                   load_cost_table),
    "card": (lambda: (ROOT / "andasim/workload/cards/llama2-7b.yaml").read_text(encoding="utf-8"), load_card),
}


def test_docs_tables_match_the_schemas() -> None:
    text = (ROOT / "docs" / "hw_config.md").read_text(encoding="utf-8")
    assert rewrite(text) == text, "run `python -m andasim.schema_docs` to regenerate docs/hw_config.md"


def test_every_number_has_an_upper_bound() -> None:
    unbounded = [f"{name}:{key}" for name, schema in schemas().items() for key, spec in iter_fields(schema)
                 if spec.kind in ("int", "float") and spec.max is None and key != "schema_version"
                 and not key.endswith("schema_version")]
    assert not unbounded


def _numeric_leaves(data: dict, prefix: str = ""):
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            yield from _numeric_leaves(value, full)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield full


def _set(data: dict, dotted: str, value) -> None:
    *path, last = dotted.split(".")
    for part in path:
        data = data[part]
    data[last] = value


def _cases():
    for name, (text_of, _) in _BUNDLED.items():
        schema = schemas()[name]
        specs = dict(iter_fields(schema))
        data = yaml.safe_load(text_of())
        for key in _numeric_leaves(data):
            spec = specs.get(key)
            if spec is None or key.endswith("schema_version"):
                continue
            if spec.max is not None:
                yield pytest.param(name, key, spec.max * 10 + 1, id=f"{name}-{key}-above")
            low = spec.min if spec.min is not None else (0 if spec.positive or spec.non_negative else None)
            if low is not None:
                yield pytest.param(name, key, low - 1 if spec.kind == "int" else low - 1e-3 - abs(low),
                                   id=f"{name}-{key}-below")


@pytest.mark.parametrize(("name", "key", "value"), list(_cases()))
def test_out_of_range_value_is_refused_naming_the_key(tmp_path, name: str, key: str, value) -> None:
    text_of, loader = _BUNDLED[name]
    data = copy.deepcopy(yaml.safe_load(text_of()))
    _set(data, key, value)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        loader(path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    assert key in msg or key.rsplit(".", 1)[0] in msg, msg
