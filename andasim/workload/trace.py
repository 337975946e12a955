"""Trace files: a model card, provenance, precision profiles and (optionally) recorded activations.

A trace lets the simulator and the precision search work without the model. On disk it is one
`.npz` archive (numpy's zip of `.npy` arrays, read with `allow_pickle=False`):

- `header`: a uint8 array holding UTF-8 JSON: format name `andasim-trace`, version, trace id,
  label, shape_only flag, card, provenance, profiles, default profile, and for every other
  array its dtype, shape and sha256; `checksum` is the sha256 of the canonical JSON of the
  header without it, so it covers the metadata and (through the per-array hashes) the data.
- `act/L<i>/<module>`: float16 [tokens, k], the input of module (qkv, o, up, down) of layer i.
- `w/L<i>/<module>/columns` int64 [n_s] (output-feature indices), `.../values` float32 [k, n_s]
  (the dequantized weights of those columns), optional `.../bias` float32 [n_s].

A shape-only trace has only the header. Every check failure raises `TraceError` naming the
file and the key or array; writes are atomic (temp file + os.replace).

A trace file may be hostile, and its checksum proves nothing (anyone can recompute it). Before
any array is decompressed, the reader checks the zip directory's declared sizes and every
`.npy` header's shape against the bytes actually stored (numpy would otherwise allocate a
declared 6e14-element array before reading a byte), and the header's types before using them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from andasim.bundled import bundled_dir
from andasim.errors import AndasimInputError, TraceError
from andasim.safe_read import regular_file_size, short
from andasim.workload.card import ModelCard
from andasim.workload.gemm import FP_INT_MODULES
from andasim.workload.precision import PrecisionProfile

FORMAT_NAME = "andasim-trace"
FORMAT_VERSION = 1
SUFFIX = ".npz"
_HEADER_KEYS = ("format", "version", "trace_id", "label", "shape_only", "card", "provenance", "profiles",
                "default_profile", "arrays", "checksum")
_ACT_RE = re.compile(r"^act/L(\d+)/(qkv|o|up|down)$")
_W_RE = re.compile(r"^w/L(\d+)/(qkv|o|up|down)/(columns|values|bias)$")
_DTYPES = {"act": "float16", "columns": "int64", "values": "float32", "bias": "float32"}
_TRACE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")  # a file-name-safe id, no ../
# Limits far above the bundled traces (the largest is a few MB), far below what exhausts memory.
MAX_TRACE_BYTES = 4 * 2**30         # the .npz file on disk
MAX_ARRAY_BYTES = 2**30             # one decompressed array
MAX_TOTAL_ARRAY_BYTES = 4 * 2**30   # all decompressed arrays together
MAX_HEADER_BYTES = 16 * 2**20       # the JSON header


@dataclass(frozen=True)
class WeightSample:
    """A sample of one module's weight matrix: `values[:, j]` is output column `columns[j]`.

    For `qkv` the output features are Q|K|V concatenated; for a gated `up`, gate|up.
    """

    columns: np.ndarray
    values: np.ndarray
    bias: np.ndarray | None = None


@dataclass
class Trace:
    """Model card + provenance + named precision profiles + optional FP16 activations/weights."""

    trace_id: str
    card: ModelCard
    provenance: dict[str, Any]
    label: str
    profiles: dict[str, PrecisionProfile] = field(default_factory=dict)
    default_profile: str | None = None
    activations: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    weights: dict[tuple[int, str], WeightSample] = field(default_factory=dict)
    checksum: str = ""
    source: str = ""  # the file (or bundled name) it was loaded from, for messages; not stored

    @property
    def shape_only(self) -> bool:
        """True when the trace holds no activations: only shapes (and maybe published profiles)."""
        return not self.activations

    @property
    def layers(self) -> list[int]:
        """Layers that have recorded activations."""
        return sorted({layer for layer, _ in self.activations})

    def profile(self, name: str | None = None) -> PrecisionProfile:
        """A named profile, or the default one; TraceError when absent."""
        key = name if name is not None else self.default_profile
        if key is None:
            raise TraceError(f"trace {self.trace_id}: has no default precision profile; give one explicitly")
        if key not in self.profiles:
            valid = ", ".join(sorted(self.profiles)) or "none"
            raise TraceError(f"trace {self.trace_id}: no profile {key!r}; valid: {valid}")
        return self.profiles[key]


# --- array naming and validation -------------------------------------------------------------


def _arrays_of(trace: Trace) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for (layer, module), act in sorted(trace.activations.items()):
        arrays[f"act/L{layer}/{module}"] = act
    for (layer, module), sample in sorted(trace.weights.items()):
        arrays[f"w/L{layer}/{module}/columns"] = sample.columns
        arrays[f"w/L{layer}/{module}/values"] = sample.values
        if sample.bias is not None:
            arrays[f"w/L{layer}/{module}/bias"] = sample.bias
    return arrays


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _canonical(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("utf-8")


def _check_arrays(card: ModelCard, arrays: dict[str, np.ndarray], file: str) -> None:
    """Dtypes, shapes against the card, column ranges and finiteness of every array."""
    for name, array in arrays.items():
        act = _ACT_RE.match(name)
        wgt = _W_RE.match(name)
        if not (act or wgt):
            raise TraceError(f"{file}: array {name!r}: unknown array name (expected act/L<i>/<module> or "
                             f"w/L<i>/<module>/columns|values|bias, module in {', '.join(FP_INT_MODULES)})")
        match = act or wgt
        assert match is not None
        layer, module = int(match.group(1)), match.group(2)
        kind = "act" if act else match.group(3)
        if layer >= card.n_layers:
            raise TraceError(f"{file}: array {name!r}: layer {layer} out of range; the card "
                             f"{card.name} has {card.n_layers} layers")
        if str(array.dtype) != _DTYPES[kind]:
            raise TraceError(f"{file}: array {name!r}: dtype {array.dtype}, expected {_DTYPES[kind]}")
        k = card.module_in_features(module)
        n_out = card.module_out_features(module)
        if kind == "act":
            if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] != k:
                raise TraceError(f"{file}: array {name!r}: shape {array.shape}, expected [tokens>0, {k}] "
                                 f"(the input size of {module} in card {card.name})")
        elif kind == "columns":
            if array.ndim != 1 or array.size == 0:
                raise TraceError(f"{file}: array {name!r}: shape {array.shape}, expected [n_sampled>0]")
            if array.min() < 0 or array.max() >= n_out or np.unique(array).size != array.size:
                raise TraceError(f"{file}: array {name!r}: column indices must be distinct and in "
                                 f"0..{n_out - 1} (the output size of {module})")
        else:
            prefix = name.rsplit("/", 1)[0]
            cols = arrays.get(f"{prefix}/columns")
            if cols is None:
                raise TraceError(f"{file}: array {name!r}: has no matching {prefix}/columns")
            expected = (k, cols.size) if kind == "values" else (cols.size,)
            if array.shape != expected:
                raise TraceError(f"{file}: array {name!r}: shape {array.shape}, expected {list(expected)}")
            if f"{prefix}/values" not in arrays:
                raise TraceError(f"{file}: array {prefix}/values missing for {name!r}")
        if kind != "columns" and not np.isfinite(array).all():
            bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
            raise TraceError(f"{file}: array {name!r}: holds {bad} NaN/Inf values")
    for name in arrays:
        if name.endswith("/columns") and name[: -len("columns")] + "values" not in arrays:
            raise TraceError(f"{file}: array {name!r}: has no matching values array")


def _check_meta(trace: Trace, file: str) -> None:
    if trace.default_profile is not None and trace.default_profile not in trace.profiles:
        raise TraceError(f"{file}: key 'default_profile': {trace.default_profile!r} is not one of the "
                         f"profiles ({', '.join(sorted(trace.profiles)) or 'none'})")
    for name, prof in trace.profiles.items():
        if prof.name != name:
            raise TraceError(f"{file}: key 'profiles': profile stored as {name!r} is named {prof.name!r}")
    if trace.shape_only and "shape-only" not in trace.label:
        raise TraceError(f"{file}: key 'label': a trace without activations must say 'shape-only' in its "
                         f"label, got {trace.label!r}")
    if not trace.shape_only and "shape-only" in trace.label:
        raise TraceError(f"{file}: key 'label': says shape-only but the trace holds activations")
    if not isinstance(trace.provenance, dict):
        raise TraceError(f"{file}: key 'provenance': must be a mapping")
    if trace.weights and not set(trace.weights) <= set(trace.activations):
        extra = sorted(set(trace.weights) - set(trace.activations))[0]
        raise TraceError(f"{file}: weights of L{extra[0]}.{extra[1]} have no activations")


def build_header(trace: Trace, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The JSON header of `trace` (its checksum included) for the given arrays."""
    header: dict[str, Any] = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "trace_id": trace.trace_id,
        "label": trace.label, "shape_only": trace.shape_only, "card": trace.card.to_dict(),
        "provenance": trace.provenance,
        "profiles": {name: prof.to_dict() for name, prof in sorted(trace.profiles.items())},
        "default_profile": trace.default_profile,
        "arrays": {name: {"dtype": str(a.dtype), "shape": list(a.shape), "sha256": _sha256(a)}
                   for name, a in sorted(arrays.items())},
    }
    header["checksum"] = hashlib.sha256(_canonical(header)).hexdigest()
    return header


