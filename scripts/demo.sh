#!/usr/bin/env bash
# Set up the environment and run the main job on bundled data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh
echo "andasim run is not built yet; validating every bundled hardware config instead." >&2
.venv/bin/andasim validate hw_configs/*.yaml
