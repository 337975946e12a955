#!/usr/bin/env python3
"""Derive andasim/hw/cost_tables/{anda_16nm,baselines_16nm}.yaml from the Anda paper's totals.

Runs the calibration scenario (Anda, LLaMA-13B shape-only trace, published WikiText-2 1% profile,
prefill 2048, batch 1) through the engine, then divides Table III's per-component power by the
run's activity counts (andasim.hw.energy_calibration). Deterministic: the same engine gives the
same bytes. Usage:

    .venv/bin/python scripts/derive_energy_tables.py            # rewrite the bundled tables
    .venv/bin/python scripts/derive_energy_tables.py --check    # exit 1 if they would change
    .venv/bin/python scripts/derive_energy_tables.py --out-dir /tmp/t --leak-logic 0.3   # sensitivity
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from andasim.hw.config import load_hw
from andasim.hw.energy_calibration import (
    CALIBRATION_SCENARIO,
    LEAKAGE_FRACTION_LOGIC,
    LEAKAGE_FRACTION_SRAM,
    build_tables,
    render_table,
)

TABLE_DIR = Path(__file__).resolve().parent.parent / "andasim" / "hw" / "cost_tables"


def calibration_counters() -> dict[str, float]:
    """Run the calibration scenario and return the engine's flat counters."""
    from andasim.sim.simulate import simulate
    from andasim.workload.trace import load_trace

    s = CALIBRATION_SCENARIO
    trace = load_trace(s["trace"])
    result = simulate(load_hw(s["hw"]), trace, trace.profiles[s["profile"]], phase=s["phase"],
                      seq_len=s["seq_len"], batch=s["batch"], modules=s["modules"])
    return dict(result.counters)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if a table would change")
    ap.add_argument("--out-dir", type=Path, default=TABLE_DIR,
                    help="where to write (default: the bundled tables)")
    ap.add_argument("--leak-logic", type=float, default=LEAKAGE_FRACTION_LOGIC,
                    help="leakage share of logic power (assumption; for sensitivity studies)")
    ap.add_argument("--leak-sram", type=float, default=LEAKAGE_FRACTION_SRAM,
                    help="leakage share of SRAM power (assumption; for sensitivity studies)")
    args = ap.parse_args(argv)
    tables = build_tables(load_hw(CALIBRATION_SCENARIO["hw"]), calibration_counters(),
                          leak_logic=args.leak_logic, leak_sram=args.leak_sram)
    changed = []
    for name, table in tables.items():
        path = args.out_dir / f"{name}.yaml"
        text = render_table(table)
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        changed.append(str(path))
        if not args.check:
            args.out_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".yaml.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
    verb = "would change" if args.check else "written"
    print(f"{verb}: {', '.join(changed)}" if changed else "cost tables up to date", file=sys.stderr)
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
