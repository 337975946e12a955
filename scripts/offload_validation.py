"""Print docs/results.md's offload validation table: FlexGen's code, andasim's models, measured.

Usage: PYTHONPATH=. python scripts/offload_validation.py [--search]
(--search: the policy andasim's default search finds for each case instead, about 2 minutes.)
The FlexGen-code column is the reference run recorded in tests/test_offload_flexgen_code.py
(FlexGen 19753bc experimental/cost_model.py); measured = FlexGen's README table (1x T4, prompt
512, 32 tokens). Every other column is computed here; nothing is fitted.
"""

from __future__ import annotations

import sys

from andasim.system.offload.api import OffloadRequest, evaluate_policy, run_offload

CPU = {"cpu_cache_compute": True}

FLEXGEN_CODE = dict(memory_model="flexgen-code", compression_model="flexgen-code",
                    cpu_attention="always", overlap_model="code", compute="flops",
                    weight_placement="fraction")
# case, model, s, policy, gbs, nb, flags, FlexGen code tok/s (reference run), measured tok/s (README)
CASES = [
    ("OPT-6.7B s512", "opt-6.7b", 512, (100, 0, 100, 0, 100, 0), 2, 1, {}, 60.848, 25.26),
    ("OPT-30B s512", "opt-30b", 512, (20, 80, 0, 100, 0, 100), 48, 3, CPU, 7.1357, 7.32),
    ("OPT-175B s512", "opt-175b", 512, (0, 50, 0, 0, 0, 100), 32, 8, CPU, 0.15438, 0.69),
    ("OPT-6.7B s1024", "opt-6.7b", 1024, (100, 0, 100, 0, 100, 0), 1, 1, {}, 32.547, None),
    ("OPT-30B s1024", "opt-30b", 1024, (4, 96, 0, 100, 0, 100), 20, 4, CPU, 3.6220, None),
    ("OPT-175B s1024", "opt-175b", 1024, (0, 50, 0, 0, 0, 100), 12, 12, CPU, 0.080034, None),
    ("OPT-6.7B s512 W4 KV4", "opt-6.7b", 512, (100, 0, 100, 0, 100, 0), 72, 1,
     {"compress_weight": True, "compress_cache": True}, None, 29.12),
    ("OPT-30B s512 KV4", "opt-30b", 512, (0, 100, 0, 100, 0, 100), 64, 8, {"compress_cache": True},
     None, 8.38),
    ("OPT-175B s512 W4 KV4", "opt-175b", 512, (0, 100, 0, 100, 0, 100), 48, 3,
     {"compress_weight": True, "compress_cache": True}, None, 1.12),
]


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"


def main() -> None:
    print("| case (gbs×nb) | FlexGen code | andasim flexgen-code | andasim, paper overlap, flops | "
          "andasim default, flops | andasim default, roofline | measured | fits α = 0.8 (default) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, model, s, pct, gbs, nb, flags, code, measured in CASES:
        fg = dict(flags)
        fg.pop("cpu_cache_compute", None)
        fg_ev = evaluate_policy(model, "t4-flexgen", pct, gbs, nb, prompt_len=s, **fg, **FLEXGEN_CODE)
        paper = evaluate_policy(model, "t4-flexgen", pct, gbs, nb, prompt_len=s, overlap_model="paper",
                                compute="flops", **flags)
        flops = evaluate_policy(model, "t4-flexgen", pct, gbs, nb, prompt_len=s, compute="flops", **flags)
        roof = evaluate_policy(model, "t4-flexgen", pct, gbs, nb, prompt_len=s, compute="roofline", **flags)
        bad = roof.violations()
        fits = "yes" if not bad else "no: " + "; ".join(b.split(":")[0] for b in bad)
        print(f"| {name} ({gbs}×{nb}) | {_fmt(code)} | {_fmt(fg_ev.throughput_tok_per_s)} | "
              f"{_fmt(paper.throughput_tok_per_s)} | {_fmt(flops.throughput_tok_per_s)} | "
              f"{_fmt(roof.throughput_tok_per_s)} | {_fmt(measured)} | {fits} |")


def search_table() -> None:
    print("| case | flags | policy wg wc cg cc hg hc (realised) | gbs×nb | tok/s | latency s | "
          "bottleneck prefill / decode | binding |")
    print("|---|---|---|---|---|---|---|---|")
    seen = set()
    for name, model, s, _, _, _, flags, _, _ in CASES:
        key = (model, s, tuple(sorted(flags)))
        if key in seen:
            continue
        seen.add(key)
        rep = run_offload(OffloadRequest(model, "t4-flexgen", prompt_len=s, search=True, **flags))
        pol = rep["policy"]
        pct = " ".join(f"{v:.0f}" for v in pol["percent_flexgen"])
        tags = ", ".join(k for k, on in (("CPU attn", flags.get("cpu_cache_compute")),
                                         ("W4", flags.get("compress_weight")),
                                         ("KV4", flags.get("compress_cache"))) if on) or "—"
        layer = pol["per_layer"]
        print(f"| {name.split(' W4')[0].split(' KV4')[0]} | {tags} | {pct} | {pol['gpu_batch_size']}×"
              f"{pol['num_gpu_batches']} | {pol['generation_throughput_tok_per_s']:.4g} | "
              f"{pol['latency_s']:.4g} | {layer['prefill_bottleneck']} / {layer['decode_bottleneck']} | "
              f"{', '.join(pol['binding_constraints']) or '—'} |", flush=True)


if __name__ == "__main__":
    search_table() if "--search" in sys.argv[1:] else main()
