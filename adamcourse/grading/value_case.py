"""Numeric-answer questions (gd_max_lr_answer, ...): :class:`ValueCase`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .case import Case, CaseError, CaseResult, _describe


@dataclass(frozen=True, kw_only=True)
class ValueCase(Case):
    """A numeric answer held in a module-level variable (``exercise`` is its name)."""

    expected_value: float
    variable: str = ""
    rtol: float = 1e-6
    atol: float = 0.0

    def __post_init__(self):
        if not self.variable:
            object.__setattr__(self, "variable", self.exercise)

    def inputs(self) -> dict[str, Any]:
        return {}

    def run(self, value, inputs=None) -> np.ndarray:
        if value is None or value is Ellipsis:
            shown = "..." if value is Ellipsis else "None"
            raise CaseError(f"{self.variable} is not answered yet (it is {shown}): assign a number to it")
        if isinstance(value, (str, bytes)) or callable(value):
            raise CaseError(f"{self.variable} must be a number, got {_describe(value)}")
        try:
            a = np.array(value, dtype=np.float64)
        except Exception as e:
            raise CaseError(f"{self.variable} must be a number, got {_describe(value)} "
                            f"({type(e).__name__}: {e})") from None
        if a.size != 1:
            raise CaseError(f"{self.variable} must be a single number, got an array of shape {a.shape}")
        return a.reshape(())

    def expected(self) -> np.ndarray:
        return np.array(self.expected_value, dtype=np.float64)

    def judge(self, got) -> CaseResult:
        try:
            got = np.asarray(got, dtype=np.float64)
        except Exception as e:
            return self.result(False, f"the answer is not numeric ({type(e).__name__}: {e})")
        if got.size != 1:
            return self.result(False, f"wrong shape: expected a single number, got shape {got.shape}")
        value = float(got.reshape(()))
        if not math.isfinite(value):
            return self.result(False, f"{self.variable} is {value!r} (NaN or inf), not a finite number")
        if math.isclose(value, self.expected_value, rel_tol=self.rtol, abs_tol=self.atol):
            return self.result(True, f"{self.variable} = {value:.10g} is correct")
        from .mistakes import MISTAKES
        hint = next((h for h, wrong in MISTAKES.get(self.exercise, ())
                     if math.isclose(value, wrong, rel_tol=self.rtol, abs_tol=self.atol)), None)
        return self.result(False, f"{self.variable} = {value:.10g} is not the expected answer "
                                  f"(checked to a relative tolerance of {self.rtol:g})", hint)

