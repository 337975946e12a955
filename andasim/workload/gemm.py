"""`GeMM`: one matrix multiplication of a workload, the unit the engine simulates.

Shapes follow the activation-major convention of the Anda paper: an activation matrix of
`m x k` (tokens x input features, grouped along `k`) times a weight matrix of `k x n`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Module types of a decoder layer. The first four are the FP-INT GeMMs whose input activations
# the Anda precision search assigns a mantissa width (anda.md §3.1); `qk` and `pv` are the FP16
# attention matmuls; `lm_head` is the final projection.
FP_INT_MODULES = ("qkv", "o", "up", "down")
# A generic GeMM of a foreign topology (a SCALE-Sim layer): FP16 activations x FP16 weights, no
# Anda precision, no consumer; its right operand is `fp16`.
GENERIC_MODULE = "gemm"
MODULE_TYPES = (*FP_INT_MODULES, "qk", "pv", "lm_head", GENERIC_MODULE)
WEIGHT_OPERANDS = ("int4", "activation", "fp16")


@dataclass(frozen=True)
class GeMM:
    """An `m x k` by `k x n` matrix product, repeated `count` times with the same shape.

    `weight_operand` says what the right-hand matrix is: `int4` weights from DRAM (the FP-INT
    GeMMs and lm_head), `activation` (attention: K or V of the KV cache, FP16) or `fp16`
    (unquantized FP16 weights of a generic `gemm`, e.g. a SCALE-Sim topology layer).
    """

    name: str
    module: str
    layer: int
    m: int
    k: int
    n: int
    count: int = 1
    weight_operand: str = "int4"

    def __post_init__(self) -> None:
        if self.module not in MODULE_TYPES:
            raise ValueError(f"unknown module type {self.module!r}; valid: {', '.join(MODULE_TYPES)}")
        if min(self.m, self.k, self.n, self.count) <= 0:
            raise ValueError(f"GeMM {self.name}: sizes must be positive, got m={self.m} k={self.k} "
                             f"n={self.n} count={self.count}")
        if self.weight_operand not in WEIGHT_OPERANDS:
            raise ValueError(f"weight_operand must be one of {', '.join(WEIGHT_OPERANDS)}, "
                             f"got {self.weight_operand!r}")

    @property
    def macs(self) -> int:
        return self.m * self.k * self.n * self.count

    @property
    def shape_key(self) -> tuple[str, int, int, int, int, str]:
        """Identity for simulation caching: GeMMs with equal keys cost the same."""
        return (self.module, self.m, self.k, self.n, self.count, self.weight_operand)

    def to_dict(self) -> dict:
        return asdict(self)
