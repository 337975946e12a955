"""`andasim tp`: N chips in Megatron tensor parallelism with compressed all-reduces."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from andasim.cli import options
from andasim.cli.checks import FiniteFloatRange
from andasim.errors import AndasimInputError
from andasim.safe_read import short
from andasim.system.tp.collectives import COLLECTIVES
from andasim.system.tp.model import SPLITS
from andasim.system.tp.payloads import PAYLOAD_HELP

_DEFAULT_FORMATS = ("bf16", "hybrid:k_frac=1/64")
_MAX_CHIPS = 4096


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise AndasimInputError(f"{what} must be a comma list of integers, got {short(text)}") from None
    if not values or any(not 1 <= v <= _MAX_CHIPS for v in values):
        raise AndasimInputError(f"{what} must list integers in 1..{_MAX_CHIPS}, got {short(text)}")
    return sorted(set(values))


@options.command("tp", old_spellings=[options.Alias("--profile", "--precision"),
                                      options.Alias("--m-bits", "--precision")])
@options.hw_option(dest="hw_name")
@options.trace_option(dest="trace_name", extra="Its card gives the shapes, its recorded o/down inputs and "
                                               "weight samples (if any) give the error table.")
@click.option("--chips", default="8", show_default=True,
              help="N, or a comma list of N to sweep (e.g. 2,4,8,16).")
@click.option("--collective", type=click.Choice(COLLECTIVES), default="allgather", show_default=True,
              help="All-reduce algorithm after o and down.")
@click.option("--format", "formats", multiple=True,
              help=f"Payload format (repeat to compare; default bf16 and hybrid:k_frac=1/64, bf16 only for "
                   f"ring_allreduce): {PAYLOAD_HELP}")
@click.option("--phase", type=click.Choice(["prefill", "decode"]), default="prefill", show_default=True)
@options.seq_len_option()
@click.option("--batch", type=click.IntRange(min=1, max=1 << 20), default=1, show_default=True)
@click.option("--split", type=click.Choice(SPLITS), default="strict", show_default=True,
              help="strict: refuse N that does not divide heads/ffn; uneven: ceil shares.")
@click.option("--overlap/--no-overlap", default=True, show_default=True,
              help="Hide link time behind the next GeMM's weight prefetch.")
@click.option("--topology", type=click.Choice(["ring", "fully_connected", "switch"]), default=None,
              help="Override the YAML interconnect topology.")
@click.option("--link-bw-gb-per-s", type=float, default=None, help="Override: per link and direction, GB/s.")
@click.option("--link-latency-ns", type=float, default=None, help="Override: α per collective step, ns.")
@click.option("--links-per-chip", type=int, default=None, help="Override: ports per chip.")
@click.option("--full-duplex/--half-duplex", default=None, help="Override the link duplex.")
@click.option("--codec-ops-per-cycle", type=int, default=None,
              help="What-if: element ops per cycle for payload encode/decode (default: the vector "
                   "unit's FPUs).")
@click.option("--codec-pipeline-chunks", type=click.IntRange(min=1), default=1, show_default=True,
              help="What-if: cut each collective into C chunks whose encode, transfer and decode overlap "
                   "(EQuARX-style pipelining; 1 = one after the other).")
@options.precision_option(dest="precision_spec")
@click.option("--error-chips", default=None, help="N list for the error table (default: --chips).")
@click.option("--calib-frac", type=FiniteFloatRange(0, 1, min_open=True, max_open=True), default=0.5,
              show_default=True,
              help="Share of the trace's tokens used to calibrate static payloads; the rest is held out.")
@click.option("--chunk-tokens", type=click.IntRange(1, 1 << 20), default=64, show_default=True,
              help="Tokens per EMA min/max update.")
@options.out_option(required=False, extra="Gets tp.json and the tp_latency_error PNG/SVG plot (regime.json "
                                         "with --regime). Without --out or --json nothing is written.")
@options.json_option()
@click.option("--no-plot", is_flag=True, help="Skip the plot.")
@click.option("--regime", is_flag=True,
              help="Regime check instead: for each N in --chips, prefill (batch x --seq-len tokens) and "
                   "decode (batch tokens, context --seq-len), does --collective with the first compressed "
                   "--format beat BF16 on the same algorithm, and the best BF16 algorithm of the topology? "
                   "Writes regime.json to --out.")
@options.threads_option()
def tp(hw_name: str, trace_name: str, chips: str, collective: str, formats: tuple[str, ...], phase: str,
       seq_len: int, batch: int, split: str, overlap: bool, topology: str | None,
       link_bw_gb_per_s: float | None, link_latency_ns: float | None, links_per_chip: int | None,
       full_duplex: bool | None, codec_ops_per_cycle: int | None, codec_pipeline_chunks: int,
       precision_spec: str | None, error_chips: str | None,
       calib_frac: float, chunk_tokens: int, out_dir: Path | None, json_file: Path | None,
       no_plot: bool, regime: bool) -> None:
    """Model N chips running the trace's model in Megatron tensor parallelism.

    qkv/up are column-split, o/down row-split; every chip's GeMMs go through the single-chip
    engine, and the two all-reduces per layer are priced with the α–β link model of the design's
    `interconnect` section (or the --link-*/--topology overrides), including the on-chip cost of
    encoding and decoding the payload and the overlap with the next GeMM's weight prefetch.

    \b
    Prints per step: latency split into compute and exposed communication, bytes each chip sends
    per collective, bits per value; then, when the trace has recorded activations, the relative
    error of the reduced o/down outputs against the exact sum, per format and N (mean/max over
    layers). Shape-only traces get timing only, and the report says so.

    \b
    Example:
      andasim tp --hw anda --trace smollm2-135m --precision 6 --chips 3 --error-chips 1,2,4,8 \\
        --collective allgather --format bf16 --format hybrid:k_frac=1/64 --out out/tp
      andasim tp --hw anda --trace llama2-7b --chips 2,4,8,16 --format hybrid:k_frac=1/64 --regime
    """
    from andasim.report.writers import write_json
    from andasim.system.tp.error import summarize, trace_error_table
    from andasim.system.tp.links import link_model
    from andasim.system.tp.model import simulate_tp

    chip_list = _int_list(chips, "--chips")
    err_chips = _int_list(error_chips, "--error-chips") if error_chips else chip_list
    fmt_list = list(formats) or (["bf16"] if collective == "ring_allreduce" else list(_DEFAULT_FORMATS))
    hw = options.resolve_hw(hw_name)
    _check_link_overrides(link_bw_gb_per_s, link_latency_ns, links_per_chip)
    link = link_model(hw, topology=topology, link_bw_gb_per_s=link_bw_gb_per_s,
                      link_latency_ns=link_latency_ns, links_per_chip=links_per_chip, full_duplex=full_duplex)
    trace = options.resolve_trace(trace_name)
    if trace.card is None:
        raise AndasimInputError(f"--trace {trace_name}: tensor parallelism splits a model's layers; a GeMM "
                                "list has no model card (give a bundled model, a card YAML or a config.json)")
    precision = options.resolve_precision(precision_spec, trace, hw)
    if regime:
        _regime(hw, trace, precision, link, chip_list, fmt_list, collective, seq_len, batch, split, overlap,
                codec_ops_per_cycle, codec_pipeline_chunks, out_dir, json_file)
        return

    timing = []
    for n in chip_list:
        for fmt in fmt_list:
            r = simulate_tp(hw, trace.card, precision, link, n_chips=n, collective=collective, payload=fmt,
                            phase=phase, seq_len=seq_len, batch=batch, split=split, overlap=overlap,
                            codec_ops_per_cycle=codec_ops_per_cycle,
                            codec_pipeline_chunks=codec_pipeline_chunks)
            timing.append(r.to_dict())
    click.echo(f"{trace.card.name} on {hw.name} x N, {phase} seq_len={seq_len} batch={batch}, {collective}, "
               f"link {link.topology} {link.links_per_chip}x{link.link_bw_gb_per_s:g} GB/s "
               f"{'full' if link.full_duplex else 'half'} duplex, α={link.link_latency_ns:g} ns")
    click.echo(f"trace {trace.trace_id}: {trace.label}")
    click.echo(f"precision: {_describe_precision(precision)}")
    click.echo(f"{'N':>3} {'format':<26} {'bits/val':>8} {'step ms':>10} {'compute ms':>10} "
               f"{'exposed ms':>10} {'link ms':>9} {'enc+dec ms':>10} {'hidden ms':>9} {'KiB/chip/coll':>13}")
    for t in timing:
        click.echo(f"{t['n_chips']:>3} {t['payload']:<26} {t['bits_per_value']:>8.4f} "
                   f"{t['step_latency_s'] * 1e3:>10.4f} {t['compute_s'] * 1e3:>10.4f} "
                   f"{t['exposed_comm_s'] * 1e3:>10.4f} {t['link_s'] * 1e3:>9.4f} "
                   f"{(t['encode_s'] + t['decode_sum_s']) * 1e3:>10.4f} {t['overlap_s'] * 1e3:>9.4f} "
                   f"{t['bytes_per_chip_per_collective'] / 1024:>13.2f}")
    if phase == "prefill":
        click.echo(f"(per token: step / {batch * seq_len} tokens; step = TTFT of the batch)")

    error: dict[str, Any]
    if trace.shape_only:
        error = {"status": "shape-only trace: no recorded activations, no error table"}
        click.echo(f"error: {error['status']}")
    else:
        collective_err = collective
        rows = trace_error_table(trace, err_chips, fmt_list, collective_err, calib_frac=calib_frac,
                                 chunk_tokens=chunk_tokens, progress=sys.stderr.isatty())
        summary = summarize(rows)
        error = {"status": "measured", "collective": collective_err, "calib_frac": calib_frac,
                 "chunk_tokens": chunk_tokens, "summary": summary, "rows": [r.to_dict() for r in rows],
                 "note": "E = sampled weight columns of the trace; k scaled to the sample"}
        click.echo(f"relative error ||Ŷ−Y||/||Y|| of the reduced output, held-out tokens "
                   f"({collective_err}; E = sampled columns):")
        click.echo(f"{'module':<6} {'N':>3} {'format':<26} {'bits/val':>8} {'k':>3} {'mean':>10} {'max':>10}")
        for s in summary:
            click.echo(f"{s['module']:<6} {s['n_chips']:>3} {s['payload']:<26} {s['bits_per_value']:>8.4f} "
                       f"{s['k_bf16']:>3} {s['mean_rel_error']:>10.3e} {s['max_rel_error']:>10.3e}")

    report = {"hw": hw.name,
              "trace": {"id": trace.trace_id, "label": trace.label, "shape_only": trace.shape_only},
              "card": trace.card.name, "precision": precision.to_dict() if precision is not None else None,
              "link": link.to_dict(), "phase": phase, "seq_len": seq_len, "batch": batch, "split": split,
              "overlap": overlap, "collective": collective, "formats": fmt_list, "timing": timing,
              "error": error}
    if out_dir is not None:
        write_json(out_dir / "tp.json", report)
        if not no_plot:
            from andasim.report.tp_figures import plot_tp_latency_error

            for p in plot_tp_latency_error(report, out_dir):
                click.echo(f"wrote {p}")
        click.echo(f"wrote {out_dir / 'tp.json'}")
    if json_file is not None:
        write_json(json_file, report)
        click.echo(f"wrote {json_file}")
    if out_dir is None and json_file is None:
        click.echo("(no file written: give --out DIR or --json FILE to keep the report)")


def _check_link_overrides(bw: float | None, latency: float | None, links: int | None) -> None:
    """The --link-* overrides obey the ranges of the `interconnect` keys they replace."""
    from andasim.hw.config import SCHEMA
    from andasim.strict_yaml import check_option

    fields = SCHEMA.fields["interconnect"].schema.fields  # type: ignore[union-attr]
    for option, key, value in (("--link-bw-gb-per-s", "link_bw_gb_per_s", bw),
                               ("--link-latency-ns", "link_latency_ns", latency),
                               ("--links-per-chip", "links_per_chip", links)):
        if value is not None:
            check_option(value, fields[key], option, f"interconnect.{key}")


def _describe_precision(precision: Any) -> str:
    if precision is None:
        return "none (FP16 activations)"
    widths = ", ".join(f"{m}={b}" for m, b in precision.mantissa_bits.items())
    return f"{precision.name} ({precision.source}): {widths}"


def _regime(hw: Any, trace: Any, precision: Any, link: Any, chips: list[int], formats: list[str],
            collective: str, seq_len: int, batch: int, split: str, overlap: bool, codec: int | None,
            chunks: int, out_dir: Path | None, json_file: Path | None) -> None:
    from andasim.report.writers import write_json
    from andasim.system.tp.model import regime_check

    compressed = next((f for f in formats if f not in ("bf16", "fp16", "none", "fp32")), None)
    if compressed is None:
        raise AndasimInputError("--regime compares a compressed --format (e.g. hybrid:k_frac=1/64 or "
                                "int8_token) under --collective with BF16; give one")
    rows = regime_check(hw, trace.card, precision, link, chips=chips,
                        phases=[("prefill", seq_len, batch), ("decode", seq_len, batch)], payload=compressed,
                        collective=collective, split=split, overlap=overlap, codec_ops_per_cycle=codec,
                        codec_pipeline_chunks=chunks)
    click.echo(f"regime check: {collective} {compressed} vs BF16, both the same algorithm ({collective}) and "
               f"the best BF16 algorithm this topology runs; {trace.card.name} on {hw.name}, link "
               f"{link.topology} {link.links_per_chip}x{link.link_bw_gb_per_s:g} GB/s, "
               f"α={link.link_latency_ns:g} ns, codec {codec or hw.vector_unit.fpus} ops/cycle"
               + (f", codec pipelined in {chunks} chunks" if chunks > 1 else ""))
    click.echo(f"precision: {_describe_precision(precision)}")
    click.echo(f"{'phase':<8} {'N':>3} {'T':>6} {'compr. step ms':>14} {'codec ms':>9} "
               f"{'same-alg BF16 ms':>16} {'win':>4} {'best BF16 (alg) ms':>28} {'win':>4}")
    for r in rows:
        best = f"{r['bf16_best_step_s'] * 1e3:.4f} ({r['bf16_best_algorithm']})"
        click.echo(f"{r['phase']:<8} {r['n_chips']:>3} {r['tokens_per_collective']:>6} "
                   f"{r['compressed_step_s'] * 1e3:>14.4f} {r['compressed_codec_step_s'] * 1e3:>9.4f} "
                   f"{r['bf16_same_step_s'] * 1e3:>16.4f} {'yes' if r['wins_vs_same_step'] else 'no':>4} "
                   f"{best:>28} {'yes' if r['wins_vs_best_step'] else 'no':>4}")
    click.echo("(step: one forward step incl. compute, link, on-chip encode/decode, minus overlap; "
               "codec: encode + decode-and-sum time per step)")
    report = {"hw": hw.name, "card": trace.card.name, "link": link.to_dict(), "split": split,
              "overlap": overlap, "codec_ops_per_cycle": codec or hw.vector_unit.fpus,
              "codec_pipeline_chunks": chunks,
              "comparisons": {"same_algorithm": f"{collective} in BF16",
                              "best_bf16": "the fastest BF16 collective the topology allows, per row"},
              "precision": precision.to_dict() if precision is not None else None,
              "rows": rows}
    paths = ([out_dir / "regime.json"] if out_dir is not None else []) + ([json_file] if json_file else [])
    for path in paths:
        write_json(path, report)
        click.echo(f"wrote {path}")
    if not paths:
        click.echo("(no file written: give --out DIR or --json FILE to keep the table)")
