"""Record a trace from a real causal LM: FP16 inputs of each layer's qkv, o, up and down GeMMs.

Procedure (documented in docs/workload.md):
1. Tokenize the calibration part of the corpus without special tokens and keep its first N
   tokens (a character prefix is tokenized with a margin of >= 64 tokens past N, so the first N
   tokens are those of the full text).
2. Cut them into windows of `window - 1` text tokens, each preceded by the tokenizer's BOS token
   when it has one (else windows of `window` text tokens), and run each window through the model
   (fp32, no grad) with forward hooks on the nn.Linear modules that consume each GeMM's input:
   q_proj -> qkv, o_proj/out_proj -> o, gate_proj (or fc1) -> up, down_proj (or fc2) -> down.
3. Keep the inputs of `sample_tokens` text-token positions drawn without replacement from
   0..N-1 by `numpy.random.default_rng(seed)` (the same positions for every layer and module;
   BOS positions are never sampled), cast to float16 by torch (round to nearest even).
4. Sample `weight_columns` output columns of each module's weight matrix (Q|K|V and gate|up
   concatenated) with `numpy.random.default_rng([seed, layer, module index])` and store them as
   float32 [k, n_sampled], with the bias when the module has one.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from andasim import __version__
from andasim.errors import AndasimInputError
from andasim.workload.card import ModelCard, bundled_card_names, load_card
from andasim.workload.corpus import corpus_info, load_text
from andasim.workload.gemm import FP_INT_MODULES
from andasim.workload.hf_models import SHORT_NAMES, card_from_config, load_causal_lm, require_torch
from andasim.workload.trace import Trace, WeightSample, save_trace

_SHAPE_FIELDS = ("n_layers", "hidden", "ffn", "gated", "n_heads", "n_kv_heads", "head_dim", "vocab")
_TOKEN_MARGIN = 64


def decoder_layers(model: Any) -> list[Any]:
    """The decoder blocks of a HF causal LM (LLaMA/Qwen2/Gemma: model.layers; OPT: model.decoder.layers)."""
    inner = getattr(model, "model", model)
    if hasattr(inner, "layers"):
        return list(inner.layers)
    if hasattr(inner, "decoder") and hasattr(inner.decoder, "layers"):
        return list(inner.decoder.layers)
    raise AndasimInputError(f"model class {type(model).__name__}: cannot find its decoder layers")


def module_linears(layer: Any) -> dict[str, list[Any]]:
    """The nn.Linear modules of each GeMM of a block, in the order their outputs are concatenated.

    The first Linear of each list is the one whose input the recorder captures.
    """
    attn = layer.self_attn
    qkv = [attn.q_proj, attn.k_proj, attn.v_proj]
    if hasattr(layer, "mlp"):
        mlp = layer.mlp
        up = [mlp.gate_proj, mlp.up_proj] if hasattr(mlp, "gate_proj") else [mlp.up_proj]
        return {"qkv": qkv, "o": [attn.o_proj], "up": up, "down": [mlp.down_proj]}
    return {"qkv": qkv, "o": [attn.out_proj], "up": [layer.fc1], "down": [layer.fc2]}  # OPT


def parse_layers(spec: str, n_layers: int) -> list[int]:
    """`all` or a comma list like `0,5,10` -> sorted distinct layer indices within the model."""
    if spec == "all":
        return list(range(n_layers))
    try:
        layers = sorted({int(part) for part in spec.split(",") if part.strip()})
    except ValueError:
        raise AndasimInputError(f"--layers {spec!r}: expected 'all' or comma-separated integers") from None
    if not layers or layers[0] < 0 or layers[-1] >= n_layers:
        raise AndasimInputError(f"--layers {spec!r}: layers must be in 0..{n_layers - 1}")
    return layers


def text_tokens(tokenizer: Any, text: str, n_tokens: int) -> np.ndarray:
    """The first `n_tokens` token ids of `text` (no special tokens), see step 1 of the module doc."""
    chars = max(4096, 8 * n_tokens)
    while True:
        ids = tokenizer(text[:chars], add_special_tokens=False)["input_ids"]
        if len(ids) >= n_tokens + _TOKEN_MARGIN:
            return np.asarray(ids[:n_tokens], dtype=np.int64)
        if chars >= len(text):
            raise AndasimInputError(f"--tokens {n_tokens}: the corpus part has only {len(ids)} tokens "
                                    f"(need {n_tokens} plus a margin of {_TOKEN_MARGIN})")
        chars *= 2


def windows(ids: np.ndarray, window: int, bos: int | None) -> list[np.ndarray]:
    """Model inputs: `ids` cut into windows, each prefixed with `bos` when given."""
    step = window - 1 if bos is not None else window
    out = []
    for start in range(0, ids.size, step):
        chunk = ids[start:start + step]
        out.append(np.concatenate([[bos], chunk]) if bos is not None else chunk)
    return out


def sample_positions(n_tokens: int, sample_tokens: int, seed: int) -> np.ndarray:
    """Sorted text-token indices whose activations are stored (all of them if sample >= n)."""
    if sample_tokens >= n_tokens:
        return np.arange(n_tokens)
    return np.sort(np.random.default_rng(seed).choice(n_tokens, size=sample_tokens, replace=False))


def _resolve_card(name: str, model: Any, info: dict[str, Any]) -> ModelCard:
    source = f"config of the loaded model {info['model_id']} ({info['hf_class']})"
    from_config = card_from_config(model.config, name=name, source=source)
    if name in SHORT_NAMES and name in bundled_card_names():
        bundled = load_card(name)
        diff = [f for f in _SHAPE_FIELDS if getattr(bundled, f) != getattr(from_config, f)]
        if diff:
            raise AndasimInputError(f"model {name}: loaded config differs from the bundled card in "
                                    f"{', '.join(diff)}")
        return bundled
    return from_config


def record_trace(model_name: str, *, out: Path | str, corpus: str = "wiki", tokens: int = 2048,
                 layers: str = "all", sample_tokens: int = 128, weight_columns: int = 64, seed: int = 0,
                 window: int = 512, command: str | None = None, trace_id: str | None = None,
                 progress: bool = True, loaded: tuple[Any, Any, dict[str, Any]] | None = None) -> Trace:
    """Run `tokens` tokens of the corpus's calibration part through the model and write a trace.

    `loaded` lets a caller pass an already loaded (model, tokenizer, info) triple.
    """
    for name, value, low in (("tokens", tokens, 1), ("sample_tokens", sample_tokens, 1),
                             ("weight_columns", weight_columns, 0), ("window", window, 2)):
        if value < low:
            raise AndasimInputError(f"--{name.replace('_', '-')} must be >= {low}, got {value}")
    torch = require_torch()
    from tqdm import tqdm

    model, tokenizer, info = loaded if loaded is not None else load_causal_lm(model_name)
    card = _resolve_card(model_name if model_name in SHORT_NAMES else Path(model_name).stem, model, info)
    blocks = decoder_layers(model)
    chosen = parse_layers(layers, len(blocks))
    ids = text_tokens(tokenizer, load_text(corpus, "calib"), tokens)
    bos = tokenizer.bos_token_id
    inputs = windows(ids, window, bos)
    positions = sample_positions(tokens, sample_tokens, seed)
    step = window - 1 if bos is not None else window
    offset = 1 if bos is not None else 0

    captured: dict[tuple[int, str], list[np.ndarray]] = {(la, m): [] for la in chosen for m in FP_INT_MODULES}
    current_rows: list[Any] = [None]

    def hook_for(key: tuple[int, str]) -> Callable[..., None]:
        def hook(_module: Any, args: tuple[Any, ...], _output: Any) -> None:
            if current_rows[0] is not None and len(current_rows[0]):
                captured[key].append(args[0][0, current_rows[0]].to(torch.float16).numpy())
        return hook

    handles = []
    for layer in chosen:
        for module, linears in module_linears(blocks[layer]).items():
            handles.append(linears[0].register_forward_hook(hook_for((layer, module))))
    try:
        with torch.no_grad():
            for w, window_ids in enumerate(tqdm(inputs, desc=f"record {model_name}", unit="window",
                                                disable=not progress)):
                local = positions[(positions >= w * step) & (positions < (w + 1) * step)] - w * step + offset
                current_rows[0] = torch.as_tensor(local, dtype=torch.long)
                model(torch.as_tensor(window_ids, dtype=torch.long)[None])
    finally:
        for handle in handles:
            handle.remove()

    activations = {key: np.ascontiguousarray(np.concatenate(chunks)) for key, chunks in captured.items()}
    weights = _sample_weights(blocks, chosen, card, weight_columns, seed) if weight_columns else {}
    provenance = _provenance(model_name, info, corpus, tokens, sample_tokens, weight_columns, seed, window,
                             bos, ids, positions, chosen, command)
    caveat = "; weights carry GGUF quantization noise" if "GGUF" in info["weight_format"] else ""
    label = (f"real recorded activations of {info['model_id']} ({len(positions)} of {tokens} tokens of "
             f"the '{corpus}' calibration text, layers {_layer_text(chosen, len(blocks))}); weights: "
             f"{info['weight_format']}{caveat}")
    trace = Trace(trace_id=trace_id or Path(out).name.removesuffix(".npz"), card=card, provenance=provenance,
                  label=label, activations=activations, weights=weights)
    save_trace(trace, out)
    return trace


def _layer_text(chosen: Sequence[int], n_layers: int) -> str:
    return "all" if list(chosen) == list(range(n_layers)) else ",".join(map(str, chosen))


def _sample_weights(blocks: list[Any], chosen: list[int], card: ModelCard, n_columns: int,
                    seed: int) -> dict[tuple[int, str], WeightSample]:
    import torch

    out = {}
    for layer in chosen:
        for index, (module, linears) in enumerate(module_linears(blocks[layer]).items()):
            with torch.no_grad():
                full = torch.cat([lin.weight for lin in linears], dim=0)  # [n_out, k]
                biases = [lin.bias if lin.bias is not None else torch.zeros(lin.out_features)
                          for lin in linears]
                has_bias = any(lin.bias is not None for lin in linears)
            n_out = full.shape[0]
            if n_out != card.module_out_features(module) or full.shape[1] != card.module_in_features(module):
                raise AndasimInputError(f"L{layer}.{module}: weight shape {tuple(full.shape)} does not match "
                                        f"the card {card.name}")
            cols = np.sort(np.random.default_rng([seed, layer, index]).choice(
                n_out, size=min(n_columns, n_out), replace=False)).astype(np.int64)
            idx = torch.as_tensor(cols)
            values = np.ascontiguousarray(full[idx].T.detach().to(torch.float32).numpy())
            # detach: outside no_grad, a real model's bias Parameters carry requires_grad (Qwen2 QKV bias)
            bias = torch.cat(biases)[idx].detach().to(torch.float32).numpy() if has_bias else None
            out[(layer, module)] = WeightSample(cols, values, bias)
    return out


def _provenance(model_name: str, info: dict[str, Any], corpus: str, tokens: int, sample_tokens: int,
                weight_columns: int, seed: int, window: int, bos: int | None, ids: np.ndarray,
                positions: np.ndarray, chosen: list[int], command: str | None) -> dict[str, Any]:
    return {
        "kind": "recorded",
        "model": model_name,
        **{k: info.get(k) for k in ("model_id", "package", "package_version", "weight_format", "license",
                                    "file", "file_sha256", "hf_class", "torch_version",
                                    "transformers_version")},
        "dtype": "float32 forward; activations stored as float16 (torch round-to-nearest-even)",
        "corpus": {**corpus_info(corpus), "split_used": "calib"},
        "tokens": tokens,
        "token_ids_sha256": hashlib.sha256(ids.astype("<i8").tobytes()).hexdigest(),
        "window": window,
        "bos_token_id": bos,
        "sampling": {"method": "numpy.random.default_rng(seed).choice(tokens, sample_tokens, replace=False), "
                               "sorted; BOS positions excluded",
                     "seed": seed, "sample_tokens": int(positions.size),
                     "positions": [int(p) for p in positions]},
        "layers": chosen,
        "weight_columns": weight_columns,
        "weight_sampling": "numpy.random.default_rng([seed, layer, module index]).choice(n_out, "
                           "weight_columns, replace=False), sorted; module index qkv=0 o=1 up=2 down=3",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        "andasim_version": __version__,
        "command": command or f"record_trace({model_name!r}, tokens={tokens}, sample_tokens={sample_tokens}, "
                              f"weight_columns={weight_columns}, seed={seed}, layers={chosen})",
    }
