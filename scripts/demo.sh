#!/usr/bin/env bash
# Set up the environment and run the main job on bundled data: LLaMA-7B prefill (2048 tokens,
# the Anda paper's published WikiText-2 1% profile) on the 8x8 Anda design.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh
.venv/bin/andasim run --hw pe64 --trace llama-7b --out out/demo --figures
