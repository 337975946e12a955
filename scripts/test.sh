#!/usr/bin/env bash
# Set up .venv, lint, and run the tests.
#   scripts/test.sh            default suite: everything not marked slow (lean env, no torch)
#   scripts/test.sh --models   installs the models extra; default suite with the torch tests, plus
#                              the slow tests marked `ci` (the recorder against a direct capture)
#   scripts/test.sh --slow     installs the models extra; every slow test (real-model perplexity
#                              search, full reproduction, 3000 extra engine reference cases)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
    "") scripts/setup_env.sh; marker="not slow" ;;
    --models) scripts/setup_env.sh --models; marker="not slow or ci" ;;
    --slow) scripts/setup_env.sh --models; marker="slow" ;;
    *) echo "usage: scripts/test.sh [--models|--slow]" >&2; exit 2 ;;
esac
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
