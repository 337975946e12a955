"""Numerical error of compressed TP all-reduces, rebuilt from a trace's recorded X and W.

Megatron's row-parallel layers (`o`, `down`) give chip i the partial `Y_i = X[:, S_i] · W[S_i, :]`
of the output, with S_i the i-th contiguous slice of the input features (whole heads for `o`).
One recorded trace therefore serves every TP degree N (tp_comm_and_flexgen.md §3.0). For each
layer we split the trace's tokens into a calibration part (first `calib_frac`) and a held-out
part, fit the payload per chip on the calibration partials, and report the relative error
`||Ŷ - Y|| / ||Y||` (Frobenius) of the reduced output on the held-out tokens, where `Y = X · W`
is computed in float64 and `Ŷ` is what every chip holds after the collective.

Only sampled output columns of W are recorded, so E (the features the collective carries) is
the number of sampled columns: a fraction k_frac selects floor(E_sampled * k_frac) features, a
count k is scaled to k * E_sampled / E_full; results hold for that feature subset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from andasim.errors import AndasimInputError
from andasim.system.tp.collectives import COLLECTIVES, EXCHANGES
from andasim.system.tp.payloads import FittedPayload, PayloadSpec, fit_payload, parse_payload
from andasim.threads import single_threaded

ROW_PARALLEL = ("o", "down")


def split_bounds(k: int, n_chips: int, align: int = 1) -> list[tuple[int, int]]:
    """Contiguous [start, stop) slices of k input features over n chips, on `align` boundaries.

    Units of `align` features (a head for `o`) are dealt out as evenly as possible: the first
    `units % n` chips get one unit more. Refuses a chip with nothing to do.
    """
    if k % align:
        raise AndasimInputError(f"{k} input features are not a multiple of the split unit {align}")
    units = k // align
    if not 1 <= n_chips <= units:
        raise AndasimInputError(f"cannot split {units} units ({k} features) over {n_chips} chips; "
                                f"use 1..{units} chips")
    base, extra = divmod(units, n_chips)
    bounds, start = [], 0
    for i in range(n_chips):
        stop = start + (base + (1 if i < extra else 0)) * align
        bounds.append((start, stop))
        start = stop
    return bounds


def rebuild_partials(x: np.ndarray, w: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    """Chip partials [N, T, n] in float32: each is the float64 product rounded once to FP32."""
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
        raise AndasimInputError(f"X {x.shape} and W {w.shape} do not multiply")
    x64 = np.asarray(x, dtype=np.float64)
    w64 = np.asarray(w, dtype=np.float64)
    with single_threaded():  # trace-sized products: BLAS threads cost more in wake-ups than they save
        return np.stack([(np.ascontiguousarray(x64[:, a:b]) @ w64[a:b]).astype(np.float32)
                         for a, b in bounds])


def reduce_partials(partials: np.ndarray, payload: FittedPayload, collective: str,
                    second: FittedPayload | None = None) -> np.ndarray:
    """What every chip holds after the all-reduce (float64), by the collective's exchange.

    The exchange is the one `collectives.collective_cost` prices (`EXCHANGES`), on every topology:
    gather (allgather, oneshot): Σ_i D(C_i(Y_i)). direct_two_stage (twoshot): D'(C'(Σ_i D(C_i(Y_i))))
    with `second` the payload fitted on reduced sums. ring_hop_by_hop (ring_allreduce): the chunk
    travels the ring and is re-encoded at every hop, acc = D(C(acc)) + Y_next, and the final sum is
    encoded once more for the all-gather phase (one fixed chip order; every chunk sees N encodings).
    """
    if collective not in EXCHANGES:
        raise AndasimInputError(f"unknown collective {collective!r}; valid: {', '.join(COLLECTIVES)}")
    n = partials.shape[0]
    exchange = EXCHANGES[collective]
    if exchange == "gather":
        return np.sum([payload.roundtrip(i, partials[i]).astype(np.float64) for i in range(n)], axis=0)
    if exchange == "direct_two_stage":
        if second is None:
            raise AndasimInputError("twoshot needs the second-stage payload fitted on reduced sums")
        s = np.sum([payload.roundtrip(i, partials[i]).astype(np.float64) for i in range(n)], axis=0)
        return second.roundtrip(0, s.astype(np.float32)).astype(np.float64)
    acc = partials[0].astype(np.float32)
    for i in range(1, n):
        acc = payload.roundtrip(0, acc) + partials[i]
    return payload.roundtrip(0, acc).astype(np.float64)


def rel_error(ref: np.ndarray, approx: np.ndarray) -> float:
    """||approx - ref||_F / ||ref||_F (0 when both are zero)."""
    den = float(np.linalg.norm(ref))
    num = float(np.linalg.norm(approx - ref))
    return num / den if den > 0 else (0.0 if num == 0 else float("inf"))


@dataclass(frozen=True)
class ErrorRow:
    layer: int
    module: str
    n_chips: int
    payload: str
    collective: str
    bits_per_value: float
    k_bf16: int
    e_sampled: int
    tokens_calib: int
    tokens_eval: int
    rel_error: float
    sqnr_db: float | None   # -20 log10(rel_error); None when the error is exactly 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _k_bf16(fitted: FittedPayload) -> int:
    keep = getattr(fitted, "keep", None)
    return 0 if keep is None else int(keep.size)


def _split_tokens(t: int, calib_frac: float) -> int:
    if not 0 < calib_frac < 1:
        raise AndasimInputError(f"calib_frac must be in (0, 1), got {calib_frac}")
    t_cal = round(t * calib_frac)
    if t_cal < 1 or t - t_cal < 1:
        raise AndasimInputError(f"{t} tokens cannot be split into calibration and held-out parts "
                                f"with calib_frac={calib_frac}")
    return t_cal


def partials_error(parts: np.ndarray, y_eval: np.ndarray, t_cal: int, *, payload: PayloadSpec,
                   collective: str, chunk_tokens: int = 64, e_full: int | None = None, layer: int = -1,
                   module: str = "") -> ErrorRow:
    """Error for chip partials `parts` [N, T, E] (first `t_cal` tokens calibrate) against the exact
    held-out output `y_eval` [T - t_cal, E] (float64)."""
    if EXCHANGES.get(collective) == "ring_hop_by_hop" and payload.calibrated:
        raise AndasimInputError(
            f"ring_allreduce re-encodes partial sums at every hop; calibrated payload {payload.spec!r} "
            "has static parameters only for single partials: use allgather, oneshot or twoshot")
    n, t, e = parts.shape
    cal, ev = parts[:, :t_cal], parts[:, t_cal:]
    fitted = fit_payload(payload, cal, chunk_tokens=chunk_tokens, e_full=e_full)
    second = None
    if EXCHANGES.get(collective) == "direct_two_stage":
        sums = cal.astype(np.float64).sum(axis=0).astype(np.float32)[None]
        second = fit_payload(payload, sums, chunk_tokens=chunk_tokens, e_full=e_full)
    y_hat = reduce_partials(ev, fitted, collective, second)
    err = rel_error(y_eval, y_hat)
    return ErrorRow(layer=layer, module=module, n_chips=n, payload=payload.spec, collective=collective,
                    bits_per_value=float(fitted.bits_per_value((t - t_cal, e))),
                    k_bf16=_k_bf16(fitted), e_sampled=int(e), tokens_calib=t_cal,
                    tokens_eval=t - t_cal, rel_error=err,
                    sqnr_db=-20.0 * float(np.log10(err)) if err > 0 else None)


def layer_error(x: np.ndarray, w: np.ndarray, *, n_chips: int, payload: PayloadSpec, collective: str,
                align: int = 1, calib_frac: float = 0.5, chunk_tokens: int = 64,
                e_full: int | None = None, layer: int = -1, module: str = "") -> ErrorRow:
    """Error of one row-parallel layer for one (N, payload, collective)."""
    t_cal = _split_tokens(x.shape[0], calib_frac)
    parts = rebuild_partials(x, w, split_bounds(x.shape[1], n_chips, align))
    y = np.asarray(x[t_cal:], dtype=np.float64) @ np.asarray(w, dtype=np.float64)
    return partials_error(parts, y, t_cal, payload=payload, collective=collective, chunk_tokens=chunk_tokens,
                          e_full=e_full, layer=layer, module=module)


def trace_error_table(trace: Any, n_chips_list: list[int], payload_specs: list[str], collective: str, *,
                      modules: tuple[str, ...] = ROW_PARALLEL, layers: list[int] | None = None,
                      calib_frac: float = 0.5, chunk_tokens: int = 64,
                      progress: bool = False) -> list[ErrorRow]:
    """Per-layer error rows for every (module, N, payload) a trace with activations supports.

    `o` is split on head boundaries (align = head_dim), `down` on single features. Layers that
    lack the recorded input or the weight sample are skipped; a trace with none is refused.
    """
    card = trace.card
    payloads = [parse_payload(s) for s in payload_specs]
    jobs = []
    for (layer, module), x in sorted(trace.activations.items()):
        if module not in modules or (layer, module) not in trace.weights:
            continue
        if layers is not None and layer not in layers:
            continue
        jobs.append((layer, module, x))
    if not jobs:
        raise AndasimInputError(f"trace {trace.trace_id!r} has no recorded inputs with weight samples for "
                                f"{', '.join(modules)} (shape-only traces carry no activations)")
    e_full = {"o": card.hidden, "down": card.hidden}
    rows: list[ErrorRow] = []
    if progress:
        from tqdm import tqdm
        jobs = tqdm(jobs, desc="tp error", unit="layer")
    with single_threaded():  # trace-sized products and norms: threads cost more than they save
        for layer, module, x in jobs:
            x64 = np.asarray(x, dtype=np.float64)
            w64 = np.asarray(trace.weights[(layer, module)].values, dtype=np.float64)
            t_cal = _split_tokens(x64.shape[0], calib_frac)
            y_eval = x64[t_cal:] @ w64
            align = card.head_dim if module == "o" else 1
            for n in n_chips_list:
                parts = rebuild_partials(x64, w64, split_bounds(x64.shape[1], n, align))
                for ps in payloads:
                    rows.append(partials_error(parts, y_eval, t_cal, payload=ps, collective=collective,
                                               chunk_tokens=chunk_tokens, e_full=e_full[module],
                                               layer=layer, module=module))
    return rows


def summarize(rows: list[ErrorRow]) -> list[dict[str, Any]]:
    """Mean and max relative error over layers per (module, N, payload)."""
    groups: dict[tuple[str, int, str], list[ErrorRow]] = {}
    for r in rows:
        groups.setdefault((r.module, r.n_chips, r.payload), []).append(r)
    out = []
    for (module, n, payload), rs in sorted(groups.items()):
        errs = np.array([r.rel_error for r in rs])
        out.append({"module": module, "n_chips": n, "payload": payload, "layers": len(rs),
                    "bits_per_value": rs[0].bits_per_value, "k_bf16": rs[0].k_bf16,
                    "mean_rel_error": float(errs.mean()), "max_rel_error": float(errs.max())})
    return out


def gain_table(rows: list[ErrorRow], candidate: str, baseline: str) -> list[dict[str, Any]]:
    """Relative error reduction 1 - err(candidate) / err(baseline), per (module, N) and per layer.

    Used to say how much the hybrid format buys over static Int4 and which layers drive it."""
    by_key = {(r.module, r.n_chips, r.layer, r.payload): r.rel_error for r in rows}
    out = []
    for module, n in sorted({(r.module, r.n_chips) for r in rows}):
        layers = sorted({r.layer for r in rows if (r.module, r.n_chips) == (module, n)})
        pairs = [(la, by_key.get((module, n, la, candidate)), by_key.get((module, n, la, baseline)))
                 for la in layers]
        pairs = [(la, c, b) for la, c, b in pairs if c is not None and b is not None and b > 0]
        if not pairs:
            continue
        mean_c = float(np.mean([c for _, c, _ in pairs]))
        mean_b = float(np.mean([b for _, _, b in pairs]))
        out.append({"module": module, "n_chips": n, "candidate": candidate, "baseline": baseline,
                    "mean_gain": 1.0 - mean_c / mean_b,
                    "per_layer_gain": {int(la): 1.0 - c / b for la, c, b in pairs}})
    return out
