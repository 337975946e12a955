"""The accepted range of every key of every input schema, rendered as Markdown tables.

docs/hw_config.md carries these tables between `<!-- schema:NAME -->` and `<!-- /schema:NAME -->`
markers; `tests/test_schema_docs.py` fails when they drift from the schemas, and
`python -m andasim.schema_docs` rewrites them. The schemas themselves (`Field.min`, `max`,
`unit`, `doc`) are the single source of truth.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from andasim.strict_yaml import Field, Schema, iter_fields


def schemas() -> dict[str, Schema]:
    """Every schema a user file is checked against, by the name used in the doc markers."""
    from andasim.hw.config import SCHEMA as DESIGN
    from andasim.hw.energy import TABLE_SCHEMA
    from andasim.system.offload.tiers import SCHEMA as SYSTEM
    from andasim.workload.card import CARD_SCHEMA

    return {"design": DESIGN, "system": SYSTEM, "cost_table": TABLE_SCHEMA, "card": CARD_SCHEMA}


def _type(spec: Field) -> str:
    if spec.kind == "enum":
        return " \\| ".join(f"`{c}`" for c in spec.choices)
    return {"int": "int", "float": "number", "str": "text", "bool": "bool", "map": "mapping"}[spec.kind]


def render(schema: Schema) -> str:
    """A Markdown table: key, type, accepted range, unit, required, notes."""
    lines = ["| key | type | range | unit | required | notes |", "|---|---|---|---|---|---|"]
    for key, spec in iter_fields(schema):
        notes = spec.doc.replace("|", "\\|")
        lines.append(f"| `{key}` | {_type(spec)} | {spec.range_text()} | {spec.unit} | "
                     f"{'yes' if spec.required else 'no'} | {notes} |")
    return "\n".join(lines) + "\n"


def _block(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- schema:{name} -->\n)(.*?)(<!-- /schema:{name} -->)", re.S)


def rewrite(text: str) -> str:
    """`text` with every marked table replaced by the table rendered from its schema."""
    for name, schema in schemas().items():
        pattern = _block(name)
        if not pattern.search(text):
            raise ValueError(f"no <!-- schema:{name} --> block")
        text = pattern.sub(lambda m, s=schema: m.group(1) + render(s) + m.group(3), text)
    return text


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "docs" / "hw_config.md"
    path.write_text(rewrite(path.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"rewrote the schema tables in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
