"""Trace-only proxy evaluator: predicted perplexity loss from the output error of the sampled GeMMs.

For every recorded (layer, module) the trace holds FP16 activations X [tokens, k] and a sample of
weight columns W [k, n_s]. The weights are treated like the perplexity evaluator's `--weights`: as
shipped (the recorded sample as loaded, the default) or re-quantized (e.g. INT4, g128 along k,
asymmetric RTN), and the relative output error of Anda activations is

    e²_{l,m}(M) = ||(X̂_M − X) · W_q||² / ||X · W_q||²        (X̂_M = anda_quantize(X, M, gs=64)).

Per module type, e²_m is the mean over the recorded layers (with per-layer widths when the profile
has them). The proxy predicts the relative perplexity increase as a weighted sum

    L̂ = Σ_m K_m · e²_m,     accuracy = 1 − L̂,

so the search's constraint `accuracy ≥ 1 − δ` reads `L̂ ≤ δ`: the per-module budgets of the issue
are the terms of this sum (with one module quantized alone, its error budget is e_m ≤ √(δ / K_m)).
Quadratic in e because a small, zero-mean output perturbation raises the cross-entropy to second
order. The K_m are fitted once on SmolLM2-135M against the perplexity evaluator (least squares
through the origin over single-module sweeps, `calibrate_coefficients`) and bundled in
`proxy_calibration.yaml` with that provenance; they are model-specific, and for another model the
proxy is an extrapolation unless recalibrated (`--proxy-coefficients FILE`). Only sweep points with
a loss of at most 20% enter the fit (the small-loss regime the tolerances live in).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from andasim.errors import AndasimInputError
from andasim.formats.anda import anda_quantize
from andasim.formats.intq import int_weights, int_weights_dequantize
from andasim.safe_read import short
from andasim.search.evaluators.base import Evaluator
from andasim.search.weights import WeightMode
from andasim.strict_yaml import load_strict_yaml
from andasim.threads import single_threaded
from andasim.workload.gemm import FP_INT_MODULES
from andasim.workload.precision import PrecisionProfile

BUNDLED_CALIBRATION = Path(__file__).resolve().parent.parent / "proxy_calibration.yaml"
MAX_COEFFICIENT = 1e6  # fitted values are 2.6-16.6 (proxy_calibration.yaml); beyond 1e6 is a typo


def load_coefficients(path: Path | str = BUNDLED_CALIBRATION) -> tuple[dict[str, float], dict[str, Any]]:
    """(K per module, provenance) from a calibration YAML written by `save_coefficients`."""
    data = load_strict_yaml(path)
    file = str(path)
    if not isinstance(data, dict) or set(data) - {"coefficients", "provenance", "points"} \
            or "coefficients" not in data:
        raise AndasimInputError(f"{file}: expected keys coefficients, provenance, points")
    coeffs = data["coefficients"]
    if not isinstance(coeffs, dict) or set(coeffs) != set(FP_INT_MODULES):
        raise AndasimInputError(f"{file}: coefficients must give exactly {', '.join(FP_INT_MODULES)}")
    for module, value in coeffs.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_COEFFICIENT:
            raise AndasimInputError(f"{file}: coefficient {module!r} must be a number in "
                                    f"[0, {MAX_COEFFICIENT:g}], got {short(value)}")
    return {m: float(coeffs[m]) for m in FP_INT_MODULES}, dict(data.get("provenance") or {})


class ProxyEvaluator(Evaluator):
    """Predicted relative perplexity loss from a recorded trace (no model needed)."""

    metric_name = "predicted_loss"

    def __init__(self, trace: Any, coefficients: dict[str, float] | None = None,
                 provenance: dict[str, Any] | None = None, gs: int = 64, weights: str = "as-shipped") -> None:
        if coefficients is None:
            coefficients, provenance = load_coefficients()
        self.coefficients = {m: float(coefficients[m]) for m in FP_INT_MODULES}
        self.provenance = provenance or {}
        self.gs = gs
        self.trace = trace
        self.weights = weights
        mode = WeightMode.parse(weights)
        bits, group = mode.bits, mode.group
        keys = sorted(set(trace.activations) & set(trace.weights))
        missing = [m for m in FP_INT_MODULES if not any(k[1] == m for k in keys)]
        if missing:
            where = getattr(trace, "source", "") or trace.trace_id
            raise AndasimInputError(f"trace {where}: the proxy needs recorded "
                                    f"activations and weight samples of every module type; missing "
                                    f"{', '.join(missing)} "
                                    "(shape-only traces cannot be used)")
        self._gemms: dict[tuple[int, str], tuple[np.ndarray, np.ndarray, float]] = {}
        for key in keys:
            x = np.asarray(trace.activations[key], dtype=np.float32)
            w = np.asarray(trace.weights[key].values, dtype=np.float32)
            if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
                raise AndasimInputError(f"trace {trace.trace_id}: {key}: activation {x.shape} and weight "
                                        f"sample {w.shape} do not multiply")
            if bits is None:
                wq = w.astype(np.float64)
            else:
                q, scale, zero = int_weights(w, bits=bits, group=group, axis=0, sym=False)
                wq = int_weights_dequantize(q, scale, zero, group=group, axis=0).astype(np.float64)
            with single_threaded():
                norm2 = float(np.sum((x.astype(np.float64) @ wq) ** 2))
            if not norm2 > 0:
                raise AndasimInputError(f"trace {trace.trace_id}: {key}: the sampled GeMM output is all zero")
            self._gemms[key] = (x, wq, norm2)
        self._layers = {m: sorted(layer for layer, mod in keys if mod == m) for m in FP_INT_MODULES}
        self._cache: dict[tuple[int, str, int], float] = {}

    def describe(self) -> dict[str, Any]:
        trace = self.trace
        return {"kind": "proxy", "trace": trace.trace_id, "trace_label": getattr(trace, "label", ""),
                "trace_checksum": getattr(trace, "checksum", ""), "gs": self.gs,
                "weights": self.weights,
                "coefficients": self.coefficients, "calibration": self.provenance}

    def gemm_error2(self, layer: int, module: str, bits: int) -> float:
        """e²_{l,m}(M): relative squared output error of one sampled GeMM (cached)."""
        key = (layer, module, bits)
        if key not in self._cache:
            x, wq, norm2 = self._gemms[(layer, module)]
            dx = anda_quantize(x, bits, self.gs).astype(np.float64) - x
            with single_threaded():  # a [tokens, k] x [k, n_s] product: BLAS threads only add wake-ups
                self._cache[key] = float(np.sum((dx @ wq) ** 2)) / norm2
        return self._cache[key]

    def module_error2(self, profile: PrecisionProfile) -> dict[str, float]:
        """e²_m: mean over the recorded layers of each module type."""
        return {m: float(np.mean([self.gemm_error2(layer, m, profile.bits_for(m, layer))
                                  for layer in self._layers[m]])) for m in FP_INT_MODULES}

    def reference_metric(self) -> float:
        return 0.0  # FP16 activations: the trace's own values, no error

    def measure(self, profile: PrecisionProfile) -> float:
        err2 = self.module_error2(profile)
        return sum(self.coefficients[m] * err2[m] for m in FP_INT_MODULES)

    def accuracy(self, metric: float, reference: float) -> float:
        """1 − L̂: the predicted relative perplexity loss read as the paper's accuracy drop."""
        return 1.0 - (metric - reference)


def calibrate_coefficients(points: list[dict[str, Any]], max_loss: float = 0.2) -> dict[str, float]:
    """K_m by least squares through the origin: K_m = Σ ℓ·e² / Σ e⁴ over module m's points.

    Each point is {"module", "bits", "err2" (proxy e²_m), "loss" (measured relative PPL increase)}
    from a sweep that quantizes one module type at a time. Only points with ℓ ≤ `max_loss` enter
    the fit: the quadratic model is meant for the small-loss regime of the tolerances (0.1%–5%),
    and an unweighted fit would be dominated by a single catastrophic point (e.g. +170% at M = 4).
    """
    coeffs = {}
    for m in FP_INT_MODULES:
        rows = [(p["err2"], p["loss"]) for p in points if p["module"] == m and p["loss"] <= max_loss]
        den = sum(e * e for e, _ in rows)
        if not rows or den == 0:
            raise AndasimInputError(f"calibration has no usable point (loss <= {max_loss:g}) "
                                    f"for module {m!r}")
        coeffs[m] = max(0.0, sum(e * loss for e, loss in rows) / den)
    return coeffs
