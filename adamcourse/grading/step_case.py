"""Optimizer step exercises (adam_step, rmsprop_step, ...): their signatures, default hyperparameters and
:class:`StepCase`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .case import MUTATION_HINT, Case, CaseError, CaseResult, _describe, _excerpt

# exercise -> (argument names in order, output names in order). The state is outputs[1:]; the hyperparameters
# are the arguments after the state (and after t, where there is one).
STEP_SIGNATURES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sgd_momentum_step": (("theta", "g", "b", "lr", "momentum"), ("theta", "b")),
    "adagrad_step": (("theta", "g", "G", "lr", "eps"), ("theta", "G")),
    "rmsprop_step": (("theta", "g", "v", "lr", "alpha", "eps"), ("theta", "v")),
    "adam_step": (("theta", "g", "m", "v", "t", "lr", "beta1", "beta2", "eps"), ("theta", "m", "v")),
    "amsgrad_step": (("theta", "g", "m", "v", "v_max", "t", "lr", "beta1", "beta2", "eps"),
                     ("theta", "m", "v", "v_max")),
    "adamw_step": (("theta", "g", "m", "v", "t", "lr", "beta1", "beta2", "eps", "weight_decay"),
                   ("theta", "m", "v")),
    "radam_step": (("theta", "g", "m", "v", "t", "lr", "beta1", "beta2", "eps"), ("theta", "m", "v")),
}

#: Hyperparameters of every step exercise unless a case overrides them (PyTorch's defaults, larger lr for SGD).
DEFAULT_HYPER: dict[str, dict[str, float]] = {
    "sgd_momentum_step": {"lr": 0.1, "momentum": 0.9},
    "adagrad_step": {"lr": 0.1, "eps": 1e-10},
    "rmsprop_step": {"lr": 0.01, "alpha": 0.99, "eps": 1e-8},
    "adam_step": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "amsgrad_step": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "adamw_step": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 1e-2},
    "radam_step": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}


@dataclass(frozen=True, kw_only=True)
class StepCase(Case):
    """Feed ``steps`` seeded gradients to a step function, t = start_t, start_t + 1, ..., and record every
    returned array: :meth:`run` gives shape ``(steps, n_outputs, *shape)``.

    ``scale`` multiplies the N(0, 1) gradients. With ``start_t > 1`` the initial state is the reference's
    after ``start_t - 1`` steps on other seeded gradients (CS231n's Adam check starts at t=5). The first
    ``zero_steps`` gradients the student's function receives are zero (the warm-up's are not).
    ``hyper`` overrides :data:`DEFAULT_HYPER`; ``dtype`` is the dtype of the arrays the student receives.
    """

    shape: tuple = (3,)
    steps: int = 5
    seed: int = 0
    start_t: int = 1
    scale: float = 1.0
    zero_steps: int = 0
    hyper: dict = field(default_factory=dict)
    rtol: float = 1e-7
    atol: float = 1e-10
    dtype: str = "float64"

    def __post_init__(self):
        if self.exercise not in STEP_SIGNATURES:
            raise ValueError(f"StepCase for unknown exercise {self.exercise!r}; valid: {', '.join(STEP_SIGNATURES)}")
        unknown = set(self.hyper) - set(DEFAULT_HYPER[self.exercise])
        if unknown:
            raise ValueError(f"{self.exercise} case {self.name!r}: unknown hyperparameters {sorted(unknown)}; "
                             f"valid: {', '.join(DEFAULT_HYPER[self.exercise])}")
        if self.steps < 1 or self.start_t < 1:
            raise ValueError(f"{self.exercise} case {self.name!r}: steps and start_t must be >= 1")
        if not 0 <= self.zero_steps <= self.steps:
            raise ValueError(f"{self.exercise} case {self.name!r}: zero_steps must be from 0 to steps "
                             f"({self.steps}), got {self.zero_steps}")
        object.__setattr__(self, "shape", tuple(self.shape))

    # -- what the case is made of
    @property
    def arg_names(self) -> tuple[str, ...]:
        return STEP_SIGNATURES[self.exercise][0]

    @property
    def output_names(self) -> tuple[str, ...]:
        return STEP_SIGNATURES[self.exercise][1]

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.output_names[1:]

    @property
    def hyper_values(self) -> dict[str, float]:
        return {**DEFAULT_HYPER[self.exercise], **self.hyper}

    def _call(self, fn, theta, g, state, t, hyper):
        values = {"theta": theta, "g": g, "t": t, **state, **hyper}
        args = [values[name] for name in self.arg_names]
        return fn(*args), args

    # -- the interface
    def inputs(self) -> dict[str, Any]:
        """theta, grads (steps, *shape), the initial state by name, t0, and the hyperparameters."""
        rng = np.random.default_rng(self.seed)
        theta = rng.standard_normal(self.shape)
        grads = rng.standard_normal((self.steps, *self.shape)) * self.scale
        grads[:self.zero_steps] = 0.0
        state = {name: np.zeros(self.shape) for name in self.state_names}
        hyper = self.hyper_values
        if self.start_t > 1:
            from .references import REFERENCES
            warm = rng.standard_normal((self.start_t - 1, *self.shape)) * self.scale
            for i, g in enumerate(warm):
                (theta, *rest), _ = self._call(REFERENCES[self.exercise], theta, g, state, i + 1, hyper)
                state = dict(zip(self.state_names, rest, strict=True))
        dtype = np.dtype(self.dtype)
        arrays = {"theta": theta, "grads": grads, **state}
        return {**{k: np.asarray(a, dtype=dtype) for k, a in arrays.items()}, "t0": self.start_t, **hyper}

    def run(self, fn, inputs) -> np.ndarray:
        """Call ``fn`` once per gradient, feeding its own outputs back in. Raises :class:`CaseError` on a
        wrong number of outputs, a wrong shape, a non-numeric output, or a mutated input."""
        dtype = np.dtype(self.dtype)
        theta = np.array(inputs["theta"], dtype=dtype)
        grads = np.array(inputs["grads"], dtype=dtype)
        state = {name: np.array(inputs[name], dtype=dtype) for name in self.state_names}
        hyper = {name: float(inputs[name]) for name in self.hyper_values}
        t = int(inputs["t0"])
        rows = []
        for i, g in enumerate(grads):
            before = {"theta": theta.copy(), "g": g.copy(), **{k: a.copy() for k, a in state.items()}}
            with np.errstate(all="ignore"):
                out, args = self._call(fn, theta, g, state, t, hyper)
            for name, old in before.items():
                new = args[self.arg_names.index(name)]
                if not np.array_equal(old, new, equal_nan=True):
                    raise CaseError(
                        f"{self.exercise} {MUTATION_HINT} ({name}): the array passed as {name!r} changed during "
                        f"the call at step {i + 1}{self._t_label(t)}. Return new arrays (m = beta1 * m + ...) "
                        f"instead of updating the arguments in place (m *= ..., m[:] = ..., m += ...).")
            outs = self._outputs(out, i, t)
            rows.append(np.stack(outs))
            theta = outs[0].astype(dtype)
            state = {name: a.astype(dtype) for name, a in zip(self.state_names, outs[1:], strict=True)}
            t += 1
        return np.stack(rows)

    def _t_label(self, t: int) -> str:
        return f" (t={t})" if "t" in self.arg_names else ""

    def _outputs(self, out, i: int, t: int) -> list[np.ndarray]:
        names = self.output_names
        want = f"a tuple of {len(names)} arrays ({', '.join(names)})"
        where = f"at step {i + 1}{self._t_label(t)}"
        if not isinstance(out, (tuple, list)):
            raise CaseError(f"{self.exercise} returned {_describe(out)} {where}; expected {want}")
        if len(out) != len(names):
            raise CaseError(f"{self.exercise} returned {len(out)} value{'s' * (len(out) != 1)} {where}; "
                            f"expected {want}")
        arrays = []
        for name, x in zip(names, out, strict=True):
            try:
                a = np.array(x, dtype=np.float64)
            except Exception as e:  # anything that is not plain numbers
                raise CaseError(f"{self.exercise}: output {name!r} is not numeric {where}: got {_describe(x)} "
                                f"({type(e).__name__}: {e})") from None
            if a.shape != self.shape:
                raise CaseError(f"{self.exercise}: output {name!r} has shape {a.shape} {where}; expected "
                                f"{self.shape}, the shape of theta")
            arrays.append(a)
        return arrays

    def expected(self) -> np.ndarray:
        from .references import REFERENCES
        return self.run(REFERENCES[self.exercise], self.inputs())

    def judge(self, got) -> CaseResult:
        expected = self.expected()
        got, failed = self._as_expected(got, expected, "the output is",
                                        f" = (steps, outputs ({', '.join(self.output_names)}), *{self.shape})")
        if failed:
            return failed
        message = self._mismatch(expected, got)
        if message is None:
            n = expected.shape[0]
            return self.result(True, f"all {len(self.output_names)} outputs match over {n} step{'s' * (n > 1)}")
        return self.result(False, message, self._hint(expected, got))

    def _close(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.isclose(a, b, rtol=self.rtol, atol=self.atol, equal_nan=True)

    def _mismatch(self, expected: np.ndarray, got: np.ndarray) -> str | None:
        """None when every value is within tolerance, else the message for the student."""
        bad = ~self._close(got, expected)
        nonfinite = ~np.isfinite(got) & np.isfinite(expected)
        if not bad.any():
            return None
        first = tuple(int(i) for i in np.argwhere(nonfinite if nonfinite.any() else bad)[0])
        step, out, element = first[0], first[1], first[2:]
        name = self.output_names[out]
        index = f"[{', '.join(map(str, element))}]" if element else ""
        where = f"{name}{index} after step {step + 1} of {expected.shape[0]}{self._t_label(self.start_t + step)}"
        finite = np.isfinite(got) & np.isfinite(expected)
        err = np.abs(got - expected)[finite]
        rel = (np.abs(got - expected) / np.maximum(np.abs(expected), np.finfo(float).tiny))[finite]
        lines = []
        if nonfinite.any():
            value = got[first]
            kind = "NaN" if np.isnan(value) else "inf" if value > 0 else "-inf"
            lines.append(f"{where} is {kind} (expected {expected[first]:.10g}); "
                         f"{int(nonfinite.sum())} of {got.size} values are NaN or inf")
        else:
            lines.append(f"{where}: expected {expected[first]:.10g}, got {got[first]:.10g}")
        lines.append(f"{int(bad.sum())} of {got.size} values differ (rtol={self.rtol:g}, atol={self.atol:g}); "
                     f"max abs error {err.max(initial=0):.3g}, max rel error {rel.max(initial=0):.3g}; "
                     f"shapes: expected {expected.shape}, got {got.shape}")
        k = int(np.ravel_multi_index(element, self.shape)) if self.shape else 0
        lines.append(f"expected {name} after step {step + 1}: {_excerpt(expected[step, out], k)}")
        lines.append(f"got      {name} after step {step + 1}: {_excerpt(got[step, out], k)}")
        return "\n".join(lines)

    def _same(self, a: np.ndarray, b: np.ndarray) -> bool:
        return a.shape == b.shape and bool(self._close(a, b).all())
