"""andasim formats layer: number formats as pure functions on numpy arrays (see docs/formats.md).

`get(spec)` returns a `Format` with quantize / encode / decode / bits_per_value. The Anda fast paths
(`anda_quantize`, `anda_integer_fields`) and the weight quantizer `int_weights` are exported for the
engine, search, tensor-parallel and offload layers; `metrics` holds the error metrics.
"""

from andasim.formats import metrics
from andasim.formats.anda import (
    AndaFormat,
    anda_decode,
    anda_encode,
    anda_fields_reference,
    anda_integer_fields,
    anda_quantize,
    anda_quantize_reference,
)
from andasim.formats.base import Format
from andasim.formats.bitplanes import BitPlanePayload
from andasim.formats.intq import int_weights, int_weights_dequantize
from andasim.formats.registry import VALID_SPECS, get

__all__ = [
    "VALID_SPECS",
    "AndaFormat",
    "BitPlanePayload",
    "Format",
    "anda_decode",
    "anda_encode",
    "anda_fields_reference",
    "anda_integer_fields",
    "anda_quantize",
    "anda_quantize_reference",
    "get",
    "int_weights",
    "int_weights_dequantize",
    "metrics",
]
