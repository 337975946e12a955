"""Strict parsing of format spec strings: `name` or `name:key=value,flag,...`.

Unknown names, unknown or repeated parameters and bad values raise `FormatSpecError` with one line that
lists what is valid. `get` returns a new `Format` each call (hybrid formats carry fit state).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from andasim.errors import FormatSpecError
from andasim.formats.anda import AndaFormat
from andasim.formats.base import Format
from andasim.formats.bfp import BfpFormat
from andasim.formats.floats import Bf16Format, Fp16Format
from andasim.formats.hybrid import HybridFormat
from andasim.formats.intq import IntFormat
from andasim.formats.mx import MX_ELEMENTS, MxFormat

VALID_SPECS = (
    "fp16", "bf16", "anda:m=<1..16>[,gs=64]", "bfp:gs=64,m=8,exp_bits=5,round=trunc|rne",
    *MX_ELEMENTS, "int:bits=4,g=64|channel,asym|sym[,axis=-1]",
    "hybrid:k_frac=1/64|k=80[,asym|sym][,ema=0.9]",
)

# family -> (key=value parameters, bare flags)
_PARAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "fp16": ((), ()),
    "bf16": ((), ()),
    "anda": (("m", "gs"), ()),
    "bfp": (("gs", "m", "exp_bits", "round"), ()),
    "int": (("bits", "g", "axis"), ("asym", "sym")),
    "hybrid": (("k", "k_frac", "ema"), ("asym", "sym")),
    **{name: ((), ()) for name in MX_ELEMENTS},
}


def _err(spec: str, msg: str) -> FormatSpecError:
    return FormatSpecError(f"format spec {spec!r}: {msg}; valid specs: {', '.join(VALID_SPECS)}")


def _int(spec: str, key: str, value: str) -> int:
    try:
        return int(value, 10)
    except ValueError:
        raise _err(spec, f"{key}={value!r} is not an integer") from None


def _parse(spec: str) -> tuple[str, dict[str, str], set[str]]:
    if not isinstance(spec, str):
        raise FormatSpecError(f"format spec must be a string, got {type(spec).__name__}; "
                              f"valid specs: {', '.join(VALID_SPECS)}")
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in _PARAMS:
        raise _err(spec, f"unknown format {name!r}")
    keys, flags = _PARAMS[name]
    params: dict[str, str] = {}
    seen_flags: set[str] = set()
    if rest.strip() or ":" in spec:
        for item in rest.split(","):
            item = item.strip()
            if not item:
                raise _err(spec, "empty parameter (a stray ',' or ':')")
            key, eq, value = item.partition("=")
            key = key.strip()
            if not eq:
                if key not in flags:
                    raise _err(spec, f"unknown flag {key!r} for {name} (flags: {', '.join(flags) or 'none'}; "
                                     f"parameters: {', '.join(keys) or 'none'})")
                if key in seen_flags:
                    raise _err(spec, f"flag {key!r} given twice")
                seen_flags.add(key)
                continue
            if key not in keys:
                known = ", ".join(keys) or "none"
                raise _err(spec, f"unknown parameter {key!r} for {name} (parameters: {known})")
            if key in params:
                raise _err(spec, f"parameter {key!r} given twice")
            if not value.strip():
                raise _err(spec, f"parameter {key!r} has no value")
            params[key] = value.strip()
    if {"asym", "sym"} <= seen_flags:
        raise _err(spec, "give only one of asym, sym")
    return name, params, seen_flags


def _anda(spec: str, p: dict[str, str], _: set[str]) -> Format:
    if "m" not in p:
        raise _err(spec, "anda needs m=<1..16>")
    return AndaFormat(_int(spec, "m", p["m"]), _int(spec, "gs", p.get("gs", "64")))


def _bfp(spec: str, p: dict[str, str], _: set[str]) -> Format:
    return BfpFormat(gs=_int(spec, "gs", p.get("gs", "64")), m=_int(spec, "m", p.get("m", "8")),
                     exp_bits=_int(spec, "exp_bits", p.get("exp_bits", "5")),
                     rounding=p.get("round", "trunc"))


def _intq(spec: str, p: dict[str, str], flags: set[str]) -> Format:
    g_text = p.get("g", "64")
    g = None if g_text == "channel" else _int(spec, "g", g_text)
    return IntFormat(bits=_int(spec, "bits", p.get("bits", "4")), g=g, sym="sym" in flags,
                     axis=_int(spec, "axis", p.get("axis", "-1")))


def _hybrid(spec: str, p: dict[str, str], flags: set[str]) -> Format:
    k = _int(spec, "k", p["k"]) if "k" in p else None
    k_frac = None
    if "k_frac" in p:
        try:
            k_frac = Fraction(p["k_frac"])
        except (ValueError, ZeroDivisionError):
            raise _err(spec, f"k_frac={p['k_frac']!r} is not a fraction such as 1/64") from None
    try:
        ema = float(p.get("ema", "0.9"))
    except ValueError:
        raise _err(spec, f"ema={p['ema']!r} is not a number") from None
    return HybridFormat(k=k, k_frac=k_frac, sym="sym" in flags, ema=ema)


_BUILDERS: dict[str, Callable[[str, dict[str, str], set[str]], Format]] = {
    "fp16": lambda s, p, f: Fp16Format(),
    "bf16": lambda s, p, f: Bf16Format(),
    "anda": _anda,
    "bfp": _bfp,
    "int": _intq,
    "hybrid": _hybrid,
    **{name: (lambda s, p, f, n=name: MxFormat(n)) for name in MX_ELEMENTS},
}


def get(spec: str) -> Format:
    """Parse `spec` strictly and return the format; see VALID_SPECS."""
    name, params, flags = _parse(spec)
    try:
        return _BUILDERS[name](spec, params, flags)
    except FormatSpecError as exc:
        if "valid specs:" in str(exc):
            raise
        raise _err(spec, str(exc)) from None
