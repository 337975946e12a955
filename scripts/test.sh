#!/usr/bin/env bash
# Set up the environment, lint, and run the default test suite (slow tests excluded).
# Usage: scripts/test.sh [--slow]   (--slow also installs the models extra and runs only slow tests)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--slow" ]; then
    scripts/setup_env.sh --models
    marker="slow"
else
    scripts/setup_env.sh
    marker="not slow"
fi
.venv/bin/ruff check .
set +e
.venv/bin/python -m pytest -m "$marker" -n "${PYTEST_WORKERS:-2}" -q
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "error: pytest collected no tests; an empty run is a failure" >&2
    exit 1
fi
exit "$rc"
