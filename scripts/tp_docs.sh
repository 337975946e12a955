#!/usr/bin/env bash
# Reproduce the tensor-parallelism numbers of docs/tensor_parallel.md and docs/results.md
# ("Tensor parallelism"). Writes everything under out/tp_docs/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
A=.venv/bin/andasim
OUT=${1:-out/tp_docs}
mkdir -p "$OUT"

# 1. Regime check on LLaMA-2-7B (N = 2..16 divide its 32 heads and 11008 FFN): compressed
#    all-gather / two-shot / one-shot against a BF16 ring all-reduce, prefill 2048 and decode.
$A tp --hw anda --trace llama2-7b --chips 2,4,8,16 --seq-len 2048 --format hybrid:k_frac=1/64 \
  --collective allgather --regime --json "$OUT/regime_ring_allgather.json" | tee "$OUT/regime_ring_allgather.txt"
$A tp --hw anda --trace llama2-7b --chips 2,4,8,16 --seq-len 2048 --format hybrid:k_frac=1/64 \
  --collective twoshot --regime --json "$OUT/regime_ring_twoshot.json" | tee "$OUT/regime_ring_twoshot.txt"
$A tp --hw anda --trace llama2-7b --chips 2,4,8,16 --seq-len 2048 --format hybrid:k_frac=1/64 \
  --collective oneshot --topology switch --regime --json "$OUT/regime_switch_oneshot.json" \
  | tee "$OUT/regime_switch_oneshot.txt"
$A tp --hw anda --trace llama2-7b --chips 2,4,8,16 --seq-len 2048 --format hybrid:k_frac=1/64 \
  --collective allgather --regime --codec-ops-per-cycle 1024 --json "$OUT/regime_ring_allgather_codec1024.json" \
  | tee "$OUT/regime_ring_allgather_codec1024.txt"

# 2. Error on the bundled SmolLM2-135M trace (32 sampled weight columns: k_frac=1/64 gives k = 0,
#    so the smallest non-zero budget is k_frac=1/32). 9 heads: N = 3 is the only strict TP degree
#    > 1 for timing; the error model splits o on head boundaries unevenly for any N <= 9.
E="--chips 3 --phase decode --seq-len 2048 --m-bits 6"
$A tp --hw anda --trace smollm2-135m $E --error-chips 1,2,4,8 --format bf16 --format hybrid:k_frac=1/64 \
  --format hybrid:k_frac=1/32 --format randomk:k_frac=1/32 --format static --out "$OUT/smollm2_bundled" \
  | tee "$OUT/smollm2_bundled.txt"

# 3. A TP-specific SmolLM2 trace with 128 sampled columns (k = 2, exactly 4.1875 bits per value).
#    Needs the models extra (docs/models.md); about 1.5 min on 2 cores.
TP_TRACE="$OUT/smollm2-135m-tp.npz"
[ -f "$TP_TRACE" ] || $A trace record --model smollm2-135m --corpus wiki --tokens 2048 --out "$TP_TRACE" \
  --layers 0,5,10,15,20,25,29 --sample-tokens 512 --weight-columns 128 --seed 0 --window 512 --threads 1
$A tp --hw anda --trace "$TP_TRACE" $E --error-chips 1,2,4,8 --format bf16 --format hybrid:k_frac=1/64 \
  --format randomk:k_frac=1/64 --format static --format hybrid:k_frac=1/64,agg=max \
  --format hybrid:k_frac=1/64,sym --format int4_token --format int:bits=4,g=64,asym --format anda:m=3 \
  --out "$OUT/smollm2_tp" | tee "$OUT/smollm2_tp.txt"
$A tp --hw anda --trace "$TP_TRACE" $E --error-chips 2,8 --collective twoshot --format bf16 \
  --format hybrid:k_frac=1/64 --format randomk:k_frac=1/64 --format static --no-plot \
  | tee "$OUT/smollm2_tp_twoshot.txt"
$A tp --hw anda --trace "$TP_TRACE" $E --error-chips 8 --format hybrid:k_frac=0 --format hybrid:k_frac=1/128 \
  --format hybrid:k_frac=1/64 --format hybrid:k_frac=1/32 --format hybrid:k_frac=1/16 \
  --format randomk:k_frac=1/32 --format randomk:k_frac=1/16 --no-plot | tee "$OUT/smollm2_tp_ksweep.txt"
$A tp --hw anda --trace "$TP_TRACE" $E --error-chips 8 --format randomk:k_frac=1/64,seed=1 \
  --format randomk:k_frac=1/64,seed=2 --no-plot | tee "$OUT/smollm2_tp_seeds.txt"
$A tp --hw anda --trace "$TP_TRACE" $E --error-chips 1,8 --chunk-tokens 256 --format hybrid:k_frac=1/64 \
  --format randomk:k_frac=1/64 --format static --no-plot | tee "$OUT/smollm2_tp_chunk256.txt"
