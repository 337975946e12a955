"""Accuracy evaluators of the precision search, behind one interface (`Evaluator`).

`perplexity` runs a real causal LM (needs the `models` extra, imported lazily); `proxy` uses a
recorded trace only. Both report a raw metric (lower is better) and map it to a relative accuracy
whose reference value is 1.0, so that the search's constraint is the paper's
`acc ≥ (1 − δ) · fp_acc` (anda.md §3.2).
"""

from andasim.search.evaluators.base import Evaluator

__all__ = ["Evaluator"]
