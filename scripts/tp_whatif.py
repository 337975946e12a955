"""The two peer what-if studies of docs/tensor_parallel.md ("Where compression pays: the peers' regimes").

Prints both tables and writes them to OUT/tp_whatif.json (default out/tp_docs). Every chip and link
number below is an ASSUMPTION named with its source; the studies sweep the ones the verdict hangs on.
Nothing here is fitted to the peers' reported speed-ups.

    .venv/bin/python scripts/tp_whatif.py [OUT]
"""

from __future__ import annotations

import sys
from pathlib import Path

from andasim.report.writers import write_json
from andasim.system.tp.collectives import runnable_collectives
from andasim.system.tp.links import LinkModel
from andasim.system.tp.whatif import ChipAssumptions, collective_whatif, ttft_whatif
from andasim.workload.card import load_card

# --- EQuARX (arXiv 2506.17615): int8 all-reduce on a TPU-like chip --------------------------------
# ASSUMPTION: a TPU-v5e-class chip. Clock 1.5 GHz and 2048 element ops per cycle for the codec (a vector
# unit of 8 sublanes x 128 lanes, 2 ops each) are round guesses, not published figures; swept below.
TPU_LIKE = ChipAssumptions("TPU-like (assumed)", clock_hz=1.5e9, codec_ops_per_cycle=2048)
# ASSUMPTION: inter-chip links of 4 ports x 50 GB/s per direction (200 GB/s injection; Google Cloud's
# TPU v5e page lists 1,600 Gbps of ICI bandwidth per chip), run as counter-rotating rings, α = 1 µs.
TPU_ICI = LinkModel(topology="ring", link_bw_gb_per_s=50.0, link_latency_ns=1000.0, links_per_chip=4,
                    full_duplex=True)
# Message: Gemma-3-27B prefill partial, hidden 5376 (public config), 2048 tokens (assumption), N = 8.
EQUARX_TOKENS, EQUARX_FEATURES, EQUARX_CHIPS = 2048, 5376, 8
# EQuARX quantizes block-wise and pipelines deeply: block of 256 values with one FP16 scale and 8 chunks
# are ASSUMPTIONS (the abstract gives neither).
EQUARX_INT8 = "int:bits=8,g=256,sym"
EQUARX_CHUNKS = 8

# --- Hansen-Palmus et al. (arXiv 2411.09510): MX-style block formats on slow links ---------------------
# ASSUMPTION: an L4-class GPU: 7,424 CUDA cores at 2.04 GHz boost (NVIDIA L4 datasheet) for the codec,
# and 121 TFLOP/s dense FP16 tensor rate (datasheet) at an assumed 50% efficiency for the prefill GeMMs.
GPU_LIKE = ChipAssumptions("L4-class GPU (assumed)", clock_hz=2.04e9, codec_ops_per_cycle=7424,
                           matmul_flop_per_s=0.5 * 121e12)
# ASSUMPTION: GPUs behind one PCIe switch, one port each, α = 5 µs; the bandwidth is swept (PCIe Gen4 x16
# carries at most 32 GB/s per direction; slower rows stand for shared or host-staged paths).
PCIE_BW_GB_PER_S = (4.0, 8.0, 16.0, 25.0, 50.0, 100.0, 300.0)
HP_MODEL, HP_SEQ_LEN, HP_CHIPS = "llama2-7b", 2048, 4
HP_FORMATS = ("mxfp4_e2m1", "mxfp6_e3m2")


def _pcie(bw: float) -> LinkModel:
    return LinkModel(topology="switch", link_bw_gb_per_s=bw, link_latency_ns=5000.0, links_per_chip=1,
                     full_duplex=True)


def _best(chip: ChipAssumptions, link: LinkModel, payload: str, n: int, tokens: int, e: int, chunks: int):
    """The collective with the lowest exposed time for `payload` on this link."""
    runs = runnable_collectives(lambda alg: collective_whatif(
        chip, link, algorithm=alg, payload=payload, n_chips=n, tokens=tokens, features=e,
        pipeline_chunks=chunks))
    return min(runs.values(), key=lambda r: r.exposed_s)


