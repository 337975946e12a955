"""SCALE-Sim `.cfg` files, translated into a native andasim design (the same YAML, the same checks).

SCALE-Sim (github.com/scalesim-project, `scale_config.py` of version 3.0.0) reads an INI file
with Python's configparser, so section names are case-sensitive and key names are not
(`IfmapSramSzkB` and `ifmapsramszkB` are the same key), `:` and `=` both separate a key from its
value, and a key given twice is an error. This reader keeps those rules and translates:

    [general]              run_name                            -> name
    [architecture_presets] ArrayHeight, ArrayWidth             -> pe_array.rows, pe_array.cols
                           IfmapSramSzkB                       -> activation SRAMs (KiB, FP16 store)
                           FilterSramSzkB, OfmapSramSzkB       -> buffers.weight, buffers.output
                           Dataflow (os | ws | is)             -> dataflow: {systolic: {stationary: ..}}
                           Bandwidth (words/cycle; first value) -> dram.bw_gb_per_s (2 B per word x clock)

SRAM sizes are kept in bytes (SCALE-Sim's words are 1 byte, andasim's FP16 values 2, so a buffer
holds half as many values), and Bandwidth in values per cycle (one FP16 value per word).

The PE is one FP16 MAC per cycle (pe_type fp_fp with cycles_per_group = lanes, so the FP-FP cost
table charges one FP16 MAC per busy cycle), timed by the systolic closed forms of
`andasim.sim.dataflows.systolic`. Everything else SCALE-Sim reads (address offsets, request
buffers, memory banks, [run_presets], [layout], [sparsity], [network_presets]) is named in the
design's provenance as ignored, one line per section; an unknown section or key, a missing
required key or a value SCALE-Sim would not accept is refused with one line naming the file, the
line and the key. What andasim must assume (clock, DRAM latency and energy, technology) is said
in the provenance too.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from andasim.errors import ConfigError
from andasim.safe_read import read_head, read_text_file

MAX_CFG_BYTES = 1 << 20
DATAFLOWS = ("os", "ws", "is")

# Keys SCALE-Sim 3.0 (and the 2.x sample configs) read, per section, lower-cased as configparser
# stores them; anything else is refused as a likely typo.
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "general": ("run_name",),
    "architecture_presets": (
        "arrayheight",
        "arraywidth",
        "ifmapsramszkb",
        "filtersramszkb",
        "ofmapsramszkb",
        "ifmapoffset",
        "filteroffset",
        "ofmapoffset",
        "bandwidth",
        "dataflow",
        "memorybanks",
        "readrequestbuffer",
        "writerequestbuffer",
    ),
    "run_presets": ("interfacebandwidth", "useramulatortrace"),
    "layout": (
        "ifmapcustomlayout",
        "ifmapsrambankbandwidth",
        "ifmapsrambanknum",
        "ifmapsrambankport",
        "filtercustomlayout",
        "filtersrambankbandwidth",
        "filtersrambanknum",
        "filtersrambankport",
    ),
    "sparsity": (
        "sparsitysupport",
        "sparserep",
        "optimizedmapping",
        "blocksize",
        "randomnumbergeneratorseed",
        "nonzeroelems",
    ),
    "network_presets": ("topologycsvloc", "layoutcsvloc"),
}
REQUIRED = (
    "arrayheight",
    "arraywidth",
    "ifmapsramszkb",
    "filtersramszkb",
    "ofmapsramszkb",
    "dataflow",
    "bandwidth",
)
IGNORED_WHY = {
    "run_presets": "andasim's DRAM is one channel at Bandwidth words/cycle "
    "(no CALC sizing, no Ramulator trace)",
    "layout": "andasim reads operands in row order (no custom SRAM bank layout)",
    "sparsity": "andasim computes dense GeMMs",
    "network_presets": "give the topology with --trace",
}

# andasim's assumptions for what a .cfg does not say (stated in every translated design).
CLOCK_MHZ = 285.0  # the clock of the 16 nm cost tables; cycles do not depend on it
BYTES_PER_WORD = 2  # FP16 operands (SCALE-Sim counts words)
DRAM_LATENCY_NS = 0.0  # SCALE-Sim models no DRAM latency
DRAM_PJ_PER_BIT = 3.9  # HBM2 (Anda paper, citing TPUv4i), as the bundled designs
PE_LANES = 16  # 16 elements in 16 cycles: 1 MAC per cycle (see module docstring)


def _line_of(lines: list[str], section: str, key: str | None) -> int | None:
    """Line (1-based) of `[section]` or of `key` inside it; configparser keeps no line numbers."""
    current = None
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        match = re.match(r"^\[([^\]]*)\]", text)
        if match:
            current = match.group(1)
            if key is None and current == section:
                return number
            continue
        if current == section and key is not None:
            name = re.split(r"[:=]", text, maxsplit=1)[0].strip().lower()
            if name == key:
                return number
    return None


def _int(value: str, file: str, line: int | None, key: str, lo: int, hi: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigError(
            f"{value.strip()[:24]!r} is not an integer (SCALE-Sim reads it with int())",
            file=file,
            line=line,
            key=key,
        ) from None
    if not lo <= number <= hi:
        raise ConfigError(f"{number} out of range; valid: {lo}..{hi}", file=file, line=line, key=key)
    return number


def translate_cfg(text: str, file: str) -> tuple[str, list[str], list[str]]:
    """The native design YAML for a SCALE-Sim config, plus what was taken and what was ignored."""
    lines = text.splitlines()
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    try:
        parser.read_string(text, source=file)
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(
            "not a SCALE-Sim config: the file must start with a [section] header", file=file, line=exc.lineno
        ) from None
    except configparser.DuplicateSectionError as exc:
        raise ConfigError(f"section [{exc.section}] given twice", file=file, line=exc.lineno) from None
    except configparser.DuplicateOptionError as exc:
        raise ConfigError(
            "key given twice (SCALE-Sim refuses it too)",
            file=file,
            line=exc.lineno,
            key=f"{exc.section}.{exc.option}",
        ) from None
    except configparser.Error as exc:
        raise ConfigError(f"not a SCALE-Sim config: {str(exc).splitlines()[0][:100]}", file=file) from None
    for section in parser.sections():
        if section not in KNOWN_KEYS:
            raise ConfigError(
                f"unknown section [{section}]; SCALE-Sim sections: "
                + ", ".join(f"[{s}]" for s in KNOWN_KEYS),
                file=file,
                line=_line_of(lines, section, None),
            )
        for key in parser[section]:
            if key not in KNOWN_KEYS[section]:
                raise ConfigError(
                    f"unknown key; valid in [{section}]: {', '.join(KNOWN_KEYS[section])} "
                    "(any capitalisation)",
                    file=file,
                    line=_line_of(lines, section, key),
                    key=f"{section}.{key}",
                )
    if not parser.has_section("architecture_presets"):
        raise ConfigError(
            "no [architecture_presets] section: andasim needs the array, SRAMs, dataflow and "
            "bandwidth from it",
            file=file,
        )
    arch = parser["architecture_presets"]
    for key in REQUIRED:
        if key not in arch:
            raise ConfigError(
                "required key missing (any capitalisation)",
                file=file,
                line=_line_of(lines, "architecture_presets", None),
                key=f"architecture_presets.{key}",
            )

    def where(key: str) -> int | None:
        return _line_of(lines, "architecture_presets", key)

    def arch_int(key: str, lo: int, hi: int) -> int:
        return _int(arch[key], file, where(key), f"architecture_presets.{key}", lo, hi)

    rows, cols = arch_int("arrayheight", 1, 4096), arch_int("arraywidth", 1, 4096)
    ifmap_kb, filter_kb, ofmap_kb = (
        arch_int(k, 1, 1 << 20) for k in ("ifmapsramszkb", "filtersramszkb", "ofmapsramszkb")
    )
    dataflow = arch["dataflow"].strip()
    if dataflow not in DATAFLOWS:
        raise ConfigError(
            f"{dataflow[:24]!r} is not a SCALE-Sim dataflow; valid: {', '.join(DATAFLOWS)}",
            file=file,
            line=where("dataflow"),
            key="architecture_presets.Dataflow",
        )
    bw_values = [v for v in arch["bandwidth"].split(",")]
    words = [
        _int(v, file, where("bandwidth"), "architecture_presets.Bandwidth", 1, 1 << 20) for v in bw_values
    ]
    if ofmap_kb * 1024 < 2 * rows * cols * BYTES_PER_WORD:
        raise ConfigError(
            f"{ofmap_kb} kB cannot stage two {rows}x{cols} FP16 output folds "
            f"({-(-4 * rows * cols // 1024)} kB needed by andasim's output staging)",
            file=file,
            line=where("ofmapsramszkb"),
            key="architecture_presets.OfmapSramSzkB",
        )
    name = parser.get("general", "run_name", fallback="").strip() or Path(file).stem
    if not re.fullmatch(r"[\w.+-]{1,80}", name):
        raise ConfigError(
            f"{name[:24]!r}: a run name of letters, digits and ._+- (at most 80)",
            file=file,
            line=_line_of(lines, "general", "run_name"),
            key="general.run_name",
        )
    bw_gb_per_s = words[0] * BYTES_PER_WORD * CLOCK_MHZ * 1e6 / 1e9
    taken = [
        f"run_name -> name {name}"
        if parser.has_option("general", "run_name")
        else f"name {name} (file name; no run_name)",
        f"ArrayHeight {rows} x ArrayWidth {cols} -> pe_array {rows}x{cols} of 1-MAC/cycle FP16 PEs",
        f"Dataflow {dataflow} -> systolic {dataflow} timing (SCALE-Sim's fill/drain per fold)",
        f"IfmapSramSzkB {ifmap_kb} -> activation SRAMs {ifmap_kb} KiB",
        f"FilterSramSzkB {filter_kb} -> weight SRAM {filter_kb} KiB",
        f"OfmapSramSzkB {ofmap_kb} -> output SRAM {ofmap_kb} KiB (sizes kept in bytes: FP16 values take 2, "
        "so each SRAM holds half the values of SCALE-Sim's 1-byte words)",
        f"Bandwidth {words[0]} words/cycle -> DRAM {bw_gb_per_s:g} GB/s (one FP16 value of 2 B per word, "
        f"at {CLOCK_MHZ:g} MHz)",
    ]
    ignored = []
    skipped = [
        k
        for k in (
            "ifmapoffset",
            "filteroffset",
            "ofmapoffset",
            "memorybanks",
            "readrequestbuffer",
            "writerequestbuffer",
        )
        if k in arch
    ]
    if skipped:
        ignored.append(
            f"[architecture_presets] {', '.join(skipped)}: trace addresses and request queues, not modelled"
        )
    if len(words) > 1:
        ignored.append(
            f"[architecture_presets] Bandwidth values after the first ({', '.join(map(str, words[1:]))})"
        )
    for section, why in IGNORED_WHY.items():
        if parser.has_section(section):
            items = ", ".join(f"{k}={v.strip()[:20]}" for k, v in parser[section].items()) or "empty"
            ignored.append(f"[{section}] {items}: {why}")
    assumed = (
        f"clock {CLOCK_MHZ:g} MHz (cycles do not depend on it), DRAM latency {DRAM_LATENCY_NS:g} ns, "
        f"DRAM {DRAM_PJ_PER_BIT} pJ/bit, 16 nm FP-FP PE costs per FP16 MAC"
    )
    provenance = (
        f"Translated by andasim from the SCALE-Sim config {file}. Taken: {'; '.join(taken)}. "
        f"Ignored: {'; '.join(ignored) or 'nothing'}. Assumed (andasim, not in the .cfg): {assumed}."
    )
    act_kib = ifmap_kb
    yaml_text = f"""schema_version: 1
