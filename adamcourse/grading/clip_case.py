"""A case for the RNN lab's exercise: clip a list of gradients by their global norm, as
``torch.nn.utils.clip_grad_norm_`` does.

The student writes ``clip_grad_norm(grads, max_norm) -> list of arrays``: with the total norm
:math:`\\|g\\| = \\sqrt{\\sum_i \\|g_i\\|_2^2}` over all the arrays, every array is multiplied by
:math:`c = \\min(1, \\text{max\\_norm} / (\\|g\\| + 10^{-6}))` (torch's formula, its 1e-6 included); new arrays
are returned and the arguments are left unchanged. :meth:`ClipCase.run` returns the clipped arrays flattened
and concatenated, float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .case import MUTATION_HINT, Case, CaseError, CaseResult

SIGNATURE = "clip_grad_norm(grads, max_norm) -> list of arrays (the clipped gradients, same shapes)"


@dataclass(frozen=True, kw_only=True)
class ClipCase(Case):
    """Gradients of ``shapes`` drawn N(0, scale^2) with ``seed``, clipped to ``max_norm``."""

    shapes: tuple = ((3, 4), (4,), (2, 2, 2))
    scale: float = 1.0
    max_norm: float = 1.0
    seed: int = 0
    rtol: float = 1e-10
    atol: float = 1e-14

    def inputs(self) -> dict[str, Any]:
        rng = np.random.default_rng(self.seed)
        grads = {f"g{i}": rng.standard_normal(shape) * self.scale for i, shape in enumerate(self.shapes)}
        return {**grads, "max_norm": self.max_norm}

    def run(self, fn, inputs) -> np.ndarray:
        grads = [np.array(inputs[f"g{i}"], dtype=np.float64) for i in range(len(self.shapes))]
        before = [g.copy() for g in grads]
        with np.errstate(all="ignore"):
            out = fn(grads, float(inputs["max_norm"]))
        for i, (old, new) in enumerate(zip(before, grads, strict=True)):
            if not np.array_equal(old, new, equal_nan=True):
                raise CaseError(f"{self.exercise} {MUTATION_HINT}: grads[{i}] changed during the call; return new "
                                f"arrays (g * c) instead of scaling in place (g *= c)")
        if not isinstance(out, (list, tuple)) or len(out) != len(grads):
            raise CaseError(f"{self.exercise} returned {_describe(out)}; expected a list of {len(grads)} arrays, "
                            f"one per gradient")
        flat = []
        for i, (g, o) in enumerate(zip(grads, out, strict=True)):
            try:
                a = np.array(o, dtype=np.float64)
            except Exception as e:
                raise CaseError(f"{self.exercise}: element {i} is not numeric: {_describe(o)} "
                                f"({type(e).__name__}: {e})") from None
            if a.shape != g.shape:
                raise CaseError(f"{self.exercise}: element {i} has shape {a.shape}; expected {g.shape}, the shape "
                                f"of grads[{i}]")
            flat.append(a.ravel())
        return np.concatenate(flat)

    def expected(self) -> np.ndarray:
        from .references import REFERENCES
        return self.run(REFERENCES[self.exercise], self.inputs())

    def _same(self, a, b) -> bool:
        return a.shape == b.shape and bool(np.isclose(a, b, rtol=self.rtol, atol=self.atol).all())

    def judge(self, got) -> CaseResult:
        expected = self.expected()
        got = np.asarray(got, dtype=np.float64)
        norm = float(np.sqrt(sum(np.sum(np.asarray(v) ** 2) for k, v in self.inputs().items() if k != "max_norm")))
        what = f"total norm {norm:.4g}, max_norm {self.max_norm:g}"
        if self._same(got, expected):
            return self.result(True, f"every clipped value matches ({what})")
        bad = ~np.isclose(got, expected, rtol=self.rtol, atol=self.atol) if got.shape == expected.shape else None
        if bad is None:
            return self.result(False, f"wrong size: expected {expected.size} values, got {got.size}")
        i = int(np.argmax(bad))
        message = (f"{int(bad.sum())} of {got.size} values differ ({what}); first at flat index {i}: expected "
                   f"{expected[i]:.12g}, got {got[i]:.12g}")
        hint = None if not np.isfinite(got).all() else self._hint(expected, got)
        return self.result(False, message, hint)


def _describe(x) -> str:
    from .case import _describe as describe
    return describe(x)
