"""SCALE-Sim topology CSV files, read strictly and lowered to GeMMs exactly as SCALE-Sim lowers them.

SCALE-Sim (github.com/scalesim-project) describes a network as one CSV row per layer, in one of
two forms (its `topology_utils.py`, version 3.0.0):

- GEMM form, header `Layer, M, N, K,`: an M x K by K x N product. SCALE-Sim stores it as a
  convolution with an M x K ifmap, a 1 x K filter, 1 channel, N filters and stride 1, which lowers
  back to exactly M, N, K.
- Convolution form, header `Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width,
  Channels, Num Filter, Strides,`: ofmap = ceil((H - Fh + S) / S) x ceil((W - Fw + S) / S) (one
  stride for both directions; rounded up, as SCALE-Sim does), lowered to M = ofmap pixels,
  N = filters, K = Fh * Fw * channels.
  A layer whose name contains `DP` (case-sensitive) is depthwise: SCALE-Sim splits it into one
  layer per channel (`<name>Channel_<i>`, 1 channel each), and so does this reader.

Both forms may carry a last column with an N:M sparsity ratio; andasim computes dense GeMMs and
names any ratio other than 1:1 in the `ignored` list instead of dropping it silently. Every row
ends with a comma in SCALE-Sim's files (it drops the last field); a row without it is read the
same. Anything else (an unknown header, a short row, a non-integer, zero or negative sizes, a
filter larger than its ifmap, binary data) is refused with one line naming the file, the line
and the column. The GeMMs are module `gemm` with FP16 operands on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from andasim.errors import TraceError
from andasim.safe_read import read_head, read_text_file
from andasim.workload.gemm import GENERIC_MODULE, GeMM

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_LAYERS = 100_000  # after depthwise expansion
MAX_DIM = 1 << 24  # per size: 16.7 M (SCALE-Sim's unet2d sample reaches 4.2 M rows)
MAX_MACS = 1 << 60  # keeps every cycle counter of the engine inside int64

GEMM_COLUMNS = ("layer", "m", "n", "k")
CONV_COLUMNS = (
    "layer name",
    "ifmap height",
    "ifmap width",
    "filter height",
    "filter width",
    "channels",
    "num filter",
    "strides",
)
SPARSITY_DOC = "optional last column: N:M sparsity ratio"


@dataclass(frozen=True)
class TopologyLayer:
    """One lowered layer: the GeMM plus where it came from (for the echo and the errors)."""

    name: str
    line: int
    m: int
    n: int
    k: int
    conv: dict[str, int] | None = None  # the convolution parameters, conv form only


@dataclass
class Topology:
    """A SCALE-Sim topology: GeMM shapes only (no model card, no activations, no precision profiles).

    Iterating yields the GeMMs in file order, which is what `andasim.simulate` takes.
    """

    trace_id: str
    path: str
    form: str  # "gemm" or "conv"
    layers: list[TopologyLayer]
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    label = "SCALE-Sim topology (shape-only: GeMM shapes, no activations)"
    shape_only = True
    default_profile = None

    @property
    def profiles(self) -> dict[str, Any]:
        """No precision profiles: the GeMMs are FP16 x FP16."""
        return {}

    card = None  # GeMM shapes only, like a GeMM-list CSV (`andasim.workload.gemm_list`)

    @property
    def gemms(self) -> list[GeMM]:
        return [
            GeMM(
                name=layer.name,
                module=GENERIC_MODULE,
                layer=i,
                m=layer.m,
                k=layer.k,
                n=layer.n,
                weight_operand="fp16",
            )
            for i, layer in enumerate(self.layers)
        ]

    def __iter__(self):
        return iter(self.gemms)

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def source(self) -> str:
        """Where the GeMMs come from and what was not modelled (as a GeMM-list workload says it)."""
        ignored = "; ".join(self.ignored) or "nothing"
        return f"SCALE-Sim topology CSV {self.path} ({'; '.join(self.notes)}; ignored: {ignored})"

    def workload_echo(self) -> dict[str, Any]:
        """What `Result.inputs['workload']` records: the file, its form, and what was not modelled."""
        return {
            "trace_id": self.trace_id,
            "label": self.label,
            "shape_only": True,
            "model": None,
            "source": {
                "format": f"scalesim-topology-{self.form}",
                "file": self.path,
                "layers": len(self.layers),
                "notes": list(self.notes),
                "ignored": list(self.ignored),
            },
        }


def looks_like_topology(path: Path) -> bool:
    """Whether the file's first line is a SCALE-Sim topology header (GEMM or convolution form)."""
    first = read_head(path).decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()[:1]
    if not first:
        return False
    try:
        _header_form(_fields(first[0]), str(path))
    except TraceError:
        return False
    return True


def _fail(file: str, line: int, message: str) -> TraceError:
    return TraceError(f"{file}:{line}: {message}")


def _fields(row: str) -> list[str]:
    parts = [p.strip() for p in row.split(",")]
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # SCALE-Sim's rows end with a comma
    return parts


def _header_form(fields: list[str], file: str) -> str:
    low = [f.lower() for f in fields]
    if low[1:4] == list(GEMM_COLUMNS[1:]) and len(low) <= 5:
        return "gemm"
    if low[1:8] == list(CONV_COLUMNS[1:]) and len(low) <= 9:
        return "conv"
    raise _fail(
        file,
        1,
        "column names: not a SCALE-Sim topology header; expected "
        f"'Layer, M, N, K,' or '{', '.join(c.title() for c in CONV_COLUMNS)},' "
        f"({SPARSITY_DOC}), got {', '.join(fields)[:120]!r}",
    )


