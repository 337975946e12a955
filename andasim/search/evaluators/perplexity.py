"""Perplexity evaluator: a real causal LM with Anda fake-quantized GeMM inputs (needs the models extra).

Setup, following anda.md §3.2 with the substitutions this machine allows (documented in docs/search.md):
- weights (`--weights`): by default **as shipped**, i.e. exactly as loaded (the bundled models are
  GGUF files whose weights are already 4–5-bit quantized, dequantized to fp32 by transformers);
  on request (`intB-gG`, e.g. `int4-g128`) every q/k/v/o/gate/up/down (OPT: q/k/v/out_proj, fc1,
  fc2) Linear is re-quantized once to B-bit integers, groups of G along the input features,
  asymmetric round-to-nearest (`formats.int_weights`), the stand-in for OmniQuant W4A16g128;
  lm_head and embeddings always stay as loaded;
- baseline (`fp_acc`): those weights with FP16 activations (each quantized Linear's input rounded
  to FP16);
- candidate: the input of each Linear truncated to Anda with the width of its module type
  (q/k/v share M_qkv, gate/up share M_u, then M_o and M_d), groups of 64 along the input features;
- metric: perplexity over token windows (`search.windows`), kept per window as NLL sums so that a
  paired bootstrap (`search.bootstrap`) can put an interval on the relative change.
torch is imported only when this module is used.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from andasim.errors import AndasimInputError
from andasim.formats.intq import int_weights, int_weights_dequantize
from andasim.search.evaluators.anda_torch import anda_quantize_torch, fp16_round
from andasim.search.evaluators.base import Evaluator
from andasim.search.weights import AS_SHIPPED, WeightMode
from andasim.workload.precision import PrecisionProfile

# Linear-name suffix -> module type of the Anda search (LLaMA/Gemma/Qwen and OPT naming).
MODULE_OF_SUFFIX = {"q_proj": "qkv", "k_proj": "qkv", "v_proj": "qkv", "o_proj": "o", "out_proj": "o",
                    "gate_proj": "up", "up_proj": "up", "fc1": "up", "down_proj": "down", "fc2": "down"}
_LAYER_RE = re.compile(r"(?:^|\.)layers\.(\d+)\.")


def quantizable_linears(model: torch.nn.Module) -> list[tuple[str, int, str, torch.nn.Linear]]:
    """(name, layer, module type, Linear) of every FP-INT GeMM of the decoder layers."""
    found = []
    for name, mod in model.named_modules():
        if not isinstance(mod, torch.nn.Linear):
            continue
        layer = _LAYER_RE.search(name)
        if layer is None:
            continue  # lm_head, embeddings projections: not part of the search (anda.md §3.1)
        suffix = name.rsplit(".", 1)[-1]
        if suffix not in MODULE_OF_SUFFIX:
            raise AndasimInputError(f"model has an unknown Linear {name!r} inside a decoder layer; known: "
                                    f"{', '.join(sorted(MODULE_OF_SUFFIX))}")
        found.append((name, int(layer.group(1)), MODULE_OF_SUFFIX[suffix], mod))
    if not found:
        raise AndasimInputError("model has no q/k/v/o/up/down Linear layers under '.layers.N.'")
    return found


def requantize_weights(linears: list[tuple[str, int, str, torch.nn.Linear]], bits: int, group: int) -> None:
    """Replace each weight [out, in] by its INT`bits` g`group` dequantized value (groups along `in`)."""
    for _, _, _, mod in linears:
        w = mod.weight.detach().cpu().numpy().astype(np.float32)
        q, scale, zero = int_weights(w, bits=bits, group=group, axis=1, sym=False)
        deq = int_weights_dequantize(q, scale, zero, group=group, axis=1)
        with torch.no_grad():
            mod.weight.copy_(torch.from_numpy(deq))


class PerplexityEvaluator(Evaluator):
    """Calibration perplexity of an HF causal LM with Anda activations (weights per `weights`)."""

    metric_name = "ppl"

    def __init__(self, model: torch.nn.Module, calib: np.ndarray | torch.Tensor, *,
                 description: dict[str, Any], gs: int = 64, heldout: np.ndarray | torch.Tensor | None = None,
                 weights: str = AS_SHIPPED, shipped_format: str | None = None) -> None:
        self.model = model.eval()
        self.calib = torch.as_tensor(np.asarray(calib), dtype=torch.int64)
        self.heldout = None if heldout is None else torch.as_tensor(np.asarray(heldout), dtype=torch.int64)
        self.gs = gs
        self.weights = WeightMode.parse(weights)
        self.linears = quantizable_linears(model)
        if self.weights.bits is not None:
            requantize_weights(self.linears, self.weights.bits, self.weights.group)
        self._profile: PrecisionProfile | None = None
        self._last: tuple[torch.Tensor, int | None, torch.Tensor] | None = None
        self._reference: np.ndarray | None = None
        self._handles = [mod.register_forward_pre_hook(self._make_hook(layer, module))
                         for _, layer, module, mod in self.linears]
        digest = hashlib.sha256(self.calib.numpy().tobytes()).hexdigest()[:16]
        self._description = {"kind": "perplexity", "weights": self.weights.label(shipped_format),
                             "weights_mode": self.weights.name, "gs": gs,
                             "activation_reference": "FP16-rounded inputs of the quantized Linears",
                             "calib_shape": list(self.calib.shape), "calib_sha256_16": digest, **description}

    def _make_hook(self, layer: int, module: str):
        def hook(_mod: torch.nn.Module, args: tuple) -> tuple:
            x = args[0]
            bits = None if self._profile is None else self._profile.bits_for(module, layer)
            # q/k/v (and gate/up) receive the very same tensor: quantize it once.
            if self._last is not None and self._last[0] is x and self._last[1] == bits:
                return (self._last[2], *args[1:])
            y = fp16_round(x) if bits is None else anda_quantize_torch(x, bits, self.gs)
            self._last = (x, bits, y)
            return (y, *args[1:])
        return hook

    def describe(self) -> dict[str, Any]:
        return self._description

    @staticmethod
    def predicted_tokens(windows: torch.Tensor) -> int:
        """Tokens predicted per window (every position but the first)."""
        return int(windows.shape[1]) - 1

    def window_nll(self, windows: torch.Tensor, profile: Any) -> np.ndarray:
        """Per-window NLL sums (nats, float64) under `profile` (None = the FP16-activation baseline).

        `profile` needs only `bits_for(module, layer)`, returning None for a module left unquantized.
        """
        self._profile = profile
        label = "reference" if profile is None else ",".join(map(str, profile.as_list()))
        sums = np.empty(len(windows), dtype=np.float64)
        try:
            with torch.no_grad():
                for i, row in enumerate(tqdm(windows, desc=f"ppl {label}", unit="window", file=sys.stderr,
                                             leave=False, disable=None)):
                    ids = row[None]
                    logits = self.model(input_ids=ids, use_cache=False).logits[0, :-1].float()
                    sums[i] = float(torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum"))
        finally:
            self._profile, self._last = None, None
        if not np.all(np.isfinite(sums)):
            shown = None if profile is None else profile.as_list()
            raise AndasimInputError(f"perplexity is not finite for profile {shown}")
        return sums

    def perplexity(self, nll: np.ndarray, windows: torch.Tensor) -> float:
        """exp(Σ NLL / Σ predicted tokens)."""
        return math.exp(float(np.sum(nll)) / (len(nll) * self.predicted_tokens(windows)))

    def reference_detail(self) -> tuple[float, np.ndarray]:
        if self._reference is None:
            self._reference = self.window_nll(self.calib, None)
        return self.perplexity(self._reference, self.calib), self._reference

    def measure_detail(self, profile: Any) -> tuple[float, np.ndarray]:
        nll = self.window_nll(self.calib, profile)
        return self.perplexity(nll, self.calib), nll

    @property
    def tokens_per_window(self) -> int:
        return self.predicted_tokens(self.calib)

    def reference_metric(self) -> float:
        return self.reference_detail()[0]

    def measure(self, profile: PrecisionProfile) -> float:
        return self.measure_detail(profile)[0]

    def heldout_detail(self, profile: PrecisionProfile | None) -> tuple[float, np.ndarray]:
        """Held-out (perplexity, per-window NLL) (None = the FP16-activation baseline)."""
        if self.heldout is None:
            raise AndasimInputError("no held-out windows were given to this evaluator")
        nll = self.window_nll(self.heldout, profile)
        return self.perplexity(nll, self.heldout), nll

    def heldout_perplexity(self, profile: PrecisionProfile | None) -> float:
        return self.heldout_detail(profile)[0]

    @property
    def heldout_tokens_per_window(self) -> int:
        return self.predicted_tokens(self.heldout)


def from_model_name(model: str, *, calib_seqs: int = 8, seq_len: int = 512, eval_seqs: int = 64,
                    corpus: str = "wiki", gs: int = 64, weights: str = AS_SHIPPED, bos: bool = False,
                    ) -> PerplexityEvaluator:
    """Load a causal LM offline (`workload.hf_models`) and its calib:N / heldout:N windows."""
    for name, value in (("calib_seqs", calib_seqs), ("eval_seqs", eval_seqs), ("seq_len", seq_len)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (2 if name == "seq_len" else 1):
            raise AndasimInputError(f"{name} must be a positive integer, got {value!r}")
    WeightMode.parse(weights)
    from andasim.search.windows import WindowSpec, select_windows
    from andasim.workload.corpus import corpus_info
    from andasim.workload.hf_models import load_causal_lm

    lm, tokenizer, info = load_causal_lm(model)
    calib, calib_record = select_windows(tokenizer, corpus, WindowSpec("calib", calib_seqs), seq_len, bos)
    heldout, _ = select_windows(tokenizer, corpus, WindowSpec("heldout", eval_seqs), seq_len, bos)
    meta = {k: v for k, v in info.items() if isinstance(v, str | int | float | bool)}
    description = {"model": model, "model_info": meta, "corpus": corpus_info(corpus), "seq_len": seq_len,
                   "calib_seqs": calib_seqs, "protocol": calib_record}
    return PerplexityEvaluator(lm, calib, description=description, gs=gs, heldout=heldout, weights=weights,
                               shipped_format=info.get("weight_format"))
