r"""Adam with its two moments stored in 8 bits: blockwise dynamic quantisation (Dettmers et al., 2022).

Adam keeps :math:`m_t` and :math:`v_t` in fp32: 8 bytes per parameter. 8-bit Adam cuts the tensor into blocks of
``block`` = 2048 values, divides each block by its absolute maximum (one fp32 *scale* per block) and stores each
value as the 8-bit code of the nearest entry of a fixed, non-linear map of :math:`[-1, 1]` (of :math:`[0, 1]` for
:math:`v`): 2 bytes per parameter for the two buffers, plus 8 bytes per 2048 parameters for the scales. Each
step dequantises :math:`m, v`, takes :func:`adamcourse.optim.adam.step` in full precision and quantises the new
:math:`m_t, v_t` again:

.. math::

    m_{t-1} &\leftarrow s^m_b\, q_{\pm}[c^m], \qquad v_{t-1} \leftarrow s^v_b\, q_{+}[c^v]
        \quad\text{(dequantise: code } c\text{ in block } b\text{)} \\
    \theta_t, m_t, v_t &\leftarrow \text{Adam}(\theta_{t-1}, g_t, m_{t-1}, v_{t-1}) \\
    s_b &\leftarrow \max_{i \in b} |x_i|, \qquad c_i \leftarrow \arg\min_j |x_i / s_b - q[j]|
        \quad\text{(quantise } x = m_t, v_t\text{)}

**The map** :math:`q` is the *dynamic tree* map of the paper (Dettmers, 2016), built by :func:`dynamic_map`.
After the sign bit (none for :math:`v`), a code's leading zeros count a decimal exponent :math:`e`, the next 1
is an indicator bit and the remaining bits :math:`k` index a linear grid of :math:`2^k` values in
:math:`(0.1, 1] \times 10^{-e}`. Large values get many fraction bits, small ones a large exponent range: with
7 bits the positive values run from :math:`10^{-6}` to 1 (to :math:`10^{-7}` with the 8 bits of the unsigned
map), where a linear 8-bit map would round everything below :math:`1/254` of the block maximum to zero, which
for :math:`v` (the square of the gradient) is most of it. The rounding error of a value is at most half the gap
of the map around it; over a block at most :math:`0.45 / 2^{6} \approx 0.7\%` of the block maximum for the signed
map and :math:`0.45/2^{7} \approx 0.35\%` for the unsigned one (:func:`max_error`). One exception to nearest
rounding: a positive :math:`v` below half the smallest entry (:math:`10^{-7}` of its block's maximum) is
rounded *up* to that entry, not to 0. A coordinate whose gradients are :math:`10^{4}` times smaller than its
block's largest would otherwise keep :math:`m \ne 0` (relative size :math:`10^{-4}` survives the signed map)
with :math:`v = 0`, and step by :math:`\eta\, \hat m / \epsilon`, far more than :math:`\eta`; rounding
:math:`v` up can only shorten a step.

Where this sits next to bitsandbytes' ``Adam8bit``: the same block size, per-block absmax and tree map idea,
but the grid of each exponent ends exactly at :math:`1 \times 10^{-e}` (so the block maximum and its
neighbours in the map are exact) and codes are symmetric int8 for :math:`m`, uint8 for :math:`v`; every tensor is
quantised (bitsandbytes keeps tensors under 4096 values in 32 bits) and nothing is fused or stochastic. AMSGrad
is not offered. Scales are kept in the parameter's dtype.

Example::

    >>> import numpy as np
    >>> from adamcourse.optim import adam8bit
    >>> x = np.array([0.55, -1.0, 0.001, 0.3])
    >>> codes, scales = adam8bit.quantize(x)
    >>> codes, scales                                 # one block: its scale is max |x| = 1
    (array([  95, -127,   15,   77], dtype=int8), array([1.]))
    >>> adam8bit.dequantize(codes, scales, x.shape)   # 0.55, -1 and 0.001 are in the map, 0.3 is not
    array([ 0.55    , -1.      ,  0.001   ,  0.296875])
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import torch

from . import adam
from ._common import Array, document_fields, hyperparameters, is_torch
from ._torch import FunctionalOptimizer, WholeTensorOptimizer

BLOCK = 2048


# ---------------------------------------------------------------- the quantiser


@functools.cache
def dynamic_map(signed: bool = True) -> np.ndarray:
    """The non-negative half of the dynamic tree map, ascending: 128 values (signed) or 256 (unsigned), from 0
    to 1. A signed code ``c`` in -127..127 means ``sign(c) * map[|c|]``, an unsigned code ``c`` means ``map[c]``."""
    bits = 7 if signed else 8                         # bits left after the sign
    values = [0.0]                                    # the all-zero code
    for e in range(bits):                             # e zeros, the indicator bit, k fraction bits
        k = bits - 1 - e
        values += list(10.0**-e * np.linspace(0.1, 1.0, 2**k + 1)[1:])   # 2^k values in (0.1, 1] x 10^-e
    out = np.sort(np.array(values))
    out.flags.writeable = False
    return out


def max_error(signed: bool = True) -> float:
    """The largest rounding error of the map, relative to the block's absolute maximum: half its widest gap."""
    return float(np.diff(dynamic_map(signed)).max() / 2)


