#!/usr/bin/env bash
# Build the wheel, install it (not editable) into a fresh venv outside the checkout, and use it as a
# user would: `andasim --help`, `andasim run` on bundled data (with and without --out), `andasim search
# --help`, the calibration tool's help, `andasim selftest` (every numba kernel compiled from the installed
# package and checked), and `andasim validate` on every shipped YAML (designs, system presets, cost
# tables, cards, the proxy calibration), each from a folder that is not the checkout, so nothing is
# found by accident.
# Fails on a setuptools warning in the build log (a warning banner printed on every setup).
#   scripts/wheel_check.sh [WORKDIR]     (default: a fresh temporary folder, removed afterwards)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
[ -n "${1:-}" ] || trap 'rm -rf "$work"' EXIT
python="${PYTHON:-python3}"
mkdir -p "$work/wheel" "$work/run" "$work/src"
echo "wheel check in $work"
# Build from a copy of the tracked files: an in-place build would leave build/ in the checkout and
# could pick up untracked files a fresh clone does not have.
(cd "$repo" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$work/src"
"$python" -m pip wheel "$work/src" --no-deps -w "$work/wheel" -v > "$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; exit 1; }
if grep -E "SetuptoolsDeprecationWarning|SetuptoolsWarning|_DeprecatedInstaller|\*{20}" "$work/build.log"; then
    echo "error: the wheel build printed a setuptools warning (see above)" >&2
    exit 1
fi
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$work"/wheel/andasim-*.whl
cd "$work/run"    # outside the checkout: only the installed package can be found
bin="$work/venv/bin/andasim"
"$bin" --help > /dev/null
"$bin" run --hw pe64 --trace llama-7b --seq-len 128 --out out/run
test -s out/run/result.json && test -s out/run/per_layer.csv
"$bin" run --hw pe64 --trace llama-7b --seq-len 128 | grep -q "wrote       nothing"   # no --out: prints only
"$bin" search --help > /dev/null
"$work/venv/bin/python" -m andasim.search.calibrate --help > /dev/null
"$bin" selftest --threads 1 | tail -1   # compiles every numba kernel, vector intrinsics included, and checks it
shipped=()
while IFS= read -r f; do shipped+=("$repo/$f"); done < <(cd "$repo" && git ls-files '*.yaml' '*.yml' \
    | grep -E '^(hw_configs|andasim)/')
"$bin" validate "${shipped[@]}"
"$bin" validate            # the bundled designs by name, from the installed package
echo "wheel check ok: ${#shipped[@]} shipped YAML files valid"