def _int(text: str, file: str, line: int, column: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _fail(file, line, f"column '{column}': {text[:40]!r} is not an integer") from None
    if not 1 <= value <= MAX_DIM:
        raise _fail(file, line, f"column '{column}': {value} out of range; valid: 1..{MAX_DIM}")
    return value


def _sparsity(text: str, file: str, line: int) -> tuple[int, int]:
    parts = text.split(":")
    if len(parts) != 2:
        raise _fail(file, line, f"column 'sparsity': {text[:40]!r} is not an N:M ratio such as 2:4")
    n, m = (_int(p.strip(), file, line, "sparsity") for p in parts)
    if n > m:
        raise _fail(file, line, f"column 'sparsity': {text!r}: N must not exceed M")
    return n, m


def parse_topology(text: str, file: str, trace_id: str) -> Topology:
    """Parse topology text (see the module docstring); TraceError with file:line on any problem."""
    rows = text.lstrip("\ufeff").splitlines()
    if not rows or not rows[0].strip():
        raise _fail(file, 1, "empty file: a SCALE-Sim topology starts with its header row")
    form = _header_form(_fields(rows[0]), file)
    columns = GEMM_COLUMNS if form == "gemm" else CONV_COLUMNS
    layers: list[TopologyLayer] = []
    sparse: list[str] = []
    depthwise: list[str] = []
    for number, row in enumerate(rows[1:], start=2):
        if not row.strip():
            continue
        fields = _fields(row)
        if len(fields) not in (len(columns), len(columns) + 1):
            raise _fail(
                file,
                number,
                f"expected {len(columns)} values ({', '.join(columns)}; {SPARSITY_DOC}), got {len(fields)}",
            )
        name = fields[0]
        if not name or not name.isprintable():
            raise _fail(
                file, number, f"column '{columns[0]}': a layer needs a printable name, got {name[:40]!r}"
            )
        sizes = [_int(v, file, number, c) for v, c in zip(fields[1 : len(columns)], columns[1:], strict=True)]
        if len(fields) > len(columns):
            n_keep, m_block = _sparsity(fields[-1], file, number)
            if n_keep != m_block:
                sparse.append(f"{name} {n_keep}:{m_block}")
        if form == "gemm":
            m, n, k = sizes
            lowered = [(name, m, n, k, None)]
        else:
            ih, iw, fh, fw, ch, nf, stride = sizes
            if fh > ih or fw > iw:
                raise _fail(
                    file, number, f"filter {fh}x{fw} larger than ifmap {ih}x{iw} (SCALE-Sim refuses it too)"
                )
            # SCALE-Sim rounds up: ceil((H - F + S) / S), one more than the usual floor when S
            # does not divide H - F
            oh, ow = -(-(ih - fh + stride) // stride), -(-(iw - fw + stride) // stride)
            conv = {
                "ifmap_h": ih,
                "ifmap_w": iw,
                "filter_h": fh,
                "filter_w": fw,
                "channels": ch,
                "filters": nf,
                "stride": stride,
                "ofmap_h": oh,
                "ofmap_w": ow,
            }
            if "DP" in name:
                if len(layers) + ch > MAX_LAYERS:
                    raise _fail(file, number, f"more than {MAX_LAYERS} layers (after depthwise expansion)")
                depthwise.append(f"{name} ({ch} channels)")
                lowered = [
                    (f"{name}Channel_{c}", oh * ow, nf, fh * fw, {**conv, "channels": 1}) for c in range(ch)
                ]
            else:
                lowered = [(name, oh * ow, nf, fh * fw * ch, conv)]
        for lname, m, n, k, conv in lowered:
            if m * n * k > MAX_MACS:
                raise _fail(file, number, f"layer {lname}: {m}x{n}x{k} exceeds {MAX_MACS} MACs")
            layers.append(TopologyLayer(name=lname, line=number, m=m, n=n, k=k, conv=conv))
        if len(layers) > MAX_LAYERS:
            raise _fail(file, number, f"more than {MAX_LAYERS} layers (after depthwise expansion)")
    if not layers:
        raise _fail(file, 1, "no layers after the header")
    notes = [f"{form} form, {len(layers)} GeMMs"]
    if form == "conv":
        notes.append(
            "convolutions lowered as SCALE-Sim does: M = ofmap pixels, N = filters, "
            "K = filter height x width x channels"
        )
    if depthwise:
        notes.append(
            "depthwise ('DP' in the name) split into one single-channel GeMM per channel: "
            + ", ".join(depthwise)
        )
    ignored = []
    if sparse:
        ignored.append("sparsity ratios (andasim computes dense GeMMs): " + ", ".join(sparse))
    return Topology(trace_id=trace_id, path=file, form=form, layers=layers, ignored=ignored, notes=notes)


def read_topology(path: Path | str) -> Topology:
    """Read a SCALE-Sim topology CSV file (a regular file of at most MAX_FILE_BYTES, UTF-8 text)."""
    path = Path(path)
    text = read_text_file(path, max_bytes=MAX_FILE_BYTES, what="SCALE-Sim topology CSV")
    if "\0" in text:
        raise TraceError(
            f"{path}: binary data (NUL bytes): neither a SCALE-Sim topology CSV nor an andasim .npz trace"
        )
    return parse_topology(text, str(path), trace_id=f"scalesim:{path.stem}")
