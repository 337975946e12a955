"""`andasim selftest`: compile every numba kernel once and check it against its reference.

Why: numba compiles on first use and keeps the machine code in `__pycache__` (`cache=True`). After an
install, the first real command would pay 10–60 s of compilation; running this once instead warms the
cache (the directory must be writeable, else numba falls back to compiling in each process, and
NUMBA_CACHE_DIR can point elsewhere) and proves the kernels exact on this machine. Each check is small:
the whole run takes seconds once the cache is warm.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool((np.asarray(a, np.float32).view(np.uint32)
                                        == np.asarray(b, np.float32).view(np.uint32)).all())


def _sample() -> np.ndarray:
    """Every finite FP16 bit pattern, shuffled (seed 0): all exponents, subnormals and both zeros."""
    bits = np.arange(2**16, dtype=np.uint32).astype(np.uint16)
    values = bits[(bits & 0x7C00) != 0x7C00].view(np.float16)
    return values[np.random.default_rng(0).permutation(values.size)].reshape(31, 2048)


def _format_checks(x: np.ndarray) -> Iterator[tuple[str, Callable[[], bool]]]:
    from andasim.formats import anda_decode, anda_encode, anda_quantize, anda_quantize_reference, get
    from andasim.formats.mx import MX_ELEMENTS

    yield "anda quantize / encode / decode", lambda: (
        _same(anda_quantize(x, 6), anda_quantize_reference(x, 6))
        and _same(anda_decode(anda_encode(x, 6)), anda_quantize_reference(x, 6)))
    for spec in ("bfp:m=6,round=rne", *sorted(MX_ELEMENTS), "int:bits=4,g=64,asym", "int:bits=8,g=64,sym"):
        fmt = get(spec)
        yield spec, lambda fmt=fmt: (_same(fmt.quantize(x), fmt.quantize_reference(x))
                                     and _same(fmt.decode(fmt.encode(x)), fmt.quantize_reference(x)))


def _parallel_checks(x: np.ndarray) -> Iterator[tuple[str, Callable[[], bool]]]:
    """The prange kernels, forced on the small sample (they are chosen only for large tensors)."""
    from andasim.formats import anda

    def forced(fn: Callable[[], bool]) -> bool:
        old = anda.PARALLEL_MIN_VALUES
        anda.PARALLEL_MIN_VALUES = 1
        try:
            return fn()
        finally:
            anda.PARALLEL_MIN_VALUES = old

    for name, check in _format_checks(x):
        yield f"{name} (parallel)", lambda check=check: forced(check)


def _engine_checks() -> Iterator[tuple[str, Callable[[], bool]]]:
    from andasim.hw.config import bundled_config_names, load_hw
    from andasim.sim.simulate import simulate
    from andasim.workload.card import load_card
    from andasim.workload.precision import PrecisionProfile

    card = load_card("smollm2-135m")
    profile = PrecisionProfile.from_list([6, 6, 6, 6])
    for name in bundled_config_names():
        hw = load_hw(name)
        for phase in ("prefill", "decode"):
            yield f"engine {name} {phase}", lambda hw=hw, phase=phase: simulate(
                hw, card, profile, phase=phase, seq_len=64).counters["cycles"] > 0


def run_selftest(echo: Callable[[str], None] = print, parallel: bool = True) -> bool:
    """Run every check, printing one line each; True when all pass."""
    x = _sample()
    groups = [_format_checks(x), _engine_checks()]
    if parallel:  # the prange kernels run on one thread too (formats/anda.py: PARALLEL_MIN_VALUES)
        groups.insert(1, _parallel_checks(x))
    ok = True
    for checks in groups:
        for name, check in checks:
            t0 = time.perf_counter()
            passed = bool(check())
            ok &= passed
            echo(f"{'ok  ' if passed else 'FAIL'} {name} ({time.perf_counter() - t0:.2f} s)")
    return ok