# --- write ---------------------------------------------------------------------------------


def save_trace(trace: Trace, path: Path | str) -> Path:
    """Validate `trace` and write it atomically to `path` (suffix .npz added if missing)."""
    path = Path(path)
    if path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    arrays = {name: np.ascontiguousarray(a) for name, a in _arrays_of(trace).items()}
    _check_arrays(trace.card, arrays, str(path))
    _check_meta(trace, str(path))
    header = build_header(trace, arrays)
    blob = np.frombuffer(json.dumps(header, sort_keys=True, indent=1).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            np.savez_compressed(fh, header=blob, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    trace.checksum = header["checksum"]
    return path


# --- read ----------------------------------------------------------------------------------


def bundled_trace_names() -> list[str]:
    """Names of the traces shipped in traces/ (e.g. `llama7b`, `smollm2-135m`)."""
    folder = bundled_dir("traces")
    return sorted(p.name[: -len(SUFFIX)] for p in folder.iterdir() if p.name.endswith(SUFFIX))


def _resolve(name_or_path: str | Path) -> tuple[Any, str]:
    text = str(name_or_path)
    if text in bundled_trace_names():
        return bundled_dir("traces").joinpath(text + SUFFIX), text
    path = Path(name_or_path)
    if not (path.exists() or path.is_symlink()):
        raise TraceError(f"{short(text, 80)}: no such trace file or bundled trace; bundled: "
                         f"{', '.join(bundled_trace_names())}")
    try:
        size = regular_file_size(path)
    except AndasimInputError as exc:
        raise TraceError(str(exc)) from None
    if size > MAX_TRACE_BYTES:
        raise TraceError(f"{text}: is {size} bytes; a trace may be at most {MAX_TRACE_BYTES} bytes")
    return path, text


def _check_not_csv(source: Any, file: str) -> None:
    """A CSV (GeMM list or SCALE-Sim topology) or any other non-zip file: one clear line, before numpy
    would report it as 'pickled (object) data'."""
    if not isinstance(source, Path) or source.suffix.lower() == SUFFIX:
        return  # bundled traces, and .npz files (a broken one gets the npz reader's error)
    with source.open("rb") as fh:
        is_zip = fh.read(4) == b"PK\x03\x04"
    if source.suffix.lower() == ".csv" or not is_zip:
        raise TraceError(f"{file}: not an andasim trace (.npz); a GeMM-list or SCALE-Sim topology CSV is a "
                         "workload for `andasim run --trace`, not a model trace")


def read_header(name_or_path: str | Path) -> dict[str, Any]:
    """The validated JSON header only (cheap: no activation data is decompressed)."""
    source, file = _resolve(name_or_path)
    _check_not_csv(source, file)
    with source.open("rb") as fh:
        data = _open_npz(fh, file)
        return _parse_header(data, file)


def _open_npz(fh: Any, file: str) -> Any:
    try:
        _check_members(fh, file)
        fh.seek(0)
        return np.load(fh, allow_pickle=False)
    except TraceError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise TraceError(f"{file}: not a readable andasim trace (.npz): {str(exc)[:120]}") from None


def _check_members(fh: Any, file: str) -> None:
    """Refuse oversized members and `.npy` headers whose shape disagrees with the stored bytes.

    Reads only the zip directory and each member's first bytes; nothing is decompressed beyond
    the `.npy` header, and zipfile never yields more than a member's declared size.
    """
    with zipfile.ZipFile(fh) as zf:
        infos = zf.infolist()
        total = 0
        for info in infos:
            name = info.filename.removesuffix(".npy")
            limit = MAX_HEADER_BYTES if name == "header" else MAX_ARRAY_BYTES
            if info.file_size > limit:
                raise TraceError(f"{file}: array {short(name, 60)}: declares {info.file_size} bytes, above "
                                 f"the limit of {limit}")
            total += info.file_size
        if total > MAX_TOTAL_ARRAY_BYTES:
            raise TraceError(f"{file}: arrays declare {total} bytes together, above the limit of "
                             f"{MAX_TOTAL_ARRAY_BYTES}")
        for info in infos:
            name = info.filename.removesuffix(".npy")
            with zf.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                else:
                    raise TraceError(f"{file}: array {short(name, 60)}: .npy version {version} not supported")
                stored = info.file_size - member.tell()
            if dtype.hasobject:
                raise TraceError(f"{file}: array {short(name, 60)}: object arrays are not allowed")
            declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if declared != stored:
                raise TraceError(f"{file}: array {short(name, 60)}: its shape {str(shape)[:40]} needs "
                                 f"{declared} bytes but {stored} are stored (corrupt or forged)")


def _get_array(data: Any, name: str, file: str) -> np.ndarray:
    try:
        return data[name]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise TraceError(f"{file}: array {name!r}: cannot be read ({exc}); the file is corrupt or "
                         f"truncated") from None


def _parse_header(data: Any, file: str) -> dict[str, Any]:
    if "header" not in data.files:
        raise TraceError(f"{file}: no 'header' array; not an {FORMAT_NAME} file")
    raw = _get_array(data, "header", file)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise TraceError(f"{file}: array 'header': must be a 1-D uint8 array of JSON text")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise TraceError(f"{file}: array 'header': invalid JSON ({str(exc)[:80]})") from None
    if not isinstance(header, dict):
        raise TraceError(f"{file}: array 'header': must hold a JSON object")
    if header.get("format") != FORMAT_NAME:
        raise TraceError(f"{file}: key 'format': {header.get('format')!r}, expected {FORMAT_NAME!r}")
    version = header.get("version")
    if version != FORMAT_VERSION:
        raise TraceError(f"{file}: key 'version': {version!r}; this andasim reads version {FORMAT_VERSION}")
    missing = [k for k in _HEADER_KEYS if k not in header]
    if missing:
        raise TraceError(f"{file}: key {missing[0]!r}: missing from the header")
    unknown = sorted(set(header) - set(_HEADER_KEYS))
    if unknown:
        raise TraceError(f"{file}: key {unknown[0]!r}: unknown header key; valid: {', '.join(_HEADER_KEYS)}")
    _check_header_types(header, file)
    body = {k: v for k, v in header.items() if k != "checksum"}
    if hashlib.sha256(_canonical(body)).hexdigest() != header["checksum"]:
        raise TraceError(f"{file}: key 'checksum': does not match the header contents (edited or corrupt)")
    return header


def _check_header_types(header: dict[str, Any], file: str) -> None:
    """Types of the header's fields, before anything uses them (the checksum proves nothing)."""
    def fail(key: str, what: str) -> None:
        raise TraceError(f"{file}: key {key!r}: {what}, got {short(header.get(key))}")

    trace_id = header["trace_id"]
    if not isinstance(trace_id, str) or not _TRACE_ID_RE.match(trace_id):
        fail("trace_id", "must be 1-128 letters, digits, '.', '_', '+' or '-' (no path separators)")
    if not isinstance(header["label"], str) or not header["label"]:
        fail("label", "must be a non-empty string")
    if not isinstance(header["shape_only"], bool):
        fail("shape_only", "must be true or false")
    for key in ("card", "provenance", "profiles", "arrays"):
        if not isinstance(header[key], dict):
            fail(key, "must be a mapping")
    if header["default_profile"] is not None and not isinstance(header["default_profile"], str):
        fail("default_profile", "must be a profile name or null")
    if not isinstance(header["checksum"], str):
        fail("checksum", "must be a hex string")
    for name, meta in header["arrays"].items():
        if not (isinstance(meta, dict) and isinstance(meta.get("dtype"), str)
                and isinstance(meta.get("sha256"), str) and isinstance(meta.get("shape"), list)
                and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in meta["shape"])):
            raise TraceError(f"{file}: key 'arrays.{str(name)[:60]}': must be "
                             "{dtype: str, shape: [int >= 0], sha256: str}")


def load_trace(name_or_path: str | Path) -> Trace:
    """Load and fully validate a trace: a bundled name (see `bundled_trace_names`) or a path.

    CSV workloads (GeMM lists, SCALE-Sim topologies) are read by `andasim.workload.loaders`; given
    here they get a one-line TraceError.
    """
    source, file = _resolve(name_or_path)
    _check_not_csv(source, file)
    with source.open("rb") as fh:
        data = _open_npz(fh, file)
        header = _parse_header(data, file)
        listed = header["arrays"]
        if not isinstance(listed, dict):
            raise TraceError(f"{file}: key 'arrays': must be a mapping")
        present = set(data.files) - {"header"}
        for name in sorted(present ^ set(listed)):
            where = "in the file but not in the header" if name in present else "in the header but missing"
            raise TraceError(f"{file}: array {name!r}: {where}")
        arrays = {}
        for name in sorted(listed):
            array = _get_array(data, name, file)
            meta = listed[name]
            if str(array.dtype) != meta.get("dtype") or list(array.shape) != meta.get("shape"):
                raise TraceError(f"{file}: array {name!r}: dtype/shape {array.dtype}{list(array.shape)} "
                                 f"differs from the header's {meta.get('dtype')}{meta.get('shape')}")
            if _sha256(array) != meta.get("sha256"):
                raise TraceError(f"{file}: array {name!r}: sha256 checksum mismatch (corrupt data)")
            arrays[name] = array
    try:
        card = ModelCard.from_dict(header["card"], file=f"{file} [card]")
        profiles = {name: PrecisionProfile.from_dict(p, file=f"{file} [profile {name}]")
                    for name, p in header["profiles"].items()}
    except AndasimInputError as exc:
        raise TraceError(str(exc)) from None
    except AttributeError:
        raise TraceError(f"{file}: key 'profiles': must be a mapping of name -> profile") from None
    _check_arrays(card, arrays, file)
    activations: dict[tuple[int, str], np.ndarray] = {}
    weights: dict[tuple[int, str], WeightSample] = {}
    for name, array in arrays.items():
        act = _ACT_RE.match(name)
        if act:
            activations[(int(act.group(1)), act.group(2))] = array
        elif name.endswith("/columns"):
            prefix = name[: -len("/columns")]
            wm = _W_RE.match(name)
            assert wm is not None
            weights[(int(wm.group(1)), wm.group(2))] = WeightSample(
                columns=array, values=arrays[prefix + "/values"], bias=arrays.get(prefix + "/bias"))
    trace = Trace(trace_id=str(header["trace_id"]), card=card, provenance=header["provenance"],
                  label=str(header["label"]), profiles=profiles, default_profile=header["default_profile"],
                  activations=activations, weights=weights, checksum=header["checksum"], source=file)
    if bool(header["shape_only"]) != trace.shape_only:
        raise TraceError(f"{file}: key 'shape_only': says {header['shape_only']} but the file "
                         f"{'has no' if trace.shape_only else 'has'} activations")
    _check_meta(trace, file)
    return trace
