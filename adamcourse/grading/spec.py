"""The exercise registry: :data:`EXERCISES` (every public exercise and its cases), :func:`get_exercise`,
and loading an instructor's hidden cases (:func:`load_hidden`, :func:`all_cases`).

The case types live in modules of their own (:mod:`.case` for the base, :mod:`.step_case`, :mod:`.value_case`,
:mod:`.train_case`, :mod:`.clip_case`, :mod:`.recipe_case`); this module imports them, none of them imports this
one. Their public names are re-exported here, so ``from adamcourse.grading.spec import StepCase, Case, ...``
works. The references (and so torch) are imported when a case needs them.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

from .case import MUTATION_HINT, Case, CaseError, CaseResult, _describe, _excerpt
from .clip_case import SIGNATURE as CLIP_SIGNATURE
from .clip_case import ClipCase
from .recipe_case import SIGNATURE as RECIPE_SIGNATURE
from .recipe_case import RecipeCase
from .step_case import DEFAULT_HYPER, STEP_SIGNATURES, StepCase
from .train_case import DEVICE_SIGNATURE, DeviceTrainCase, TrainCase
from .train_case import SIGNATURE as TRAIN_SIGNATURE
from .value_case import ValueCase

__all__ = ["CLIP_SIGNATURE", "DEFAULT_HYPER", "DEVICE_SIGNATURE", "EXERCISES", "MUTATION_HINT", "RECIPE_SIGNATURE",
           "STEP_SIGNATURES", "TRAIN_SIGNATURE", "Case", "CaseError", "CaseResult", "ClipCase", "DeviceTrainCase",
           "Exercise", "RecipeCase", "StepCase", "TrainCase", "UnknownExercise", "ValueCase", "_describe",
           "_excerpt", "all_cases", "get_exercise", "load_hidden"]


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
    # beta2 = 0.999: rho_t <= 5 (un-adapted step) for t <= 5, rho_t > 5 (rectified adaptive step) from t = 6
    _step_exercise("radam_step", [
        dict(name="first step (t=1, un-adapted)", steps=1, seed=0),
        dict(name="10 steps on a (2, 3) array (the switch to the adaptive step at t=6)", shape=(2, 3), steps=10,
             seed=1),
        dict(name="mid-run from t=5 (non-zero m, v) across the switch", shape=(4,), steps=3, seed=2, start_t=5),
        dict(name="gradients of size 1e-7, 8 steps (eps matters after the switch)", steps=8, seed=3, scale=1e-7,
             atol=1e-24)]),
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
    _value_exercise("reddi_adam_end_answer", max(-1.0, 1.0),  # the upper end of [-1, 1], the worst point
                    "where Adam (beta1 = 0, beta2 = 1/(1 + C^2)) ends on Reddi's problem, C = 10, x_1 = 0"),
    _value_exercise("steepest_max_norm_answer", -0.1 * sum(abs(g) for g in (3.0, -1.0, 0.5)),  # -eta ||g||_1
                    "g.d for the steepest step under ||d||_inf <= eta, g = (3, -1, 0.5), eta = 0.1"),
    _value_exercise("amsgrad_state_bytes_answer", 3 * 32 / 8,  # m, v and v_max, 32 bits = 4 bytes each
                    "bytes per parameter of AMSGrad's state (its buffers, no step counter) in float32"),
    _value_exercise("adam8bit_state_bytes_answer", 2 * 8 / 8 + 2 * 32 / 8 / 256,  # int8 m, uint8 v; fp32 scales
                    "bytes per parameter of 8-bit Adam's state with blocks of 256 (codes and float32 scales of m "
                    "and v, no step counter), a tensor of a multiple of 256 values"),
    _value_exercise("speed_amsgrad_ms_answer", (5 + 4) * 4 * 1e9 / 2e12 * 1e3,  # 36 B per parameter * P / W, in ms
                    "least time in ms of one fp32 AMSGrad step, P = 1e9 parameters, bandwidth W = 2e12 bytes/s"),
    _value_exercise("zero2_gb_per_gpu_answer", (2 + (2 + 12) / 16) * 1.5e9 / 1e9,  # 2P + (2 + 12)P/N, in GB
                    "GB per GPU of model states under ZeRO stage 2, mixed-precision Adam, P = 1.5e9, N = 16"),
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
