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

# 2. Error on the recorded SmolLM2-135M trace (9 heads: N = 3 is the only strict TP degree > 1 for
#    timing; the error model splits o on head boundaries unevenly for any N <= 9).
if $A trace list 2>/dev/null | grep -q smollm2-135m || [ -f traces/smollm2-135m.npz ]; then
  for coll in allgather twoshot; do
    $A tp --hw anda --trace smollm2-135m --chips 3 --error-chips 1,2,4,8 --phase decode --seq-len 2048 \
      --collective "$coll" \
      --format bf16 --format hybrid:k_frac=1/64 --format randomk:k_frac=1/64 --format static \
      --format hybrid:k_frac=1/64,agg=max --format hybrid:k_frac=1/64,sym --format randomk:k_frac=1/64,seed=1 \
      --format int4_token --format int8_token --format int:bits=4,g=64,asym --format anda:m=3 --format anda:m=4 \
      --out "$OUT/smollm2_$coll" | tee "$OUT/smollm2_$coll.txt"
  done
  $A tp --hw anda --trace smollm2-135m --chips 3 --error-chips 8 --phase decode --seq-len 2048 \
    --format hybrid:k_frac=0 --format hybrid:k_frac=1/256 --format hybrid:k_frac=1/128 \
    --format hybrid:k_frac=1/64 --format hybrid:k_frac=1/32 --format hybrid:k_frac=1/16 \
    --out "$OUT/smollm2_ksweep" | tee "$OUT/smollm2_ksweep.txt"
else
  echo "traces/smollm2-135m.npz not found: skipping the error tables" >&2
fi