def equarx_study() -> list[dict]:
    rows = []
    for ops in (512, 2048, 8192):
        chip = ChipAssumptions(f"TPU-like, {ops} codec ops/cycle", TPU_LIKE.clock_hz, ops)
        for chunks in (1, EQUARX_CHUNKS):
            kw = dict(n_chips=EQUARX_CHIPS, tokens=EQUARX_TOKENS, features=EQUARX_FEATURES,
                      pipeline_chunks=chunks)
            int8 = collective_whatif(chip, TPU_ICI, algorithm="ring_allreduce", payload=EQUARX_INT8, **kw)
            bf16 = collective_whatif(chip, TPU_ICI, algorithm="ring_allreduce", payload="bf16", **kw)
            rows.append({"codec_ops_per_cycle": ops, "pipeline_chunks": chunks,
                         "bf16_ring_us": bf16.exposed_s * 1e6, "int8_ring_us": int8.exposed_s * 1e6,
                         "int8_codec_us": (int8.encode_s + int8.decode_sum_s) * 1e6,
                         "speedup": bf16.exposed_s / int8.exposed_s})
    return rows


def hansen_palmus_study() -> list[dict]:
    card = load_card(HP_MODEL)
    gemms = card.gemms(phase="prefill", seq_len=HP_SEQ_LEN, batch=1)
    flop = sum(2.0 * g.m * g.k * g.n * g.count for g in gemms)
    rows = []
    for bw in PCIE_BW_GB_PER_S:
        link = _pcie(bw)
        kw = dict(n_chips=HP_CHIPS, prefill_flop=flop, tokens=HP_SEQ_LEN, features=card.hidden,
                  collectives=2 * card.n_layers)
        best = _best(GPU_LIKE, link, "bf16", HP_CHIPS, HP_SEQ_LEN, card.hidden, 1)
        base = ttft_whatif(GPU_LIKE, link, algorithm=best.algorithm, payload="bf16", **kw)
        row = {"link_gb_per_s": bw, "bf16_algorithm": best.algorithm, "bf16_ttft_ms": base["ttft_s"] * 1e3,
               "compute_ms": base["compute_s"] * 1e3}
        for fmt in HP_FORMATS:
            alg = _best(GPU_LIKE, link, fmt, HP_CHIPS, HP_SEQ_LEN, card.hidden, 1).algorithm
            comp = ttft_whatif(GPU_LIKE, link, algorithm=alg, payload=fmt, **kw)
            row[f"{fmt}_algorithm"] = alg
            row[f"{fmt}_ttft_ms"] = comp["ttft_s"] * 1e3
            row[f"{fmt}_speedup"] = base["ttft_s"] / comp["ttft_s"]
        rows.append(row)
    return rows


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "out/tp_docs")
    eq, hp = equarx_study(), hansen_palmus_study()
    print(f"EQuARX what-if: ring all-reduce of {EQUARX_TOKENS} x {EQUARX_FEATURES} partials, "
          f"N = {EQUARX_CHIPS}, {TPU_ICI.links_per_chip} x {TPU_ICI.link_bw_gb_per_s:g} GB/s ring, "
          f"{EQUARX_INT8} vs BF16")
    print(f"{'codec ops/cyc':>13} {'chunks':>6} {'BF16 µs':>9} {'int8 µs':>9} {'codec µs':>9} "
          f"{'speed-up':>8}")
    for r in eq:
        print(f"{r['codec_ops_per_cycle']:>13} {r['pipeline_chunks']:>6} {r['bf16_ring_us']:>9.1f} "
              f"{r['int8_ring_us']:>9.1f} {r['int8_codec_us']:>9.1f} {r['speedup']:>8.2f}")
    print(f"\nHansen-Palmus what-if: {HP_MODEL} prefill {HP_SEQ_LEN} tokens on {HP_CHIPS} {GPU_LIKE.name}, "
          "PCIe switch; best compressed collective vs the best BF16 collective")
    head = " ".join(f"{f + ' (alg) ms':>28} {'x':>5}" for f in HP_FORMATS)
    print(f"{'GB/s':>6} {'BF16 alg':>14} {'BF16 ms':>9} {'compute ms':>10} {head}")
    for r in hp:
        cells = " ".join(f"{r[f + '_ttft_ms']:>9.1f} ({r[f + '_algorithm']:>14}) {r[f + '_speedup']:>5.2f}"
                         for f in HP_FORMATS)
        print(f"{r['link_gb_per_s']:>6g} {r['bf16_algorithm']:>14} {r['bf16_ttft_ms']:>9.1f} "
              f"{r['compute_ms']:>10.1f} {cells}")
    path = write_json(out / "tp_whatif.json", {"label": "what-if studies; every chip and link number is an "
                                               "assumption named in scripts/tp_whatif.py",
                                               "equarx": eq, "hansen_palmus": hp})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