def _check_block(block: int) -> None:
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block <= 0:
        raise ValueError(f"block must be a positive integer, got block={block!r} (valid: 1, 2, ...)")


def _check_float(x: Array, name: str) -> None:
    floating = x.is_floating_point() if is_torch(x) else np.issubdtype(x.dtype, np.floating)
    if not floating:
        raise ValueError(f"{name} must be a floating-point array, got dtype {x.dtype} (valid: float16, float32, "
                         "float64, bfloat16)")


def _blocks(x: Array, block: int) -> Array:
    """Flatten and zero-pad to whole blocks: shape (number of blocks, block)."""
    n = math.prod(x.shape)
    pad = -n % block
    if is_torch(x):
        return torch.nn.functional.pad(x.reshape(-1), (0, pad)).reshape(-1, block)
    return np.pad(x.reshape(-1), (0, pad)).reshape(-1, block)


def quantize(x: Array, block: int = BLOCK, *, signed: bool = True) -> tuple[Array, Array]:
    """``x`` (NumPy or torch, any shape) -> ``(codes, scales)``: int8 codes (uint8 if not ``signed``, which needs
    ``x >= 0``) of ``x.size`` values, flattened, and one scale (the absolute maximum) per block, in x's dtype.

    Each value gets the code of the nearest map entry, except that with ``signed=False`` a positive value never
    gets the code of 0 (it gets the smallest positive entry instead)."""
    _check_block(block)
    x = np.asarray(x) if not is_torch(x) else x
    _check_float(x, "x")
    if not signed and bool((x < 0).any()):
        raise ValueError("signed=False quantises non-negative values (v), but x has negative entries: use "
                         "signed=True")
    n, blocks = math.prod(x.shape), _blocks(x, block)
    if is_torch(x):
        scales = blocks.abs().amax(dim=1) if n else blocks.new_zeros(0)
        safe = torch.where(scales > 0, scales, torch.ones_like(scales))
        y = (blocks / safe[:, None]).reshape(-1)[:n]                          # in [-1, 1]
        q = torch.tensor(dynamic_map(signed), dtype=x.dtype, device=x.device)
        index = torch.searchsorted((q[1:] + q[:-1]) / 2, y.abs().contiguous())  # nearest map entry
        if not signed:
            index = torch.where(y > 0, index.clamp(min=1), index)             # v > 0 never becomes 0
        codes = (index * torch.sign(y).to(index.dtype)) if signed else index
        return codes.to(torch.int8 if signed else torch.uint8), scales
    scales = np.abs(blocks).max(axis=1) if n else np.zeros(0, x.dtype)
    y = (blocks / np.where(scales > 0, scales, 1)[:, None]).reshape(-1)[:n]
    q = dynamic_map(signed).astype(x.dtype)
    index = np.searchsorted((q[1:] + q[:-1]) / 2, np.abs(y))
    if not signed:
        index = np.where(y > 0, np.maximum(index, 1), index)
    codes = index * np.sign(y).astype(index.dtype) if signed else index
    return codes.astype(np.int8 if signed else np.uint8), scales


