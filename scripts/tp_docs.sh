#!/usr/bin/env bash
# Reproduce the tensor-parallelism numbers of docs/tensor_parallel.md and docs/results.md
# ("Tensor parallelism"). Writes everything under out/tp_docs/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
A=.venv/bin/andasim
OUT=${1:-out/tp_docs}
mkdir -p "$OUT"

# 1. Regime check on LLaMA-2-7B (N = 2..16 divide its 32 heads and 11008 FFN): each compressed candidate
#    against BF16 on the same algorithm and the best BF16 algorithm of the topology, prefill 2048 and decode.
for spec in "allgather hybrid:k_frac=1/64" "twoshot hybrid:k_frac=1/64" "ring_allreduce int8_token"; do
  set -- $spec
  $A tp --hw anda --trace llama2-7b --chips 2,4,8,16 --seq-len 2048 --collective "$1" --format "$2" --regime \
    --json "$OUT/regime_ring_$1.json" | tee "$OUT/regime_ring_$1.txt"
done
$A tp --hw anda --trace llama2-7b --chips 2,4,8,16 --seq-len 2048 --format hybrid:k_frac=1/64 \
  --collective oneshot --topology switch --regime --json "$OUT/regime_switch_oneshot.json" \
  | tee "$OUT/regime_switch_oneshot.txt"
$A tp --hw anda --trace llama2-7b --chips 2,4,8,16 --seq-len 2048 --format hybrid:k_frac=1/64 \
  --collective twoshot --regime --codec-ops-per-cycle 4096 --codec-pipeline-chunks 8 \
  --json "$OUT/regime_ring_twoshot_fastcodec.json" | tee "$OUT/regime_ring_twoshot_fastcodec.txt"
$A tp --hw anda --trace llama2-7b --chips 8 --seq-len 2048 --collective ring_allreduce --format bf16 \
  --format int8_token --json "$OUT/ring_int8_vs_bf16.json" | tee "$OUT/ring_int8_vs_bf16.txt"
# The peers' regimes (EQuARX, Hansen-Palmus et al.) as what-if studies; assumptions in the script.
.venv/bin/python scripts/tp_whatif.py "$OUT" | tee "$OUT/tp_whatif.txt"

# 2. Error on the bundled SmolLM2-135M trace (32 sampled weight columns: k_frac=1/64 gives k = 0,
#    so the smallest non-zero budget is k_frac=1/32). 9 heads: N = 3 is the only strict TP degree
#    > 1 for timing; the error model splits o on head boundaries unevenly for any N <= 9.
E="--chips 3 --phase decode --seq-len 2048 --precision 6"
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

# 4. At full width: one trace per model with ALL output columns of o and down (E = 576 for SmolLM2,
#    640 for Gemma-3-270M), so per-token and hybrid formats are measured at their real width. About
#    30 and 45 MB (not bundled); about 1 min each to record on 2 cores.
FW="--format bf16 --format int4_token --format static --format hybrid:k_frac=1/64 --format randomk:k_frac=1/64 \
  --format int:bits=4,g=64,asym --no-plot"
[ -f "$OUT/smollm2-135m-fullwidth.npz" ] || $A trace record --model smollm2-135m --corpus wiki --tokens 2048 \
  --out "$OUT/smollm2-135m-fullwidth.npz" --layers 0,10,20,29 --sample-tokens 512 --weight-columns 576 --seed 0 \
  --window 512 --threads 1
[ -f "$OUT/gemma3-270m-fullwidth.npz" ] || $A trace record --model gemma3-270m --corpus wiki --tokens 2048 \
  --out "$OUT/gemma3-270m-fullwidth.npz" --layers 0,5,11,17 --sample-tokens 512 --weight-columns 640 --seed 0 \
  --window 512 --threads 1
$A tp --hw anda --trace "$OUT/smollm2-135m-fullwidth.npz" --precision 6 --chips 3 --phase decode \
  --error-chips 1,2,4,8 $FW --json "$OUT/smollm2_fullwidth.json" | tee "$OUT/smollm2_fullwidth.txt"
$A tp --hw anda --trace "$OUT/gemma3-270m-fullwidth.npz" --precision 6 --chips 2 --phase decode \
  --error-chips 1,2,4 $FW --json "$OUT/gemma_fullwidth.json" | tee "$OUT/gemma_fullwidth.txt"
# Hybrid top-k against static Int4, per module, N and layer.
.venv/bin/python - "$OUT" <<'PY'
import json, sys
from andasim.system.tp.error import ErrorRow, gain_table
for name in ("smollm2_fullwidth", "gemma_fullwidth"):
    rows = [ErrorRow(**r) for r in json.load(open(f"{sys.argv[1]}/{name}.json"))["error"]["rows"]]
    for g in gain_table(rows, "hybrid:k_frac=1/64", "static"):
        layers = ", ".join(f"L{k} {v:.1%}" for k, v in g["per_layer_gain"].items())
        print(f"{name} {g['module']} N={g['n_chips']}: hybrid vs static {g['mean_gain']:.1%} ({layers})")
PY
