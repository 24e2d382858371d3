"""The base of every case type: :class:`Case` (inputs, run, expected, judge), :class:`CaseError` and
:class:`CaseResult`, and the message helpers the case types share.

A case *runs* the student's function on inputs it chooses (:meth:`Case.inputs`, :meth:`Case.run`) and *judges*
the plain float64 array that comes back (:meth:`Case.judge`; in the parent). Judging never calls anything the
student returned. This module imports only NumPy and nothing else of the grading kit (the registry,
:mod:`adamcourse.grading.spec`, imports the case types; never the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MUTATION_HINT = "mutates its inputs"


class CaseError(Exception):
    """The student's function returned something that cannot be judged (arity, shape, type), or it
    mutated its inputs. The message is written for the student."""


@dataclass
class CaseResult:
    exercise: str
    case: str
    hidden: bool
    points: float
    max_points: float
    passed: bool
    message: str
    hint: str | None = None
    error_tail: str | None = None


@dataclass(frozen=True)
class Case:
    """One test of one exercise. Subclasses define :meth:`inputs`, :meth:`run` and :meth:`expected`."""

    exercise: str
    name: str
    points: float = 1.0
    hidden: bool = False

    def inputs(self) -> dict[str, Any]:
        raise NotImplementedError

    def run(self, fn, inputs) -> np.ndarray:
        raise NotImplementedError

    def expected(self) -> np.ndarray:
        raise NotImplementedError

    def judge(self, got) -> CaseResult:
        raise NotImplementedError

    def result(self, passed: bool, message: str, hint: str | None = None,
               error_tail: str | None = None) -> CaseResult:
        return CaseResult(self.exercise, self.name, self.hidden, self.points if passed else 0.0, self.points,
                          passed, message, hint, error_tail)

    def _same(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether two outputs agree within this case's tolerances (for hints)."""
        raise NotImplementedError

    def _as_expected(self, got, expected: np.ndarray, noun: str, shape_note: str = ""):
        """``(got as float64, None)``, or ``(None, failed result)`` when ``got`` is not numeric or its shape
        is not ``expected``'s."""
        try:
            got = np.asarray(got, dtype=np.float64)
        except Exception as e:
            return None, self.result(False, f"{noun} not numeric ({type(e).__name__}: {e})")
        if got.shape != expected.shape:
            return None, self.result(False, f"wrong shape: expected {expected.shape}{shape_note}, got {got.shape}")
        return got, None

    def _hint(self, expected: np.ndarray, got: np.ndarray) -> str | None:
        """The name of the known mistake (mistakes.py) whose output ``got`` matches, if any."""
        from .mistakes import MISTAKES
        if (~np.isfinite(got) & np.isfinite(expected)).any():
            return None  # a NaN is its own diagnosis: it would also "match" any variant that divides by 0
        inputs = None
        for hint, wrong in MISTAKES.get(self.exercise, ()):
            inputs = self.inputs() if inputs is None else inputs
            try:
                with np.errstate(all="ignore"):
                    out = self.run(wrong, inputs)
            except Exception:  # a variant that cannot run on this case says nothing
                continue
            if self._same(got, out) and not self._same(out, expected):
                return hint
        return None

    def error_result(self, message: str, error_tail: str | None = None) -> CaseResult:
        """A failed result for a case whose run raised (CaseError, an exception, a timeout): ``message`` is
        shown as it is; a mutation of the inputs gets the hint ``"mutates its inputs"``."""
        return self.result(False, message, MUTATION_HINT if MUTATION_HINT in message else None, error_tail)


# ---------------------------------------------------------------- message helpers


def _describe(x) -> str:
    text = repr(x)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{type(x).__name__} {text}"


def _excerpt(a: np.ndarray, k: int = 0, width: int = 6) -> str:
    """A few numbers of ``a`` (flattened) around flat index ``k``."""
    flat = np.ravel(a)
    start = max(0, min(k - 2, flat.size - width))
    body = ", ".join(f"{x:.10g}" for x in flat[start:start + width])
    return f"[{'..., ' if start > 0 else ''}{body}{', ...' if start + width < flat.size else ''}]"