name: "{name}"
description: "SCALE-Sim {rows}x{cols} {dataflow} systolic array of 1-MAC/cycle FP16 PEs"
provenance: {_quote(provenance)}
technology: {{node_nm: 16, voltage_v: 0.8}}
clock: {{freq_mhz: {CLOCK_MHZ}}}
pe_array:
  rows: {rows}
  cols: {cols}
  pe_type: fp_fp
  pe: {{lanes: {PE_LANES}, cycles_per_group: {PE_LANES}}}
weights: {{bits: 16, scale_group_size: 128}}
activation_group_size: {PE_LANES}
buffers:
  act_mantissa: {{size_kib: {act_kib * 15 / 16!r}, port_width_bits: {max(16 * rows, 16)}}}
  act_exponent: {{size_kib: {act_kib / 16!r}, port_width_bits: {max(16 * rows, 16)}}}
  weight: {{size_kib: {filter_kb}, port_width_bits: {16 * cols}}}
  output: {{size_kib: {ofmap_kb}, port_width_bits: {16 * cols}}}
dram: {{bw_gb_per_s: {bw_gb_per_s!r}, latency_ns: {DRAM_LATENCY_NS}, e_pj_per_bit: {DRAM_PJ_PER_BIT}}}
dataflow: {{systolic: {{stationary: {dataflow}}}}}
vector_unit: {{fpus: 64}}
cost_table: baselines_16nm
"""
    return yaml_text, taken, ignored


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def looks_like_cfg(path: Path) -> bool:
    """A `.cfg` suffix, or a file whose first non-blank, non-comment line is an INI section header."""
    if path.suffix.lower() == ".cfg":
        return True
    head = read_head(path).decode("utf-8", errors="replace")  # never blocks on a FIFO
    for raw in head.splitlines():
        text = raw.strip()
        if text and not text.startswith(("#", ";")):
            return text.startswith("[") and not text.startswith("[[")
    return False


def read_cfg_text(path: Path | str) -> str:
    """The text of a SCALE-Sim config file (regular file, at most MAX_CFG_BYTES, UTF-8, no NUL bytes)."""
    text = read_text_file(path, max_bytes=MAX_CFG_BYTES, what="SCALE-Sim config")
    if "\0" in text:
        raise ConfigError("binary data (NUL bytes): not a SCALE-Sim config", file=str(path))
    return text
