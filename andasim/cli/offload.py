"""`andasim offload`: FlexGen-style offloading -- evaluate a placement policy or search for one."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from andasim.atomic_io import write_atomic
from andasim.cli import options
from andasim.cli.checks import FiniteFloatRange, output_dir, output_file

_TOKENS = click.IntRange(min=1, max=1 << 20)


@options.command("offload", old_spellings=[options.Alias("--anda-m", "--precision")])
@options.trace_option(names=("--model",), dest="model", extra="Offloading uses its model card (the shapes).")
@click.option("--preset", required=True,
              help="System (tiers and links) YAML path or bundled preset: t4-flexgen, h200, anda-system.")
@click.option("--prompt-len", type=_TOKENS, default=512, show_default=True, help="Prompt length s.")
@click.option("--gen-len", type=_TOKENS, default=32, show_default=True, help="Generated tokens n.")
@click.option("--percent", type=FiniteFloatRange(0, 100), nargs=6, default=None, metavar="WG WC CG CC HG HC",
              help="FlexGen placement in percent: weights, KV cache, activations on GPU and CPU; "
                   "the rest of each goes to disk.")
@click.option("--gpu-batch-size", type=click.IntRange(1, 1 << 16), default=None, help="GPU batch size gbs.")
@click.option("--num-gpu-batches", type=click.IntRange(1, 1 << 16), default=None,
              help="GPU batches per block (bls = gbs x nb).")
@click.option("--search", is_flag=True, help="Search the policy: (gbs, nb) enumeration with an LP inside.")
@click.option("--cpu-cache-compute", is_flag=True, help="Decode attention on the host for cache kept there.")
@click.option("--compress-weight", is_flag=True, help="Weights in FlexGen 4-bit (int:bits=4,g=64,asym).")
@click.option("--compress-cache", is_flag=True, help="KV cache in FlexGen 4-bit (int:bits=4,g=64,asym).")
@click.option("--weight-format", default=None, help="Any registered weight format spec (default fp16).")
@click.option("--cache-format", default=None, help="Any registered KV-cache format spec (default fp16).")
@click.option("--act-format", default="fp16", show_default=True,
              help="Format of offloaded hidden states, e.g. anda:m=6.")
@click.option("--overlap-model", type=click.Choice(["paper", "code"]), default="code", show_default=True,
              help="code: the released cost model's serialised legs (closer to FlexGen's measured runs, "
                   "docs/results.md); paper: perfect overlap (max of legs).")
@click.option("--compute", type=click.Choice(["auto", "flops", "roofline", "engine"]), default="auto",
              show_default=True,
              help="flops: FlexGen's FLOPs / rate; roofline: max(FLOPs / rate, bytes / device bandwidth) "
                   "per kernel, non-GEMM work included; engine: the Anda cycle engine (--hw); auto: "
                   "roofline when the preset gives compute.memory_bandwidth_gib_per_s, else flops.")
@click.option("--memory-model", type=click.Choice(["andasim", "flexgen-code"]), default="andasim",
              show_default=True,
              help="Peak memory: andasim's (what the runtime allocates) or FlexGen's cost_model.py term "
                   "by term (alphas above 1 allowed there).")
@click.option("--compression-model", type=click.Choice(["andasim", "flexgen-code"]), default="andasim",
              show_default=True,
              help="andasim: 4.5-bit weights/cache with metadata and an FP16 workspace; flexgen-code: "
                   "weights / 4, cache never compressed (FlexGen's cost model).")
@click.option("--cpu-attention", type=click.Choice(["flag", "always"]), default="flag", show_default=True,
              help="Decode attention over host/disk cache runs on the host: flag = only with "
                   "--cpu-cache-compute (the runtime); always = FlexGen's cost model.")
@click.option("--weight-placement", type=click.Choice(["tensor", "fraction"]), default="tensor",
              show_default=True,
              help="tensor: whole tensors per sub-layer as FlexGen's runtime places them; fraction: "
                   "the --percent shares as real numbers (the LP relaxation).")
@click.option("--search-enumeration", type=click.Choice(["andasim", "flexgen"]), default="andasim",
              show_default=True,
              help="andasim: every feasible (gbs, nb), best = highest throughput then lowest latency "
                   "within 1%; flexgen: the released cost model's enumeration and early stop.")
@options.hw_option(required=False, extra="The accelerator of --compute engine.")
@options.precision_option(extra="--compute engine only; default: the --trace default profile.")
@click.option("--alpha-g", type=float, default=None,
              help="Usable share of device memory (default 0.8; at most 1, or 10 with "
                   "--memory-model flexgen-code).")
@click.option("--alpha-c", type=float, default=None, help="Usable share of host memory (default 0.8).")
@click.option("--alpha-n", type=float, default=None, help="Usable share of disk (default 0.8).")
@click.option("--max-gpu-batch-size", type=int, default=None, help="Search bound on gbs (default: none).")
@click.option("--max-num-gpu-batches", type=int, default=None, help="Search bound on nb (default: none).")
@click.option("--hidden-on-disk", is_flag=True,
              help="Let the search put activations on disk (FlexGen's runtime cannot).")
@options.trace_option(names=("--trace",), required=False,
                      extra="Its weight samples measure the 4-bit error; its default profile sets the "
                            "precision of --compute engine.")
@options.out_option(extra="Gets offload.json, and for --search pareto.csv/.png/.svg.")
@options.json_option()
@options.threads_option()
def offload(**kw: Any) -> None:
    """Model memory-limited inference as FlexGen does (Sheng et al., ICML 2023).

    Weights, activations and KV cache are placed over device memory, host memory and disk; the
    cost model gives per-layer prefill and decode times from link bandwidths and compute rates,
    and the peak-memory constraints decide what fits. Either evaluate one policy (--percent,
    --gpu-batch-size, --num-gpu-batches) or --search for the best one. The JSON names the
    generation throughput in tokens/s (`generation_throughput_tok_per_s`).

    \b
    Example:
      andasim offload --model opt-30b --preset t4-flexgen --prompt-len 512 --gen-len 32 \\
        --percent 20 80 0 100 0 100 --gpu-batch-size 48 --num-gpu-batches 3 \\
        --cpu-cache-compute --out out/offload
    """
    from tqdm import tqdm

    from andasim.system.offload.api import OffloadRequest, run_offload

    out = output_dir(kw.pop("out_dir"))
    json_file = kw.pop("json_file")
    if json_file is not None:
        output_file(json_file, "--json")
    percent = kw.pop("percent")
    req = OffloadRequest(percent=tuple(percent) if percent else None, **kw)
    if req.search:
        def progress(it):
            return tqdm(it, desc="gbs", file=sys.stderr, leave=False)
    else:
        progress = None
    report = run_offload(req, progress=progress)
    data = (json.dumps(report, indent=1, sort_keys=True) + "\n").encode()
    write_atomic(out / "offload.json", data)
    written = ["offload.json"]
    if "pareto" in report:
        from andasim.report.offload_figures import pareto_csv, plot_pareto

        write_atomic(out / "pareto.csv", pareto_csv(report["pareto"]))
        written += ["pareto.csv", *(p.name for p in plot_pareto(report, out))]
    if json_file:
        write_atomic(json_file, data)
    pol = report["policy"]
    click.echo(f"policy (wg wc cg cc hg hc) = {' '.join(f'{p:g}' for p in pol['percent_flexgen'])}, "
               f"gbs {pol['gpu_batch_size']} x nb {pol['num_gpu_batches']}: "
               f"{pol['generation_throughput_tok_per_s']:.4g} tokens/s, latency {pol['latency_s']:.4g} s; "
               f"binding: {', '.join(pol['binding_constraints']) or 'none'}")
    for bound in report.get("search", {}).get("stopped_at_bound", []):
        click.echo(f"note: the search stopped at its bound {bound}; raise it to search further", err=True)
    click.echo(f"wrote {', '.join(str(out / n) for n in written)}")
