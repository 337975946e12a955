"""`--weights`: what happens to the decoder Linear weights before activations are quantized (torch-free).

`as-shipped` (the default) keeps the weights exactly as loaded. The bundled models are GGUF files
whose weights are already 4–5-bit quantized (e.g. SmolLM2 Q4_1), so re-quantizing them on top
degrades the baseline itself (docs/search.md measures it). `intB-gG` (e.g. `int4-g128`) re-quantizes
them to B-bit integers in groups of G along the input features, asymmetric round-to-nearest
(`formats.int_weights`), the stand-in for the paper's OmniQuant WBA16gG.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from andasim.errors import AndasimInputError

AS_SHIPPED = "as-shipped"
WEIGHT_CHOICES = "as-shipped or intB-gG with B in 2..8 and G >= 1 (e.g. int4-g128)"
_REQUANT_RE = re.compile(r"^int([0-9]+)-g([0-9]+)$")


@dataclass(frozen=True)
class WeightMode:
    """Weights kept as loaded (`bits` None), or re-quantized to INT`bits` in groups of `group`."""

    name: str
    bits: int | None = None
    group: int | None = None

    @classmethod
    def parse(cls, text: str) -> WeightMode:
        if text == AS_SHIPPED:
            return cls(AS_SHIPPED)
        match = _REQUANT_RE.match(str(text))
        if match is None or not 2 <= int(match.group(1)) <= 8 or int(match.group(2)) < 1:
            raise AndasimInputError(f"--weights {text!r}: valid are {WEIGHT_CHOICES}")
        return cls(str(text), int(match.group(1)), int(match.group(2)))

    def label(self, shipped_format: str | None) -> str:
        """One line for reports: what the weights are, including any quantization already shipped."""
        shipped = shipped_format or "as loaded"
        if self.bits is None:
            return f"as shipped: {shipped}"
        return (f"re-quantized to INT{self.bits} g{self.group} asymmetric round-to-nearest (stand-in for "
                f"OmniQuant W{self.bits}A16g{self.group}) on top of the shipped weights ({shipped})")
