"""adamcourse.grading.spec, references and mistakes: the references against torch.optim, every public case
passes its reference, each known mistake fails with its hint, and nothing but plain numbers can pass."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from adamcourse.grading import references as ref
from adamcourse.grading.mistakes import MISTAKES
from adamcourse.grading.spec import (
    EXERCISES,
    STEP_SIGNATURES,
    CaseError,
    StepCase,
    ValueCase,
    all_cases,
    get_exercise,
    load_hidden,
)

STEP_EXERCISES = [name for name in EXERCISES if name in STEP_SIGNATURES]  # train_step: test_grading_train.py
VALUE_EXERCISES = [name for name, ex in EXERCISES.items() if ex.kind == "value"]

# exercise -> (torch class, its keyword arguments, our hyperparameters, torch state keys in output order)
TORCH = {
    "sgd_momentum_step": (torch.optim.SGD, dict(lr=0.1, momentum=0.9), dict(lr=0.1, momentum=0.9),
                          ["momentum_buffer"]),
    "adagrad_step": (torch.optim.Adagrad, dict(lr=0.1, eps=1e-10), dict(lr=0.1, eps=1e-10), ["sum"]),
    "rmsprop_step": (torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, eps=1e-8), dict(lr=0.01, alpha=0.9, eps=1e-8),
                     ["square_avg"]),
    "adam_step": (torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-8),
                  dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-8), ["exp_avg", "exp_avg_sq"]),
    "amsgrad_step": (torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-8, amsgrad=True),
                     dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-8), ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]),
    "adamw_step": (torch.optim.AdamW, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.1),
                   dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-8, weight_decay=0.1), ["exp_avg", "exp_avg_sq"]),
    # beta2 = 0.99: rho_5 = 4.96, rho_6 = 5.94, so the 8 steps cross the switch to the adaptive step
    "radam_step": (torch.optim.RAdam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-8),
                   dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-8), ["exp_avg", "exp_avg_sq"]),
}


@pytest.mark.parametrize("name", STEP_EXERCISES)
def test_reference_matches_torch(name):
    cls, torch_kw, hyper, keys = TORCH[name]
    rng = np.random.default_rng(0)
    theta = rng.standard_normal((2, 3))
    p = torch.tensor(theta, requires_grad=True)
    opt = cls([p], **torch_kw)
    args, _ = STEP_SIGNATURES[name]
    state = {k: np.zeros_like(theta) for k in args[2:] if k not in hyper and k != "t"}
    for t in range(1, 9):
        # gradients that shrink then grow, so v decreases at times (AMSGrad's max matters)
        g = rng.standard_normal(theta.shape) * (1.0 if t < 4 else 0.1 if t < 7 else 3.0)
        p.grad = torch.tensor(g)
        opt.step()
        values = {"theta": theta, "g": g, "t": t, **state, **hyper}
        theta, *rest = getattr(ref, name)(*[values[a] for a in args])
        state = dict(zip(state, rest, strict=True))
        np.testing.assert_allclose(theta, p.detach().numpy(), rtol=1e-12, atol=1e-14)
        for ours, key in zip(rest, keys, strict=True):
            np.testing.assert_allclose(ours, opt.state[p][key].numpy(), rtol=1e-12, atol=1e-14, err_msg=key)


@pytest.mark.parametrize("name", STEP_EXERCISES)
def test_public_step_cases(name):
    """3-4 public cases each, covering a first step, a 2-D shape, a mid-run start and a gradient scale;
    the reference passes every one, with a readable success message."""
    cases = EXERCISES[name].cases
    assert 3 <= len(cases) <= 4 and len({c.name for c in cases}) == len(cases)
    assert any(c.steps == 1 and c.start_t == 1 for c in cases)
    assert any(len(c.shape) == 2 for c in cases)
    assert any(c.start_t == 5 for c in cases)
    assert any(c.scale != 1 for c in cases)
    fn = getattr(ref, name)
    for case in cases:
        assert not case.hidden
        got = case.run(fn, case.inputs())
        assert got.dtype == np.float64 and got.shape == (case.steps, len(case.output_names), *case.shape)
        result = case.judge(got)
        assert result.passed and result.points == result.max_points == case.points, result.message
        assert result.hint is None


def test_value_cases():
    assert EXERCISES["ema_window_answer"].cases[0].expected_value == 100.0
    adam_case = EXERCISES["adam_first_step_answer"].cases[0]
    theta1, _, _ = ref.adam_step(np.array(0.0), np.array(-2.0), 0.0, 0.0, 1, 0.1, 0.9, 0.999, 1e-8)
    assert math.isclose(adam_case.expected_value, float(theta1), rel_tol=1e-12)
    assert math.isclose(adam_case.expected_value, 0.0999999995, rel_tol=1e-12)
    rms_case = EXERCISES["rmsprop_first_step_answer"].cases[0]
    theta1, _ = ref.rmsprop_step(np.array(0.0), np.array(1.0), 0.0, 0.01, 0.99, 1e-8)
    assert math.isclose(rms_case.expected_value, float(theta1), rel_tol=1e-12)
    for name in VALUE_EXERCISES:
        case = EXERCISES[name].cases[0]
        assert case.variable == name and case.judge(case.run(case.expected_value)).passed
        wrong = case.judge(case.run(case.expected_value * 1.01))
        numbers = re.findall(r"\d[\d.e+-]*", wrong.message)  # "0.5" is in "0.505": compare whole numbers
        assert not wrong.passed and f"{case.expected_value:.10g}" not in numbers  # the answer stays secret
    case = EXERCISES["ema_window_answer"].cases[0]
    assert case.judge(case.run(0.01)).hint.startswith("1 - alpha")
    assert case.judge(case.run(np.float32(100))).passed
    for bad, words in [(..., "not answered"), (None, "not answered"), ("100", "must be a number"),
                       ([1.0, 2.0], "single number")]:
        with pytest.raises(CaseError, match=words):
            case.run(bad)
    assert "NaN" in case.judge(case.run(float("nan"))).message


def test_the_chapters_value_cases_and_their_hints():
    gd = EXERCISES["gd_max_lr_answer"].cases[0]
    assert gd.expected_value == 0.5  # 2/L, L = 4 for f = 2 theta_1^2 + theta_2^2 / 2
    assert gd.judge(gd.run(0.25)).hint.startswith("1/L")
    assert gd.judge(gd.run(2.0)).hint.startswith("the limit is set by the largest curvature")
    ada = EXERCISES["adagrad_effective_lr_answer"].cases[0]
    G = 0.0
    for _ in range(100):
        _, G = ref.adagrad_step(np.array(0.0), np.array(2.0), G, 0.1, 1e-10)
    assert math.isclose(ada.expected_value, 0.1 / (np.sqrt(G) + 1e-10), rel_tol=1e-12)
    assert ada.judge(ada.run(0.005)).passed
    assert ada.judge(ada.run(0.05)).hint.startswith("G is accumulated")


# ---------------------------------------------------------------- known mistakes give named hints


def _failing_hints(name, wrong):
    hints = []
    for case in EXERCISES[name].cases:
        result = case.judge(case.run(wrong, case.inputs()))
        if not result.passed:
            hints.append(result.hint)
    return hints


@pytest.mark.parametrize("name, hint, wrong",
                         [(n, h, w) for n in STEP_EXERCISES for h, w in MISTAKES[n]],
                         ids=lambda x: x if isinstance(x, str) else "")
def test_every_mistake_fails_with_its_hint(name, hint, wrong):
    hints = _failing_hints(name, wrong)
    assert hints, f"{name}: the mistake {hint!r} passes every public case"
    assert set(hints) - {None} == {hint}  # named on the cases it explains (a case giving NaN names only NaN)


def _adam_no_bias_correction(theta, g, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    return theta - lr * m / (np.sqrt(v) + eps), m, v


def _adam(theta, g, m, v, t, lr, beta1, beta2, eps, *, inside=False, dt=0, swap=False):
    b1, b2 = (1 - beta1, 1 - beta2) if swap else (beta1, beta2)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    m_hat, v_hat = m / (1 - beta1 ** (t + dt)), v / (1 - beta2 ** (t + dt))
    return theta - lr * m_hat / (np.sqrt(v_hat + eps) if inside else np.sqrt(v_hat) + eps), m, v


@pytest.mark.parametrize("student, hint", [
    (_adam_no_bias_correction, "no bias correction"),
    (lambda *a: _adam(*a, inside=True), "eps inside the square root"),
    (lambda *a: _adam(*a, dt=1), "t off by one"),
    (lambda *a: _adam(*a, dt=-1), "t off by one"),
    (lambda *a: _adam(*a, swap=True), "beta and 1-beta swapped"),
    (lambda *a: (lambda th, m, v: (th, v, m))(*_adam(*a)), "m and v swapped"),
], ids=["no-bias-correction", "eps-inside", "t+1", "t-1", "betas-swapped", "m-v-swapped"])
def test_student_written_adam_mistakes(student, hint):
    """Mistakes written independently of mistakes.py, as a student would, get the named hint."""
    assert set(_failing_hints("adam_step", student)) - {None} == {hint}


def _radam(theta, g, m, v, t, lr, beta1, beta2, eps, *, threshold=5.0, paper_l=False, no_sqrt_r=False):
    """RAdam as a student writes it from the formulas (not from mistakes.py or the library)."""
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    m_hat = m / (1 - beta1**t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
    if rho_t <= threshold:
        return theta - lr * m_hat, m, v
    l_t = np.sqrt((1 - beta2**t) / v) if paper_l else np.sqrt(1 - beta2**t) / (np.sqrt(v) + eps)
    r2 = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
    return theta - lr * m_hat * (r2 if no_sqrt_r else np.sqrt(r2)) * l_t, m, v


@pytest.mark.parametrize("student, hint", [
    (_radam, None),
    (lambda *a: _radam(*a, threshold=4.0), "threshold rho_t > 4 (the paper's)"),
    (lambda *a: _radam(*a, paper_l=True), "eps missing"),
    (lambda *a: _radam(*a, no_sqrt_r=True), "r_t without its square root"),
], ids=["correct", "paper-threshold", "paper-l_t", "r-no-sqrt"])
def test_student_written_radam(student, hint):
    """A RAdam written independently passes every public case; its mistakes get their named hints."""
    hints = _failing_hints("radam_step", student)
    if hint is None:
        assert hints == []
    else:
        assert hints and all(h is not None and h.startswith(hint) for h in hints), hints


def test_radam_cases_cover_both_sides_of_the_switch():
    """For beta2 = 0.999, rho_t > 5 first at t = 6 (torch's switch): the public cases run steps on both sides, and
    the mid-run case crosses it."""
    from adamcourse.optim import radam

    switch = next(t for t in range(1, 100) if radam.rho(t, 0.999) > 5)
    assert switch == 6
    cases = EXERCISES["radam_step"].cases
    assert all(c.hyper_values["beta2"] == 0.999 for c in cases)
    steps = [range(c.start_t, c.start_t + c.steps) for c in cases]
    assert any(ts[0] < switch <= ts[-1] for ts, c in zip(steps, cases) if c.start_t > 1)
    assert sum(any(t < switch for t in ts) and any(t >= switch for t in ts) for ts in steps) >= 3
    assert any(c.scale < 1e-6 and c.start_t + c.steps - 1 >= switch for c in cases)  # eps matters after it


def test_in_place_mutation_is_caught_and_named():
    def adam_in_place(theta, g, m, v, t, lr, beta1, beta2, eps):
        m *= beta1
        m += (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        return theta - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v

    case = EXERCISES["adam_step"].cases[0]
    with pytest.raises(CaseError, match=r"adam_step mutates its inputs \(m\)") as info:
        case.run(adam_in_place, case.inputs())
    result = case.error_result(str(info.value))
    assert not result.passed and result.points == 0 and result.hint == "mutates its inputs"

    def theta_in_place(theta, g, b, lr, momentum):
        b = momentum * b + g
        theta -= lr * b
        return theta, b

    case = EXERCISES["sgd_momentum_step"].cases[0]
    with pytest.raises(CaseError, match=r"mutates its inputs \(theta\)"):
        case.run(theta_in_place, case.inputs())


# ---------------------------------------------------------------- nothing but plain numbers passes


class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


def test_eq_always_true_object_fails():
    case = EXERCISES["adam_step"].cases[0]
    with pytest.raises(CaseError, match="not numeric"):
        case.run(lambda *a: (AlwaysEqual(), AlwaysEqual(), AlwaysEqual()), case.inputs())
    with pytest.raises(CaseError, match="returned AlwaysEqual"):
        case.run(lambda *a: AlwaysEqual(), case.inputs())
    value = EXERCISES["ema_window_answer"].cases[0]
    with pytest.raises(CaseError, match="must be a number"):
        value.run(AlwaysEqual())
    assert not value.judge(np.array(AlwaysEqual(), dtype=object)).passed


def test_nan_output_named():
    case = EXERCISES["adam_step"].cases[1]
    got = case.expected().copy()
    got[3, 1, 1, 2] = np.nan
    result = case.judge(got)
    assert not result.passed and "m[1, 2] after step 4 of 10 (t=4) is NaN" in result.message
    got[3, 1, 1, 2] = np.inf
    assert "is inf" in case.judge(got).message
    # a division by zero in the student's code (t - 1 on the first step) is reported as NaN/inf at t=1; no
    # mistake hint, since a NaN would also match every other variant that divides by zero
    result = case.judge(case.run(lambda *a: _adam(*a, dt=-1), case.inputs()))
    assert "(t=1) is NaN" in result.message or "(t=1) is inf" in result.message
    assert result.hint is None


def test_mismatch_message():
    case = EXERCISES["adam_step"].cases[1]
    expected = case.expected()
    got = expected.copy()
    got[2, 0, 1, 0] += 1e-3
    message = case.judge(got).message
    assert message.startswith(f"theta[1, 0] after step 3 of 10 (t=3): expected {expected[2, 0, 1, 0]:.10g}")
    assert "1 of 180 values differ" in message and "max abs error 0.001" in message
    assert "max rel error" in message and "expected theta after step 3: [" in message
    assert "got      theta after step 3: [" in message


def test_wrong_shape_and_arity():
    case = EXERCISES["adam_step"].cases[1]
    inputs = case.inputs()
    with pytest.raises(CaseError, match=r"returned 2 values at step 1 \(t=1\); expected a tuple of 3 arrays "
                                        r"\(theta, m, v\)"):
        case.run(lambda theta, g, m, v, *rest: (theta, m), inputs)
    with pytest.raises(CaseError, match=r"output 'v' has shape \(6,\) at step 1 \(t=1\); expected \(2, 3\)"):
        case.run(lambda theta, g, m, v, *rest: (theta, m, v.ravel()), inputs)
    with pytest.raises(CaseError, match="returned ndarray"):
        case.run(lambda theta, *rest: theta, inputs)
    result = case.judge(case.expected()[:, :2])
    assert not result.passed and result.message.startswith("wrong shape: expected (10, 3, 2, 3)")


def test_student_exception_propagates():
    case = EXERCISES["rmsprop_step"].cases[0]

    def stub(theta, g, v, lr, alpha, eps):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        case.run(stub, case.inputs())


def test_inputs_survive_npz_round_trip():
    """The grading protocol: the parent saves case.inputs() with np.savez, the child loads it (no pickle)."""
    for name in STEP_EXERCISES:
        case = EXERCISES[name].cases[2]
        buffer = io.BytesIO()
        np.savez(buffer, **case.inputs())
        buffer.seek(0)
        with np.load(buffer, allow_pickle=False) as loaded:
            got = case.run(getattr(ref, name), dict(loaded))
        assert case.judge(got).passed


def test_mid_run_state_is_nonzero_and_deterministic():
    case = EXERCISES["amsgrad_step"].cases[2]
    a, b = case.inputs(), case.inputs()
    assert a["t0"] == 5 and all(np.abs(a[k]).min() > 0 for k in ("m", "v", "v_max"))
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_step_case_validation_and_float32():
    with pytest.raises(ValueError, match="unknown exercise"):
        StepCase("adamm_step", "x")
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        StepCase("adam_step", "x", hyper={"beta_1": 0.9})
    case = StepCase("adam_step", "float32 inputs", dtype="float32", rtol=1e-5, atol=1e-7)
    assert case.inputs()["theta"].dtype == np.float32
    assert case.judge(case.run(ref.adam_step, case.inputs())).passed


def test_registry_lookup():
    assert get_exercise("adam_step").signature == "adam_step(theta, g, m, v, t, lr, beta1, beta2, eps) -> (theta, m, v)"
    with pytest.raises(KeyError, match="Did you mean 'adam_step'.*Valid names: sgd_momentum_step"):
        get_exercise("adam")
    assert set(MISTAKES) <= set(EXERCISES)


def test_load_hidden(tmp_path):
    (tmp_path / "hidden_cases.py").write_text(
        "from adamcourse.grading.spec import StepCase, ValueCase\n"
        "HIDDEN_CASES = [StepCase('adam_step', 'zero gradients', scale=0.0, points=2),\n"
        "                StepCase('adam_step', 'large gradients', scale=1e3, seed=7, hidden=True),\n"
        "                ValueCase('ema_window_answer', 'again', expected_value=100.0)]\n")
    (tmp_path / "notes.py").write_text("X = 1\n")
    hidden = load_hidden(tmp_path)
    assert [c.name for c in hidden["adam_step"]] == ["zero gradients", "large gradients"]
    assert all(c.hidden for cases in hidden.values() for c in cases)
    cases = all_cases("adam_step", tmp_path)
    assert len(cases) == len(EXERCISES["adam_step"].cases) + 2
    for case in cases:
        assert case.judge(case.run(ref.adam_step, case.inputs())).passed
    result = hidden["adam_step"][0].judge(np.zeros(3))
    assert result.hidden and not result.passed and result.points == 0 and result.max_points == 2
    assert isinstance(hidden["ema_window_answer"][0], ValueCase)
    (tmp_path / "bad.py").write_text("HIDDEN_CASES = [1]\n")
    with pytest.raises(TypeError, match="not a Case"):
        load_hidden(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_hidden(tmp_path / "missing")


def test_nan_output_gets_no_mistake_hint():
    """A NaN where the reference is finite is reported as NaN, not as a known mistake that also gives NaN."""
    from adamcourse.grading.spec import StepCase

    case = StepCase(exercise="adam_step", name="zero gradients", scale=0.0, steps=2)
    result = case.judge(np.full_like(case.expected(), np.nan))
    assert not result.passed and result.hint is None and "NaN" in result.message


# ---------------------------------------------------------------- hidden cases and the layout

HIDDEN = Path(__file__).resolve().parents[1] / "instructor"


def _identity(name):
    """A step function that returns its inputs unchanged (theta and the state it was given)."""
    args, outs = STEP_SIGNATURES[name]
    return lambda *a: tuple(np.copy(dict(zip(args, a, strict=True))[o]) for o in outs)


@pytest.mark.parametrize("name", STEP_EXERCISES)
def test_identity_step_fails_every_case(name):
    """Returning the inputs unchanged earns nothing, hidden cases included; the reference passes them all."""
    hidden = load_hidden(HIDDEN)[name]
    assert any("zero gradients" in c.name for c in hidden)
    for case in [*EXERCISES[name].cases, *hidden]:
        result = case.judge(case.run(_identity(name), case.inputs()))
        assert not result.passed and result.points == 0, (case.name, result.message)
        assert case.judge(case.run(getattr(ref, name), case.inputs())).passed, case.name


def test_zero_gradient_cases_start_from_a_nonzero_state():
    for name in STEP_EXERCISES:
        (case,) = [c for c in load_hidden(HIDDEN)[name] if "zero gradients" in c.name]
        inputs = case.inputs()
        assert case.start_t > 1 and all(np.abs(inputs[k]).min() > 0 for k in case.state_names)
        assert not inputs["grads"][:case.zero_steps].any() and inputs["grads"][case.zero_steps:].all()
    with pytest.raises(ValueError, match="zero_steps must be from 0 to steps"):
        StepCase("adam_step", "x", steps=2, zero_steps=3)


def test_case_modules_do_not_import_the_registry():
    """spec.py imports the case types; no case module imports spec.py (no circle), and spec re-exports them."""
    import ast

    import adamcourse.grading.spec as spec
    from adamcourse.grading import case, clip_case, recipe_case, step_case, train_case, value_case

    for module in (case, step_case, value_case, train_case, clip_case, recipe_case):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {m for m in imported if m and m.split(".")[-1] in ("spec", "grade", "runner", "check")}, module
    assert spec.StepCase is step_case.StepCase and spec.ValueCase is value_case.ValueCase
    assert spec.Case is case.Case and spec.CaseError is case.CaseError and spec.CaseResult is case.CaseResult
    assert spec.TrainCase is train_case.TrainCase and spec.ClipCase is clip_case.ClipCase
    assert spec.RecipeCase is recipe_case.RecipeCase
    assert all(hasattr(spec, name) for name in spec.__all__)


def test_cases_pickle():
    """The grading child still unpickles the cases (until the protocol replaces it)."""
    import pickle

    for name in EXERCISES:
        for case in all_cases(name, HIDDEN):
            assert pickle.loads(pickle.dumps(case)) == case
