"""Benchmark: the ratios of issue 17's acceptance, measured in one run (docs/performance.md, "Issue 17").

Every figure is a ratio of two things timed back to back on the same machine, best of --repeat runs,
as wall time and CPU time (the machine is shared and noisy; CPU time is the steadier figure, except
for a two-thread run, whose CPU time adds both threads' work: compare its wall time).

1. formats: Anda quantize / encode / decode, BFP (trunc, rne), MX (every element type) and INT
   quantize of an (8192, 8192) FP16 tensor (128 MB, out of cache: synthetic activations, standard
   normal with every 64th channel x30, seed 0) against `np.copy` of the same tensor, on 1 and 2
   threads (`andasim.threads.set_threads`). Goals: Anda within 3x of np.copy on 1 thread and faster on
   2; BFP, MX and INT within 6x. Each call allocates its output (the public call as a user makes it);
   the Anda rows also show `out=` into a reused buffer.
2. threads: the proxy precision search (`andasim search --trace smollm2-135m --tolerance 1%`) and the
   TP error table of the bundled SmolLM2 trace, each a fresh process, with the default thread settings
   and with OPENBLAS_NUM_THREADS=1. Goal: no slower with the defaults.
3. start-up: warm `andasim run --hw anda --trace llama7b` against `python -c "import numpy, numba"`.
   Goal: at most 2x.
4. engine: `andasim.simulate` of LLaMA-7B prefill 2048 on `anda` (every distinct GeMM simulated:
   the GeMM cache lives only inside one call) in this tree against a `git worktree` checkout of
   --baseline (default HEAD~1) in /tmp, each in a fresh process with a warm numba cache. Goal: >= 2x.

Run: .venv/bin/python benchmarks/bench_performance.py [--repeat 3] [--skip formats,threads,...]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from timing import best_time  # benchmarks/ is sys.path[0] when run as a script

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from andasim.cli import main; main()"]
SECTIONS = ("formats", "threads", "startup", "engine")


def child_time(cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> tuple[float, float]:
    """(wall, CPU user+sys) of one child process run to completion (its output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - w0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ab(name_a: str, cmd_a: list[str], name_b: str, cmd_b: list[str], repeat: int,
       env_a: dict[str, str] | None = None, env_b: dict[str, str] | None = None) -> None:
    """Run A and B alternately `repeat` times; print best wall/CPU of each and the ratios A/B."""
    a, b = [], []
    for _ in range(repeat):
        a.append(child_time(cmd_a, env_a))
        b.append(child_time(cmd_b, env_b))
    aw, ac = min(w for w, _ in a), min(c for _, c in a)
    bw, bc = min(w for w, _ in b), min(c for _, c in b)
    print(f"  {name_a}: {aw:.2f} s wall, {ac:.2f} s CPU")
    print(f"  {name_b}: {bw:.2f} s wall, {bc:.2f} s CPU")
    print(f"  ratio {name_a} / {name_b}: {aw / bw:.2f} wall, {ac / bc:.2f} CPU")


def activations(shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    x[:, ::64] *= 30.0  # outlier channels, as in LLM activations
    return x.astype(np.float16)


def bench_formats(repeat: int) -> None:
    from andasim.formats import anda_decode, anda_encode, anda_quantize, get
    from andasim.formats.mx import MX_ELEMENTS
    from andasim.threads import set_threads

    x = activations((8192, 8192))
    small = x[:256]  # 2 Mi values: large enough for the parallel kernels
    specs = ["bfp:m=6,round=trunc", "bfp:m=6,round=rne", *sorted(MX_ELEMENTS), "int:bits=4,g=64,asym",
             "int:bits=8,g=64,sym"]
    print(f"formats: (8192, 8192) FP16 = {x.nbytes / 2**20:.0f} MiB; each ratio is time / np.copy time")
    for threads in (1, 2):
        set_threads(threads)
        anda_quantize(small, 6)  # compile or load the kernels outside the timings
        anda_decode(anda_encode(small, 6))
        for spec in specs:
            get(spec).quantize(small)
        _format_rows(x, specs, threads, repeat)
    set_threads(None)


def _format_rows(x: np.ndarray, specs: list[str], threads: int, repeat: int) -> None:
    from andasim.formats import anda_decode, anda_encode, anda_quantize, get

    payload = anda_encode(x, 6)
    buf = np.empty(x.shape, np.float32)
    rows: list[tuple[str, Callable[[], object]]] = [
        ("anda quantize M=6", lambda: anda_quantize(x, 6)),
        ("anda quantize M=6 out=", lambda: anda_quantize(x, 6, out=buf)),
        ("anda encode M=6", lambda: anda_encode(x, 6)),
        ("anda decode M=6", lambda: anda_decode(payload)),
        ("anda decode M=6 out=", lambda: anda_decode(payload, out=buf)),
    ]
    rows += [(f"{spec} quantize", (lambda f: lambda: f.quantize(x))(get(spec))) for spec in specs]
    copy_w, copy_c = best_time(lambda: np.copy(x), repeat)
    print(f" {threads} thread(s): np.copy {copy_w * 1e3:.0f} ms wall, {copy_c * 1e3:.0f} ms CPU")
    for name, fn in rows:
        w, c = best_time(fn, repeat)
        print(f"   {name:34s} {w * 1e3:6.0f} ms wall {c * 1e3:6.0f} ms CPU   "
              f"x{w / copy_w:5.2f} wall  x{c / copy_c:5.2f} CPU")


def bench_threads(repeat: int) -> None:
    py = sys.executable
    out = tempfile.mkdtemp(prefix="bench17_")
    # a fresh output folder each run: the search would otherwise resume from its journal
    search = ["bash", "-c", f'rm -rf "{out}/s" && mkdir "{out}/s" && exec "$@"', "search",
              *CLI, "search", "--trace", "smollm2-135m", "--tolerance", "1%", "--out", f"{out}/s/p.yaml"]
    table = [py, "-c", "import andasim\nfrom andasim.system.tp.error import trace_error_table\n"
             "from andasim.workload.trace import load_trace\n"
             "t = load_trace('smollm2-135m')\n"
             "trace_error_table(t, [1, 2, 4, 8], ['bf16', 'hybrid:k_frac=1/32', 'randomk:k_frac=1/32', "
             "'static'], 'allgather')\n"]
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env["PYTHONPATH"] = str(ROOT)
    one = {**env, "OPENBLAS_NUM_THREADS": "1"}
    print("threads: default thread settings vs OPENBLAS_NUM_THREADS=1 (fresh processes, best of "
          f"{repeat})")
    print(" proxy search (andasim search --trace smollm2-135m --tolerance 1%):")
    ab("default", search, "OPENBLAS_NUM_THREADS=1", search, repeat, env, one)
    print(" TP error table (smollm2-135m, N = 1, 2, 4, 8, 4 payloads):")
    ab("default", table, "OPENBLAS_NUM_THREADS=1", table, repeat, env, one)


def bench_startup(repeat: int) -> None:
    from andasim.threads import THREAD_COUNT_ENV

    py = sys.executable
    # both commands in the environment of a user's shell: without the thread counts that the formats
    # section exported (set_threads), which would make the yardstick's numpy start one OpenBLAS thread
    env = {k: v for k, v in os.environ.items() if k not in THREAD_COUNT_ENV} | {"PYTHONPATH": str(ROOT)}
    out = tempfile.mkdtemp(prefix="bench17_")
    run = [*CLI, "run", "--hw", "anda", "--trace", "llama7b", "--out", out]
    # warm: andasim's bytecode compiled (as `pip install` does; this checkout may run with
    # PYTHONDONTWRITEBYTECODE=1) and numba's cache filled by a first run
    subprocess.run([py, "-m", "compileall", "-q", str(ROOT / "andasim")], check=True,
                   stdout=subprocess.DEVNULL)
    child_time(run, env)
    print("start-up: warm `andasim run --hw anda --trace llama7b` vs `import numpy, numba` "
          f"(best of {repeat})")
    ab("andasim run", run, "import numpy, numba", [py, "-c", "import numpy, numba"], repeat, env, env)


ENGINE_SNIPPET = """
import sys, time
import andasim.cli  # the CLI's start-up (passive threads, scipy kept out of numba's start-up)
from andasim.hw.config import load_hw
from andasim.sim.simulate import simulate
from andasim.workload.trace import load_trace
hw = load_hw("anda"); tr = load_trace("llama7b"); prof = tr.profile(None)
simulate(hw, tr, prof)  # numba cache load / compile
cpu = []
for _ in range(int(sys.argv[1])):
    c0 = time.process_time(); simulate(hw, tr, prof); cpu.append(time.process_time() - c0)
print(min(cpu))
"""


def bench_engine(repeat: int, baseline: str) -> None:
    rev = subprocess.run(["git", "rev-parse", "--short", baseline], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    base = Path(tempfile.gettempdir()) / f"andasim-baseline-{rev}"
    if not base.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(base), rev], cwd=ROOT, check=True,
                       capture_output=True)
    times = {}
    for label, tree in (("this tree", ROOT), (f"baseline {rev}", base)):
        env = {**os.environ, "PYTHONPATH": str(tree)}
        res = subprocess.run([sys.executable, "-c", ENGINE_SNIPPET, str(max(repeat, 3))], cwd=tree, env=env,
                             check=True, capture_output=True, text=True)
        times[label] = float(res.stdout.split()[-1])
    (a, ta), (b, tb) = times.items()
    print("engine: simulate LLaMA-7B prefill 2048 on anda, every distinct GeMM simulated (best CPU)")
    print(f"  {a}: {ta * 1e3:.1f} ms   {b}: {tb * 1e3:.1f} ms   speed-up x{tb / ta:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip", default="", help=f"comma list from {', '.join(SECTIONS)}")
    ap.add_argument("--baseline", default="HEAD~1", help="git revision for the engine baseline")
    args = ap.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    print(f"machine: {platform.machine()} {platform.processor() or ''} usable cores="
          f"{len(os.sched_getaffinity(0))}, python {platform.python_version()}, numpy {np.__version__}; "
          f"load average {os.getloadavg()[0]:.2f}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    if "formats" not in skip:
        bench_formats(args.repeat)
    if "threads" not in skip:
        bench_threads(args.repeat)
    if "startup" not in skip:
        bench_startup(max(args.repeat, 5))
    if "engine" not in skip:
        bench_engine(args.repeat, args.baseline)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
