"""The evaluator interface shared by the perplexity and proxy evaluators."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from andasim.workload.precision import PrecisionProfile


class Evaluator(ABC):
    """Measures how much a precision profile hurts the model.

    `reference_metric()` is the raw metric of the reference (INT4 weights, FP16 activations), and
    `measure(profile)` the raw metric with Anda activations; both are lower-is-better.
    `accuracy(metric, reference)` turns a metric into a relative accuracy that equals 1.0 at the
    reference, so the search accepts a profile when `accuracy ≥ (1 − δ) · 1.0`.
    """

    metric_name: str = "metric"

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON-able settings that determine the measurements (journal header, config check)."""

    @abstractmethod
    def reference_metric(self) -> float:
        """Raw metric of the reference configuration."""

    @abstractmethod
    def measure(self, profile: PrecisionProfile) -> float:
        """Raw metric of the model with `profile`'s Anda activation widths."""

    # Evaluators that measure on windows (perplexity) override these two and `tokens_per_window`, so the
    # search can put a paired-bootstrap interval on the change; the proxy has no windows (None).
    tokens_per_window: int | None = None

    def reference_detail(self) -> tuple[float, np.ndarray | None]:
        """(reference metric, per-window NLL sums or None)."""
        return self.reference_metric(), None

    def measure_detail(self, profile: PrecisionProfile) -> tuple[float, np.ndarray | None]:
        """(metric of `profile`, per-window NLL sums or None)."""
        return self.measure(profile), None

    def accuracy(self, metric: float, reference: float) -> float:
        """Relative accuracy, 1.0 at the reference: 1 − (metric − reference) / reference.

        For perplexity this is the paper's relative drop read as a loss: the constraint
        `accuracy ≥ 1 − δ` is exactly `PPL ≤ (1 + δ) · PPL_ref` (anda.md §3.2 [I]).
        """
        return 1.0 - (metric - reference) / reference
