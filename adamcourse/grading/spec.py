"""Exercise specs: case types, the public registry :data:`EXERCISES`, and loading hidden cases.

A case *runs* the student's function on inputs it chooses (:meth:`Case.inputs`, :meth:`Case.run`; in the
grading child, or in-process in :func:`adamcourse.grading.check`) and *judges* the plain float64 array that
comes back (:meth:`Case.judge`; in the parent). Judging never calls anything the student returned, so an
object whose ``__eq__`` always says True cannot pass: :meth:`Case.run` converts every output with
``np.array(..., dtype=float64)`` or raises :class:`CaseError`.

This module imports only NumPy; the references (and so torch) are imported when a case needs them.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MUTATION_HINT = "mutates its inputs"

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
}

#: Hyperparameters of every step exercise unless a case overrides them (PyTorch's defaults, larger lr for SGD).
DEFAULT_HYPER: dict[str, dict[str, float]] = {
    "sgd_momentum_step": {"lr": 0.1, "momentum": 0.9},
    "adagrad_step": {"lr": 0.1, "eps": 1e-10},
    "rmsprop_step": {"lr": 0.01, "alpha": 0.99, "eps": 1e-8},
    "adam_step": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "amsgrad_step": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "adamw_step": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 1e-2},
}


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


# ---------------------------------------------------------------- optimizer step exercises


@dataclass(frozen=True, kw_only=True)
class StepCase(Case):
    """Feed ``steps`` seeded gradients to a step function, t = start_t, start_t + 1, ..., and record every
    returned array: :meth:`run` gives shape ``(steps, n_outputs, *shape)``.

    ``scale`` multiplies the N(0, 1) gradients. With ``start_t > 1`` the initial state is the reference's
    after ``start_t - 1`` steps on other seeded gradients (CS231n's Adam check starts at t=5).
    ``hyper`` overrides :data:`DEFAULT_HYPER`; ``dtype`` is the dtype of the arrays the student receives.
    """

    shape: tuple = (3,)
    steps: int = 5
    seed: int = 0
    start_t: int = 1
    scale: float = 1.0
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

# ---------------------------------------------------------------- numeric-answer questions


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


# ---------------------------------------------------------------- the registry

from .clip_case import SIGNATURE as CLIP_SIGNATURE  # noqa: E402
from .clip_case import ClipCase  # noqa: E402
from .recipe_case import SIGNATURE as RECIPE_SIGNATURE  # noqa: E402
from .recipe_case import RecipeCase  # noqa: E402
from .train_case import DEVICE_SIGNATURE, DeviceTrainCase, TrainCase  # noqa: E402
from .train_case import SIGNATURE as TRAIN_SIGNATURE  # noqa: E402 (needs Case, CaseError, CaseResult above)


@dataclass(frozen=True)
class Exercise:
    name: str
    kind: str                   # "function" | "value"
    cases: tuple[Case, ...]
    signature: str              # for messages: "adam_step(theta, g, m, v, t, lr, beta1, beta2, eps) -> (theta, m, v)"


def _step_exercise(name: str, cases: list[dict]) -> Exercise:
    args, outs = STEP_SIGNATURES[name]
    signature = f"{name}({', '.join(args)}) -> ({', '.join(outs)})"
    return Exercise(name, "function", tuple(StepCase(name, **c) for c in cases), signature)


def _standard_cases(state: str, mid_t: bool, scale: float, eps: bool = True, **extra) -> list[dict]:
    """First step, several steps on a 2-D shape, a mid-run start with non-zero state, tiny gradients (where
    eps matters). ``extra`` overrides fields of every case (e.g. ``hyper``)."""
    start = "t=5" if mid_t else "step 5"
    return [
        dict(name="first step", steps=1, seed=0, **extra),
        dict(name="10 steps on a (2, 3) array", shape=(2, 3), steps=10, seed=1, **extra),
        dict(name=f"mid-run from {start} (non-zero {state})", shape=(4,), steps=3, seed=2, start_t=5, **extra),
        dict(name=f"gradients of size {scale:g}{' (eps matters)' * eps}", steps=4, seed=3, scale=scale,
             atol=1e-12 * scale, **extra),
    ]


def _value_exercise(name: str, value: float, question: str) -> Exercise:
    return Exercise(name, "value", (ValueCase(name, question, expected_value=value),), f"{name} = <a number>")


EXERCISES: dict[str, Exercise] = {e.name: e for e in [
    _step_exercise("sgd_momentum_step", _standard_cases("b", False, 1e-4, eps=False)),
    _step_exercise("adagrad_step", _standard_cases("G", False, 1e-6)),
    _step_exercise("rmsprop_step", _standard_cases("v", False, 1e-4)),
    _step_exercise("adam_step", _standard_cases("m, v", True, 1e-4)),
    _step_exercise("amsgrad_step", _standard_cases("m, v, v_max", True, 1e-4)),
    _step_exercise("adamw_step", _standard_cases("m, v", True, 1e-4, hyper={"lr": 0.01, "weight_decay": 0.1})),
    _value_exercise("gd_max_lr_answer", 2.0 / 4.0,
                    "largest stable constant learning rate of GD on f = 2 theta_1^2 + theta_2^2 / 2 (2/L, L = 4)"),
    _value_exercise("adagrad_effective_lr_answer", 0.1 / (math.sqrt(100 * 2.0**2) + 1e-10),
                    "Adagrad's effective learning rate after 100 steps of g = 2, lr = 0.1, eps = 1e-10"),
    _value_exercise("ema_window_answer", 100.0,
                    "effective window 1/(1 - alpha) of an EMA with alpha = 0.99"),
    _value_exercise("adam_first_step_answer", 0.1 * 2.0 / (2.0 + 1e-8),
                    "theta_1 - theta_0 for Adam's first step, g = -2, lr = 0.1, eps = 1e-8"),
    _value_exercise("rmsprop_first_step_answer", -0.01 / (0.1 + 1e-8),
                    "theta_1 - theta_0 for RMSprop's first step, g = 1, lr = 0.01, alpha = 0.99, eps = 1e-8"),
    Exercise("train_step", "function", (TrainCase("train_step", "30 SGD steps, lr 0.1", optimizer="sgd", lr=0.1),
                                        TrainCase("train_step", "30 Adam steps, lr 0.01", optimizer="adam", lr=0.01,
                                                  seed=1)), TRAIN_SIGNATURE),
    Exercise("device_train_step", "function", (
        DeviceTrainCase("device_train_step", "30 SGD steps, lr 0.1, float32", optimizer="sgd", lr=0.1),
        DeviceTrainCase("device_train_step", "30 Adam steps, lr 0.01, bf16 autocast", optimizer="adam", lr=0.01,
                        seed=1, amp=True, rtol=1e-4, atol=1e-6)), DEVICE_SIGNATURE),
    Exercise("clip_grad_norm", "function", (
        ClipCase("clip_grad_norm", "total norm above max_norm: clipped", scale=5.0, max_norm=1.0),
        ClipCase("clip_grad_norm", "total norm below max_norm: unchanged", scale=0.1, max_norm=1.0, seed=1),
        ClipCase("clip_grad_norm", "five arrays, max_norm 5", shapes=((6,), (2, 3), (1,), (3, 3), (4, 1)), scale=3.0,
                 max_norm=5.0, seed=2)), CLIP_SIGNATURE),
    Exercise("training_recipe", "function", (RecipeCase("training_recipe", "SmallCNN on the digits, seed 0"),),
             RECIPE_SIGNATURE),
]}


class UnknownExercise(KeyError):
    """An exercise name that is not in :data:`EXERCISES` (the message lists the valid ones)."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_exercise(name: str) -> Exercise:
    """The public exercise ``name``; an unknown name raises :class:`UnknownExercise` (a ``KeyError``) listing
    the valid ones."""
    if isinstance(name, str) and name in EXERCISES:
        return EXERCISES[name]
    close = difflib.get_close_matches(str(name), EXERCISES, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownExercise(f"unknown exercise {name!r}.{hint} Valid names: {', '.join(EXERCISES)}")


def load_hidden(path) -> dict[str, list[Case]]:
    """Import every ``*.py`` in ``path`` (a folder or one file) that defines ``HIDDEN_CASES: list[Case]``;
    return the cases by exercise, each marked ``hidden=True``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"hidden test folder {path} does not exist")
    files = sorted(p for p in path.glob("*.py") if not p.name.startswith("_")) if path.is_dir() else [path]
    found: dict[str, list[Case]] = {}
    for file in files:
        module_spec = importlib.util.spec_from_file_location(f"_adamcourse_hidden_{file.stem}", file)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        for case in getattr(module, "HIDDEN_CASES", None) or ():
            if not isinstance(case, Case):
                raise TypeError(f"{file}: HIDDEN_CASES holds {_describe(case)}, not a Case")
            get_exercise(case.exercise)
            found.setdefault(case.exercise, []).append(
                case if case.hidden else dataclasses.replace(case, hidden=True))
    return found


def all_cases(exercise: str, hidden_dir=None) -> list[Case]:
    """The public cases of ``exercise``, then its hidden ones from ``hidden_dir`` (if given)."""
    cases = list(get_exercise(exercise).cases)
    if hidden_dir is not None:
        cases += load_hidden(hidden_dir).get(exercise, [])
    return cases


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
