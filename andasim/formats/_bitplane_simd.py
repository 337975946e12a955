"""Bit-plane transposes as single vector instructions, for the Anda encode and decode kernels.

Why: a bit plane packs bit t of 64 values into one word. Written as a loop in numba
(`acc |= ((m_j >> t) & 1) << j`) it compiles to shifts and a horizontal OR per plane. That left
`anda_encode` at 3.3-4.5x a memory copy (issue 17). The transpose is one vector compare whose lane
mask is the answer. On AVX-512 that is `vptestmw` over 32 uint16 lanes; on other targets LLVM lowers
the same IR to their mask-extraction idiom. numba has no vector types, so the two helpers emit that
LLVM IR directly (numba's documented `@intrinsic` extension).

* `plane_bits32(values, offset, bit)`: bit `bit` of the 32 uint16 values `values[offset:offset + 32]`
  as a uint32, with value j in bit j (encode).
* `push_plane32(values, offset, word)`: `values[offset + j] = (values[offset + j] << 1) | bit j of
  word`, for the 32 uint16 values (decode: planes arrive MSB first).

The caller guarantees `offset + 32 <= values.size`: the kernels pass 64-value staging buffers, or input
slices of whole 64-value groups. Bit-exactness is tested through the kernels against the numpy
references (tests/test_formats_anda.py, tests/test_formats_kernels.py).

numba's on-disk cache checks only the source file of each cached kernel (`_anda_kernels.py`), not this
one: after editing it, delete `andasim/formats/__pycache__/_anda_kernels.*.nb*` so the kernels recompile.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_LANES = 32
_I16 = ir.IntType(16)
_VEC = ir.VectorType(_I16, _LANES)


def _lanes(context, builder, signature, args):
    """(pointer to, vector of) the 32 uint16 at `values[offset]`, for the intrinsics' (values, offset, _)."""
    array, offset = args[0], context.cast(builder, args[1], signature.args[1], types.intp)
    data = context.make_array(signature.args[0])(context, builder, array).data
    pointer = builder.bitcast(builder.gep(data, [offset]), _VEC.as_pointer())
    return pointer, builder.load(pointer, align=2)


def _splat(builder, value):
    """`value` (an i16) in all 32 lanes."""
    one_lane = builder.insert_element(ir.Constant(_VEC, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), _LANES), [0] * _LANES)
    return builder.shuffle_vector(one_lane, ir.Constant(_VEC, ir.Undefined), zeros)


def _typed_ok(values, offset, scalar) -> bool:
    """A 1-D uint16 array, an integer offset and an integer bit or word (else numba reports no match)."""
    return (isinstance(values, types.Array) and values.dtype == types.uint16 and values.ndim == 1
            and isinstance(offset, types.Integer) and isinstance(scalar, types.Integer))


@intrinsic
def plane_bits32(typingctx, values, offset, bit):
    if not _typed_ok(values, offset, bit):
        return None

    def codegen(context, builder, signature, args):
        _, lanes = _lanes(context, builder, signature, args)
        mask = _splat(builder, builder.shl(ir.Constant(_I16, 1), builder.trunc(args[2], _I16)))
        hit = builder.icmp_unsigned("!=", builder.and_(lanes, mask), ir.Constant(_VEC, None))
        return builder.bitcast(hit, ir.IntType(_LANES))

    return types.uint32(values, offset, bit), codegen


@intrinsic
def push_plane32(typingctx, values, offset, word):
    if not _typed_ok(values, offset, word):
        return None

    def codegen(context, builder, signature, args):
        ptr, lanes = _lanes(context, builder, signature, args)
        bits = builder.zext(builder.bitcast(builder.trunc(args[2], ir.IntType(_LANES)),
                                            ir.VectorType(ir.IntType(1), _LANES)), _VEC)
        builder.store(builder.or_(builder.shl(lanes, _splat(builder, ir.Constant(_I16, 1))), bits), ptr,
                      align=2)
        return context.get_dummy_value()

    return types.none(values, offset, word), codegen
