#!/usr/bin/env bash
# The exact commands that produced the bundled traces in traces/ (each trace also stores its own
# command in provenance.command). Needs the models extra and the --no-deps packages of docs/models.md.
# Takes about 2 minutes (SmolLM2) + 3 minutes (Gemma-3) + 4 minutes (Qwen2.5-Coder) on an idle 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
ANDASIM=${ANDASIM:-.venv/bin/andasim}

# Shape-only traces of the Anda-paper models with the published Fig. 14 profiles (no model needed).
"$PY" -m andasim.workload.paper_profiles traces/

# Real recorded traces. Layer subsets and sampling keep each file under 16 MiB (traces/ < 48 MiB).
"$ANDASIM" trace record --model smollm2-135m --corpus wiki --tokens 8192 \
    --out traces/smollm2-135m.npz --layers 0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,29 \
    --sample-tokens 96 --weight-columns 32 --seed 0 --window 512 --threads 2
"$ANDASIM" trace record --model gemma3-270m --corpus wiki --tokens 8192 \
    --out traces/gemma3-270m.npz --layers 0,2,4,5,6,8,10,11,12,14,16,17 \
    --sample-tokens 96 --weight-columns 32 --seed 0 --window 512 --threads 2
# Qwen2.5-Coder-0.5B: a larger FFN (4864), so 8 layers and 64 of 4096 tokens keep it near 12 MB.
"$ANDASIM" trace record --model qwen2.5-coder-0.5b --corpus wiki --tokens 4096 \
    --out traces/qwen2.5-coder-0.5b.npz --layers 0,3,6,9,12,15,18,23 \
    --sample-tokens 64 --weight-columns 32 --seed 0 --window 512 --threads 1
# A tensor-parallelism trace: fewer layers and tokens, 128 weight columns so that the hybrid
# top-k format at k = E/64 keeps k = 2 features (4.1875 bits/value); see docs/results.md.
"$ANDASIM" trace record --model smollm2-135m --corpus wiki --tokens 2048 \
    --out traces/smollm2-135m-tp.npz --layers 0,10,20,29 \
    --sample-tokens 256 --weight-columns 128 --seed 0 --window 512 --threads 1
