"""Perplexity evaluator: a real causal LM with Anda fake-quantized GeMM inputs (needs the models extra).

Setup, following anda.md §3.2 with the substitutions this machine allows (documented in docs/search.md):
- weights of every q/k/v/o/gate/up/down (OPT: q/k/v/out_proj, fc1, fc2) Linear are quantized ONCE to
  INT4, group 128 along the input features, asymmetric, round-to-nearest (`formats.int_weights`):
  the stand-in for the paper's OmniQuant W4A16g128; lm_head and embeddings stay as loaded;
- reference (`fp_acc`): those INT4 weights with FP16 activations (each quantized Linear's input
  rounded to FP16);
- candidate: the input of each Linear truncated to Anda with the width of its module type
  (q/k/v share M_qkv, gate/up share M_u, then M_o and M_d), groups of 64 along the input features;
- metric: perplexity on windows of `seq_len` tokens (BOS + seq_len − 1 text tokens, stride
  seq_len − 1; models_and_corpora.md §2) from the calibration split; the held-out split is used
  only for the final report (`heldout_perplexity`).
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
from andasim.workload.precision import PrecisionProfile

# Linear-name suffix -> module type of the Anda search (LLaMA/Gemma/Qwen and OPT naming).
MODULE_OF_SUFFIX = {"q_proj": "qkv", "k_proj": "qkv", "v_proj": "qkv", "o_proj": "o", "out_proj": "o",
                    "gate_proj": "up", "up_proj": "up", "fc1": "up", "down_proj": "down", "fc2": "down"}
_LAYER_RE = re.compile(r"(?:^|\.)layers\.(\d+)\.")
WEIGHT_BITS, WEIGHT_GROUP = 4, 128
WEIGHT_LABEL = ("INT4 g128 asymmetric round-to-nearest (stand-in for the paper's OmniQuant W4A16g128)")


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


def quantize_weights_int4(linears: list[tuple[str, int, str, torch.nn.Linear]]) -> None:
    """Replace each weight [out, in] by its INT4 g128 dequantized value (groups along `in`)."""
    for _, _, _, mod in linears:
        w = mod.weight.detach().cpu().numpy().astype(np.float32)
        q, scale, zero = int_weights(w, bits=WEIGHT_BITS, group=WEIGHT_GROUP, axis=1, sym=False)
        deq = int_weights_dequantize(q, scale, zero, group=WEIGHT_GROUP, axis=1)
        with torch.no_grad():
            mod.weight.copy_(torch.from_numpy(deq))


def text_windows(ids: list[int] | np.ndarray, seq_len: int, n: int, bos: int | None,
                 where: str) -> torch.Tensor:
    """The first `n` windows of `seq_len` tokens: [BOS] + seq_len − 1 text tokens, stride seq_len − 1."""
    if seq_len < 2:
        raise AndasimInputError(f"seq_len must be at least 2, got {seq_len}")
    body = seq_len - 1 if bos is not None else seq_len
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) < n * body:
        raise AndasimInputError(f"{where}: {len(ids)} tokens hold only {len(ids) // body} windows of "
                                f"{seq_len}; asked for {n}")
    rows = ids[: n * body].reshape(n, body)
    if bos is not None:
        rows = np.concatenate([np.full((n, 1), bos, dtype=np.int64), rows], axis=1)
    return torch.from_numpy(rows)


class PerplexityEvaluator(Evaluator):
    """Calibration perplexity of an HF causal LM with INT4 weights and Anda activations."""

    metric_name = "ppl"

    def __init__(self, model: torch.nn.Module, calib: torch.Tensor, *, description: dict[str, Any],
                 gs: int = 64, heldout: torch.Tensor | None = None, threads: int | None = 1) -> None:
        if threads is not None:
            torch.set_num_threads(threads)
        self.model = model.eval()
        self.calib = calib
        self.heldout = heldout
        self.gs = gs
        self.linears = quantizable_linears(model)
        quantize_weights_int4(self.linears)
        self._profile: PrecisionProfile | None = None
        self._last: tuple[torch.Tensor, int | None, torch.Tensor] | None = None
        self._handles = [mod.register_forward_pre_hook(self._make_hook(layer, module))
                         for _, layer, module, mod in self.linears]
        digest = hashlib.sha256(calib.numpy().tobytes()).hexdigest()[:16]
        self._description = {"kind": "perplexity", "weights": WEIGHT_LABEL, "gs": gs,
                             "activation_reference": "FP16-rounded inputs of the quantized Linears",
                             "calib_shape": list(calib.shape), "calib_sha256_16": digest, **description}

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

    def _perplexity(self, windows: torch.Tensor, profile: PrecisionProfile | None) -> float:
        self._profile = profile
        label = "reference" if profile is None else ",".join(map(str, profile.as_list()))
        nll, count = 0.0, 0
        try:
            with torch.no_grad():
                for row in tqdm(windows, desc=f"ppl {label}", unit="window", file=sys.stderr, leave=False,
                                disable=None):
                    ids = row[None]
                    logits = self.model(input_ids=ids, use_cache=False).logits[0, :-1].float()
                    nll += float(torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum"))
                    count += ids.shape[1] - 1
        finally:
            self._profile, self._last = None, None
        ppl = math.exp(nll / count)
        if not math.isfinite(ppl):
            raise AndasimInputError(f"perplexity is not finite ({ppl}) for profile "
                                    f"{None if profile is None else profile.as_list()}")
        return ppl

    def reference_metric(self) -> float:
        return self._perplexity(self.calib, None)

    def measure(self, profile: PrecisionProfile) -> float:
        return self._perplexity(self.calib, profile)

    def heldout_perplexity(self, profile: PrecisionProfile | None) -> float:
        """Perplexity on the held-out windows (None = the INT4-weight, FP16-activation reference)."""
        if self.heldout is None:
            raise AndasimInputError("no held-out windows were given to this evaluator")
        return self._perplexity(self.heldout, profile)


def from_model_name(model: str, *, calib_seqs: int = 8, seq_len: int = 512, eval_seqs: int = 16,
                    corpus: str = "wiki", gs: int = 64, threads: int | None = 1) -> PerplexityEvaluator:
    """Load a causal LM offline (`workload.hf_models`) and the corpus splits (`workload.corpus`)."""
    for name, value in (("calib_seqs", calib_seqs), ("eval_seqs", eval_seqs), ("seq_len", seq_len)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (2 if name == "seq_len" else 1):
            raise AndasimInputError(f"{name} must be a positive integer, got {value!r}")
    from andasim.workload.corpus import corpus_info, load_text
    from andasim.workload.hf_models import load_causal_lm

    if threads is not None:
        torch.set_num_threads(threads)
    lm, tokenizer, info = load_causal_lm(model)
    bos = tokenizer.bos_token_id

    def windows(split: str, n: int) -> torch.Tensor:
        text = load_text(corpus, split=split)
        # Tokenize only the prefix needed (about 4 characters per token, with a 2x margin).
        need = n * seq_len * 8
        ids = tokenizer(text[:need], add_special_tokens=False).input_ids
        return text_windows(ids, seq_len, n, bos, f"corpus {corpus!r} split {split!r}")

    calib = windows("calib", calib_seqs)
    heldout = windows("eval", eval_seqs)
    meta = {k: v for k, v in info.items() if isinstance(v, str | int | float | bool)}
    description = {"model": model, "model_info": meta, "corpus": corpus_info(corpus), "split": "calib",
                   "seq_len": seq_len, "calib_seqs": calib_seqs, "windows": "first N, BOS + seq_len-1 tokens"}
    return PerplexityEvaluator(lm, calib, description=description, gs=gs, heldout=heldout, threads=threads)
