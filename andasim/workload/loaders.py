"""`load_workload`: whatever a user passes as `--trace`/`--model`, as a typed workload.

Accepted, in this order:

1. a bundled trace in either spelling (`llama7b` or `llama-7b`, `opt6.7b` or `opt-6.7b`);
2. a bundled model card name in either spelling (`opt-175b`, `gemma2-27b`): a shape-only trace;
3. an existing file, read by the reader registered for its suffix: `.npz` (andasim trace), `.yaml`/`.yml`
   (model card), `.json` (a Hugging Face `config.json`, read offline), `.csv` (a GeMM list, or a
   SCALE-Sim topology when its header is one: `andasim.workload.scalesim_topology`).

Cards, `config.json` files and GeMM lists carry no activations and no precision profiles; the
workload says so in its label. Other readers (e.g. SCALE-Sim topology CSVs) register with
`register_reader(suffix, reader, sniff=...)`: a reader with a `sniff` predicate is tried first for
its suffix and claims only the files whose text it recognises.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from andasim.errors import ConfigError, TraceError
from andasim.safe_read import MIB, read_text_file, regular_file_size
from andasim.suggest import did_you_mean, name_key
from andasim.workload.card import ModelCard, bundled_card_names, load_card
from andasim.workload.gemm_list import GemmListWorkload, load_gemm_list
from andasim.workload.scalesim_topology import Topology, looks_like_topology, read_topology
from andasim.workload.trace import Trace, bundled_trace_names, load_trace

Workload = Trace | GemmListWorkload | Topology
Reader = Callable[[Path], Any]

_READERS: dict[str, list[tuple[Callable[[Path], bool] | None, Reader]]] = {}


def register_reader(suffix: str, reader: Reader, sniff: Callable[[Path], bool] | None = None) -> None:
    """Register `reader(path) -> workload` for files ending in `suffix` (e.g. `.csv`).

    Readers with a `sniff(path) -> bool` go before the plain reader of the same suffix.
    """
    entries = _READERS.setdefault(suffix.lower(), [])
    entries.insert(0 if sniff is not None else len(entries), (sniff, reader))


def shape_only_trace(card: ModelCard, origin: str) -> Trace:
    """A trace holding only `card`: shapes, no activations, no precision profiles."""
    return Trace(trace_id=card.name, card=card, label=f"shape-only: {origin} (no activations, no profiles)",
                 provenance={"kind": "shape-only", "model": card.name, "card_source": card.source,
                             "origin": origin, "activations": "none (shape-only trace)"})


def _card_yaml(path: Path) -> Trace:
    return shape_only_trace(load_card(path), f"model card {path}")


def _hf_config(path: Path) -> Trace:
    """A Hugging Face `config.json` (no download, no transformers needed) as a shape-only trace."""
    from andasim.workload.hf_models import card_from_config

    file = str(path)
    try:
        data = json.loads(read_text_file(path, max_bytes=MIB, what="Hugging Face config.json"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ConfigError(f"not a readable JSON file: {str(exc)[:80]}", file=file) from None
    if not isinstance(data, dict):
        raise ConfigError("a Hugging Face config.json must hold a JSON object", file=file)

    def namespace(obj: dict[str, Any]) -> SimpleNamespace:
        return SimpleNamespace(**{k: namespace(v) if isinstance(v, dict) else v for k, v in obj.items()})

    config = namespace(data)
    name = path.parent.name if path.name == "config.json" and path.parent.name else path.stem
    try:
        card = card_from_config(config, name=name, source=f"Hugging Face config {file} "
                                f"(model_type {data.get('model_type', 'unknown')!r})")
    except AttributeError as exc:
        missing = str(exc).rsplit("'", 2)[-2] if "'" in str(exc) else str(exc)
        raise ConfigError("missing the key a decoder-only LM config needs (LLaMA, Mistral, Qwen2, "
                          "Gemma-2/3, OPT layouts)", file=file, key=missing) from None
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise ConfigError(f"not a usable decoder-only LM config: {exc}", file=file) from None
    return shape_only_trace(card, f"Hugging Face config {file}")


register_reader(".npz", load_trace)
register_reader(".yaml", _card_yaml)
register_reader(".yml", _card_yaml)
register_reader(".json", _hf_config)
register_reader(".csv", load_gemm_list)
register_reader(".csv", read_topology, sniff=looks_like_topology)  # SCALE-Sim topologies, by their header


def workload_names() -> list[str]:
    """One canonical name per bundled model: the model card's spelling (`llama-7b`), plus the traces
    that are not a plain model (`smollm2-135m-tp`). The trace-file spelling (`llama7b`) is accepted too."""
    cards = bundled_card_names()
    card_keys = {name_key(c) for c in cards}
    return sorted({*cards, *(t for t in bundled_trace_names() if name_key(t) not in card_keys)})


def canonical_name(text: str) -> str | None:
    """The canonical bundled name that `text` spells in any way (`LLaMA7B` -> `llama-7b`), or None."""
    key = name_key(text)
    return next((name for name in workload_names() if name_key(name) == key), None)


def _bundled_trace(canonical: str) -> str | None:
    key = name_key(canonical)
    return next((name for name in bundled_trace_names() if name_key(name) == key), None)


def bundled_listing() -> list[dict[str, Any]]:
    """Each bundled model once: canonical name, the other spellings accepted, and its label."""
    from andasim.workload.trace import read_header

    rows = []
    for name in workload_names():
        trace_file = _bundled_trace(name)
        also = sorted({t for t in (trace_file,) if t and t != name})
        label = (read_header(trace_file)["label"] if trace_file is not None
                 else "shape-only: bundled model card (no activations, no profiles)")
        rows.append({"name": name, "also": also, "label": label})
    return rows


def load_workload(spec: str | Path | Workload) -> Workload:
    """A bundled trace or card by name (either spelling) or a file by suffix; objects pass through."""
    if not isinstance(spec, str | Path):
        return spec
    text = str(spec)
    path = Path(text)
    if path.is_file():
        entries = _READERS.get(path.suffix.lower())
        if not entries:
            raise TraceError(f"{text}: no reader for '{path.suffix}' files; valid: "
                             f"{', '.join(sorted(_READERS))} or a bundled name")
        for sniff, reader in entries:
            if sniff is None or sniff(path):
                return reader(path)
    looks_like_path = bool(path.suffix) or "/" in text
    if looks_like_path and path.exists():  # a directory, FIFO, device or socket: say so, not "no such file"
        regular_file_size(path)
    name = canonical_name(text)
    if name is not None:
        trace_file = _bundled_trace(name)  # a bundled trace wins over the card: it carries profiles
        if trace_file is not None:
            return load_trace(trace_file)
        return shape_only_trace(load_card(name), f"bundled model card {name}")
    where = "no such file" if looks_like_path else "no bundled trace or model card of that name"
    raise TraceError(f"{text}: {where};{did_you_mean(path.stem if path.suffix else text, workload_names())} "
                     f"bundled: {', '.join(workload_names())}; files: .npz trace, card .yaml, "
                     "Hugging Face config.json, GeMM-list .csv, SCALE-Sim topology .csv")
