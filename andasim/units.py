"""Human-readable numbers for terminal summaries: the unit scales with the value.

`523426.328 ms` reads as `523.4 s`, `4,056,799.1 MB` as `4.06 TB`. Files (result.json, CSV)
keep exact base-unit numbers; only what a person reads is scaled. Decimal prefixes (1 kB =
1000 B), as the bandwidths in the hardware configs are decimal too.
"""

from __future__ import annotations

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))
_SUB = ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"))


def _significant(value: float, digits: int) -> str:
    """`value` with `digits` significant digits, without an exponent."""
    if value == 0:
        return "0"
    text = f"{value:.{digits}g}"
    if "e" in text:
        text = f"{value:.0f}"
    return text


def scaled(value: float, unit: str, digits: int = 4) -> str:
    """`value` in `unit` with an SI prefix chosen so that 1 <= mantissa < 1000 (e.g. `4.056 TB`)."""
    magnitude = abs(value)
    for factor, prefix in (*_PREFIXES, *_SUB[1:]):
        if magnitude >= factor:
            return f"{_significant(value / factor, digits)} {prefix}{unit}"
    return f"{_significant(value, digits)} {unit}"


def duration(seconds: float, digits: int = 4) -> str:
    """Seconds as `523.4 s` or `12.3 ms`; from 10,000 s on in hours (`22.88 h`)."""
    if seconds >= 1e4:
        return f"{_significant(seconds / 3600, digits)} h"
    return scaled(seconds, "s", digits)


def data_size(num_bytes: float, digits: int = 3) -> str:
    """Bytes as `4.06 TB`, `71.2 GB`, `512 B`."""
    return scaled(num_bytes, "B", digits)