def dequantize(codes: Array, scales: Array, shape: tuple[int, ...], block: int = BLOCK) -> Array:
    """The values ``codes`` stand for, ``map[code] * scale`` of their block, in ``scales``' dtype and ``shape``."""
    _check_block(block)
    _check_float(scales, "scales")
    if codes.dtype not in (np.int8, np.uint8, torch.int8, torch.uint8):
        raise ValueError(f"codes must be int8 (signed map) or uint8 (unsigned map), got dtype {codes.dtype}")
    n = math.prod(shape)
    if math.prod(codes.shape) != n or len(scales) != -(-n // block):
        raise ValueError(f"{math.prod(codes.shape)} codes and {len(scales)} scales do not make shape {tuple(shape)} "
                         f"in blocks of {block}: need {n} codes and {-(-n // block)} scales")
    signed = codes.dtype in (np.int8, torch.int8)
    if is_torch(codes):
        q = torch.tensor(dynamic_map(signed), dtype=scales.dtype, device=scales.device)
        c = codes.reshape(-1).long()
        y = q[c.abs()] * torch.sign(c).to(scales.dtype)
    else:
        q = dynamic_map(signed).astype(scales.dtype)
        c = codes.reshape(-1).astype(np.int64)
        y = q[np.abs(c)] * np.sign(c).astype(scales.dtype)
    return (_blocks(y, block) * scales[:, None]).reshape(-1)[:n].reshape(tuple(shape))


# ---------------------------------------------------------------- the optimizer


class Adam8bitState(NamedTuple):
    t: int               # steps taken so far
    m_codes: Array       # int8 codes of m_t, flattened
    m_scales: Array      # one absmax of m_t per block
    v_codes: Array       # uint8 codes of v_t, flattened
    v_scales: Array      # one absmax of v_t per block


document_fields(
    Adam8bitState, t=r":math:`t`, the number of steps taken (``step`` in the state dict).",
    m_codes=r"int8 codes of :math:`m_t` in the signed map, flattened (``exp_avg_codes``).",
    m_scales=r"the absolute maximum of :math:`m_t` in each block, :math:`s^m_b` (``exp_avg_scales``).",
    v_codes=r"uint8 codes of :math:`v_t` in the unsigned map, flattened (``exp_avg_sq_codes``).",
    v_scales=r"the absolute maximum of :math:`v_t` in each block, :math:`s^v_b` (``exp_avg_sq_scales``).")


def init(theta: Array, *, block: int = BLOCK) -> Adam8bitState:
    """m_0 = v_0 = 0 (all codes 0, all scales 0), t = 0."""
    zero = theta * 0
    m_codes, m_scales = quantize(zero, block)
    v_codes, v_scales = quantize(zero, block, signed=False)
    return Adam8bitState(t=0, m_codes=m_codes, m_scales=m_scales, v_codes=v_codes, v_scales=v_scales)


@hyperparameters
def step(theta: Array, grad: Array, state: Adam8bitState, *, lr: float = 1e-3, beta1: float = 0.9,
         beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0, maximize: bool = False,
         decoupled_weight_decay: bool = False, block: int = BLOCK) -> tuple[Array, Adam8bitState]:
    """One 8-bit Adam step: dequantise m and v, one :func:`adamcourse.optim.adam.step`, quantise again."""
    _check_float(theta, "theta")
    m = dequantize(state.m_codes, state.m_scales, theta.shape, block)     # m_{t-1}
    v = dequantize(state.v_codes, state.v_scales, theta.shape, block)     # v_{t-1}
    theta, full = adam.step(theta, grad, adam.AdamState(t=state.t, m=m, v=v), lr=lr, beta1=beta1, beta2=beta2,
                            eps=eps, weight_decay=weight_decay, maximize=maximize,
                            decoupled_weight_decay=decoupled_weight_decay)
    m_codes, m_scales = quantize(full.m, block)                           # m_t, 8 bits
    v_codes, v_scales = quantize(full.v, block, signed=False)             # v_t, 8 bits
    return theta, Adam8bitState(t=full.t, m_codes=m_codes, m_scales=m_scales, v_codes=v_codes, v_scales=v_scales)


class Adam8bit(WholeTensorOptimizer, FunctionalOptimizer):
    """:class:`torch.optim.Adam`'s constructor (without ``amsgrad``) plus ``block``, running :func:`step` on
    each real parameter; the state dict holds the codes and scales. Only the single-tensor path."""

    compile_refusal = "its state is 8-bit codes and per-block scales, requantised every step"

    state_keys = {"m_codes": "exp_avg_codes", "m_scales": "exp_avg_scales", "v_codes": "exp_avg_sq_codes",
                  "v_scales": "exp_avg_sq_scales"}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, block=BLOCK,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay, block=block)
        super().__init__(params, defaults, foreach=foreach, fused=fused, capturable=capturable,
                         differentiable=differentiable)

    def load_state_dict(self, state_dict):
        """As torch's, which casts every state tensor to its parameter's dtype; the codes are cast back (they are
        small integers, exact in any float dtype)."""
        super().load_state_dict(state_dict)
        for state in self.state.values():
            for key, dtype in [("exp_avg_codes", torch.int8), ("exp_avg_sq_codes", torch.uint8)]:
                if key in state:
                    state[key] = state[key].to(dtype)
