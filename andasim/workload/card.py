"""`ModelCard`: a decoder-only LLM reduced to the public numbers that fix its GeMM shapes.

A card is what the simulator needs of a model when it has no activations: layers, widths,
heads, FFN type and vocabulary. It expands into the list of GeMMs of one inference phase
(`gemms`), counts its parameters (checked against published counts in the tests) and gives the
per-module MAC shares that the Anda BOPs metric uses (anda.md §3.4).

Conventions (documented in docs/workload.md):
- `qkv` is one GeMM of n = (n_heads + 2 * n_kv_heads) * head_dim (Q, K and V share the input).
- `up` is one GeMM of n = 2 * ffn when the FFN is gated (gate and up share the input), else ffn.
- Prefill attention computes the full causal score matrix per head (m = L, n = kv length), as
  an eager implementation does; layers with a sliding window use n = min(kv length, window).
- Decode attention is one query row per (sequence, query head): m = 1, count = batch * n_heads.
- `lm_head` in prefill computes logits for all L positions (as a perplexity evaluation and the
  Hugging Face forward do) unless `lm_head_all_tokens=False`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from andasim.errors import ConfigError
from andasim.strict_yaml import Field, Schema, check_schema, load_strict_yaml
from andasim.workload.gemm import FP_INT_MODULES, MODULE_TYPES, GeMM

PHASES = ("prefill", "decode")


@dataclass(frozen=True)
class ModelCard:
    """Public configuration of a decoder-only transformer, with its provenance in `source`.

    `linear_bias` marks models whose every projection has a bias (OPT); `qkv_bias` marks bias on
    Q/K/V only (Qwen2). `learned_positions` is the size of a learned position table (OPT: 2050),
    0 for rotary models. `norms_per_layer` counts the normalisation layers of one block (2 for
    pre-norm LLaMA/OPT, 4 for Gemma-2/3); `qk_norm` adds Gemma-3's per-head Q/K RMSNorms.
    `sliding_window`/`global_every`: local attention layers attend to at most `sliding_window`
    keys; layer i is global when (i + 1) % global_every == 0 (Gemma-2: 2, Gemma-3: 6).
    """

    name: str
    family: str
    n_layers: int
    hidden: int
    ffn: int
    gated: bool
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool
    qkv_bias: bool
    source: str
    activation: str = "silu"
    linear_bias: bool = False
    learned_positions: int = 0
    norm: str = "rmsnorm"
    norms_per_layer: int = 2
    qk_norm: bool = False
    sliding_window: int | None = None
    global_every: int = 1

    def __post_init__(self) -> None:
        for name in ("n_layers", "hidden", "ffn", "n_heads", "n_kv_heads", "head_dim", "vocab",
                     "norms_per_layer", "global_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"card {self.name!r}: {name} must be a positive integer, got {value!r}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"card {self.name!r}: n_heads {self.n_heads} is not a multiple of "
                             f"n_kv_heads {self.n_kv_heads}")
        if self.norm not in ("rmsnorm", "layernorm"):
            raise ValueError(f"card {self.name!r}: norm must be rmsnorm or layernorm, got {self.norm!r}")
        if self.sliding_window is not None and self.sliding_window <= 0:
            raise ValueError(f"card {self.name!r}: sliding_window must be > 0 or null")

    # --- derived sizes ------------------------------------------------------------------------

    @property
    def q_dim(self) -> int:
        """Width of the concatenated query heads (the input size of `o`)."""
        return self.n_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.n_kv_heads * self.head_dim

    def module_in_features(self, module: str) -> int:
        """k of an FP-INT module: the width of the activation it consumes."""
        return {"qkv": self.hidden, "o": self.q_dim, "up": self.hidden, "down": self.ffn,
                "lm_head": self.hidden}[module]

    def module_out_features(self, module: str) -> int:
        """n of an FP-INT module (qkv: Q|K|V concatenated; up: gate|up when gated)."""
        return {"qkv": self.q_dim + 2 * self.kv_dim, "o": self.hidden,
                "up": (2 if self.gated else 1) * self.ffn, "down": self.hidden,
                "lm_head": self.vocab}[module]

    def is_global_layer(self, layer: int) -> bool:
        return self.sliding_window is None or (layer + 1) % self.global_every == 0

    # --- GeMM expansion -----------------------------------------------------------------------

    def gemms(self, phase: str = "prefill", seq_len: int = 2048, batch: int = 1,
              kv_len: int | None = None, modules: tuple[str, ...] | list[str] = FP_INT_MODULES,
              lm_head_all_tokens: bool = True) -> list[GeMM]:
        """The GeMMs of one forward pass, in execution order, restricted to `modules`.

        prefill: L = `seq_len` new tokens of each of `batch` sequences (m = batch * L), attending
        to `kv_len` keys (default L; a larger kv_len models a prefix already in the cache).
        decode: one new token per sequence (m = batch) attending to `kv_len` keys (default
        `seq_len`), the new token included.
        """
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {', '.join(PHASES)}, got {phase!r}")
        unknown = [m for m in modules if m not in MODULE_TYPES]
        if unknown:
            raise ValueError(f"unknown module {unknown[0]!r}; valid: {', '.join(MODULE_TYPES)}")
        for name, value in (("seq_len", seq_len), ("batch", batch)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if kv_len is None:
            kv_len = seq_len
        if isinstance(kv_len, bool) or not isinstance(kv_len, int) or kv_len <= 0:
            raise ValueError(f"kv_len must be a positive integer, got {kv_len!r}")
        if phase == "prefill" and kv_len < seq_len:
            raise ValueError(f"prefill kv_len ({kv_len}) must be >= seq_len ({seq_len})")
        wanted = set(modules)
        rows = batch * seq_len if phase == "prefill" else batch
        q_rows = seq_len if phase == "prefill" else 1
        out: list[GeMM] = []
        for layer in range(self.n_layers):
            keys = kv_len if self.is_global_layer(layer) else min(kv_len, self.sliding_window or kv_len)
            for module in ("qkv", "qk", "pv", "o", "up", "down"):
                if module not in wanted:
                    continue
                name = f"L{layer}.{module}"
                if module == "qk":
                    out.append(GeMM(name, module, layer, q_rows, self.head_dim, keys,
                                    batch * self.n_heads, "activation"))
                elif module == "pv":
                    out.append(GeMM(name, module, layer, q_rows, keys, self.head_dim,
                                    batch * self.n_heads, "activation"))
                else:
                    out.append(GeMM(name, module, layer, rows, self.module_in_features(module),
                                    self.module_out_features(module)))
        if "lm_head" in wanted:
            head_rows = rows if (phase == "decode" or lm_head_all_tokens) else batch
            out.append(GeMM("lm_head", "lm_head", -1, head_rows, self.hidden, self.vocab))
        return out

    def mac_share(self) -> dict[str, float]:
        """Share of each FP-INT module in the prefill MACs (lm_head and attention excluded).

        Independent of the sequence length; this is `f_m` of the Anda BOPs metric (anda.md §3.4).
        """
        macs = {m: self.module_in_features(m) * self.module_out_features(m) for m in FP_INT_MODULES}
        total = sum(macs.values())
        return {m: macs[m] / total for m in FP_INT_MODULES}

    def param_count(self) -> int:
        """Parameters of the model, embeddings (and an untied lm_head) included."""
        d = self.hidden
        linear_w = sum(self.module_in_features(m) * self.module_out_features(m) for m in FP_INT_MODULES)
        bias = 0
        if self.linear_bias:
            bias = sum(self.module_out_features(m) for m in FP_INT_MODULES)
        elif self.qkv_bias:
            bias = self.module_out_features("qkv")
        norm_size = d * (2 if self.norm == "layernorm" else 1)
        per_layer = linear_w + bias + self.norms_per_layer * norm_size
        if self.qk_norm:
            per_layer += 2 * self.head_dim
        embed = self.vocab * d * (1 if self.tied_embeddings else 2) + self.learned_positions * d
        return self.n_layers * per_layer + embed + norm_size

    # --- serialisation ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, file: str = "<card>") -> ModelCard:
        """Build from a mapping (a card YAML or a trace header), refusing unknown or missing keys."""
        check_schema(data, CARD_SCHEMA, file=file)
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data and data[f.name] is not None}
        try:
            return cls(**values)
        except ValueError as exc:
            raise ConfigError(str(exc), file=file) from None


def _optional(kind: str, **kw: Any) -> Field:
    return Field(kind, required=False, **kw)


# Plausible ranges, each several times the largest published model (Llama-3.1-405B: 126 layers,
# hidden 16384, FFN 53248, 128 heads; Gemma: vocab 262144; head_dim 256). A card beyond them is
# almost certainly a typo, and its GeMMs would run for hours; widen a bound here if a real model
# needs it.
CARD_SCHEMA = Schema({
    "name": Field("str"), "family": Field("str"),
    "n_layers": Field("int", min=1, max=1024, unit="layers"),
    "hidden": Field("int", min=1, max=131_072, unit="features"),
    "ffn": Field("int", min=1, max=524_288, unit="features", doc="FFN intermediate width"),
    "gated": Field("bool"),
    "n_heads": Field("int", min=1, max=1024, unit="heads"),
    "n_kv_heads": Field("int", min=1, max=1024, unit="heads", doc="divides n_heads"),
    "head_dim": Field("int", min=1, max=1024, unit="features"),
    "vocab": Field("int", min=1, max=4_194_304, unit="tokens"),
    "tied_embeddings": Field("bool"), "qkv_bias": Field("bool"), "source": Field("str"),
    "activation": _optional("enum", choices=("relu", "silu", "gelu", "gelu_tanh")),
    "linear_bias": _optional("bool"),
    "learned_positions": _optional("int", min=0, max=1 << 20, unit="positions"),
    "norm": _optional("enum", choices=("rmsnorm", "layernorm")),
    "norms_per_layer": _optional("int", min=1, max=16), "qk_norm": _optional("bool"),
    "sliding_window": _optional("int", min=1, max=1 << 24, unit="tokens"),
    "global_every": _optional("int", min=1, max=1024, unit="layers"),
})


def _cards_dir():
    return resources.files("andasim.workload.cards")


def bundled_card_names() -> list[str]:
    """Names accepted by `load_card` besides a path, e.g. `llama-7b`, `smollm2-135m`."""
    return sorted(p.name[: -len(".yaml")] for p in _cards_dir().iterdir() if p.name.endswith(".yaml"))


def load_card(name_or_path: str | Path) -> ModelCard:
    """A bundled card by name, or a card YAML file by path."""
    text_name = str(name_or_path)
    if text_name in bundled_card_names():
        resource = _cards_dir().joinpath(f"{text_name}.yaml")
        data = load_strict_yaml(f"<bundled card {text_name}>", text=resource.read_text(encoding="utf-8"))
        return ModelCard.from_dict(data, file=f"<bundled card {text_name}>")
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"no such card file or bundled card; bundled: {', '.join(bundled_card_names())}",
                          file=text_name)
    return ModelCard.from_dict(load_strict_yaml(path), file=str(path))
