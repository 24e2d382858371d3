"""adamcourse.grading.train_case: TrainCase and the train_step exercise (partial credit, hints, grading)."""

from __future__ import annotations

import math

import nbformat
import numpy as np
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

from adamcourse.grading import EXERCISES, check
from adamcourse.grading.grade import Limits, grade
from adamcourse.grading.mistakes import STEP_MISSING
from adamcourse.grading.references import train_step
from adamcourse.grading.train_case import TENSOR_HINT, TrainCase

from sandbox_required import needs_sandbox

CASES = EXERCISES["train_step"].cases
ZERO_GRAD_HINT = "optimizer.zero_grad() missing (the gradients accumulate across steps)"


def no_zero_grad(model, x, y, optimizer):
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def no_step(model, x, y, optimizer):
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss.item()


def step_before_backward(model, x, y, optimizer):
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    optimizer.step()
    loss.backward()
    return loss.item()


def returns_tensor(model, x, y, optimizer):
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def _judge(case, fn):
    return case.judge(case.run(fn, case.inputs()))


def test_public_cases_and_inputs():
    assert [c.optimizer for c in CASES] == ["sgd", "adam"] and all(c.points == 3 for c in CASES)
    inputs = CASES[0].inputs()
    assert all(isinstance(v, np.ndarray) for v in inputs.values())
    assert inputs["x"].shape == (96, 8) and inputs["y"].dtype == np.int64 and set(inputs["y"]) == {0, 1, 2}
    assert inputs["W1"].shape == (16, 8) and inputs["W2"].shape == (3, 16)
    with pytest.raises(ValueError, match="optimizer"):
        TrainCase(exercise="train_step", name="x", optimizer="lbfgs")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_reference_earns_full_points(case):
    losses = case.expected()
    assert losses.shape == (30,) and losses.dtype == np.float64
    assert losses[-5:].mean() < 0.35 * losses[0]  # comfortably below the 0.5 threshold
    result = _judge(case, train_step)
    assert result.passed and result.points == 3 and result.hint is None
    assert result.message.startswith("3/3 parts passed")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_missing_zero_grad_gets_two_thirds_and_its_hint(case):
    result = _judge(case, no_zero_grad)
    assert not result.passed and math.isclose(result.points, 2.0) and result.hint == ZERO_GRAD_HINT
    assert "[PASS] every loss finite" in result.message and "[FAIL] curve matches" in result.message


@pytest.mark.parametrize("wrong", [no_step, step_before_backward])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_missing_step_gets_one_third_and_its_hint(case, wrong):
    result = _judge(case, wrong)
    assert not result.passed and math.isclose(result.points, 1.0) and result.hint == STEP_MISSING
    assert "[FAIL] final loss below 0.5 x the first" in result.message


def test_nan_losses_earn_nothing():
    case = CASES[0]
    result = case.judge(np.full(30, np.nan))
    assert not result.passed and result.points == 0 and result.hint is None
    assert "30 of 30 are not" in result.message
    assert case.judge(np.ones(7)).points == 0  # wrong length


def test_non_float_return_is_a_clear_error():
    case = CASES[0]
    with pytest.raises(Exception, match="returned a torch Tensor at step 1") as info:
        case.run(returns_tensor, case.inputs())
    result = case.error_result(str(info.value))
    assert result.hint == TENSOR_HINT and result.points == 0
    with pytest.raises(Exception, match="returned NoneType None at step 1; expected a float"):
        case.run(lambda *a: None, case.inputs())


def test_check_in_process():
    report = check("train_step", train_step, timeout=60)
    assert report.passed, str(report)
    report = check("train_step", no_step, timeout=60)
    assert not report.passed and f"hint: {STEP_MISSING}" in str(report)
    report = check("train_step", returns_tensor, timeout=60)
    assert f"hint: {TENSOR_HINT}" in str(report)


SOLUTION = '''import torch
import torch.nn.functional as F

def train_step(model, x, y, optimizer):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
'''


@needs_sandbox
def test_grading_a_notebook_end_to_end(tmp_path):
    """The child imports torch (before the call, untimed) under the address-space limit and trains."""
    subs = tmp_path / "subs"
    subs.mkdir()
    notebooks = {"good": SOLUTION, "no_step": SOLUTION.replace("    optimizer.step()\n", ""),
                 "tensor": SOLUTION.replace("loss.item()", "loss")}
    for student, source in notebooks.items():
        nbformat.write(new_notebook(cells=[new_code_cell(source)]), subs / f"{student}.ipynb")
    limits = Limits(cell_timeout=60, exercise_timeout=60, notebook_timeout=120, memory_bytes=2 * 2**30)
    results = {r.student: r for r in grade(subs, limits=limits, exercises=["train_step"])}
    assert results["good"].status == "ok" and results["good"].total == results["good"].max == 6
    assert results["no_step"].total == 2 and {c.hint for c in results["no_step"].cases} == {STEP_MISSING}
    tensor = results["tensor"].cases
    assert results["tensor"].total == 0 and all(c.hint == TENSOR_HINT for c in tensor)


# ---------------------------------------------------------------- device_train_step (the labs' GPU step)

DEVICE_CASES = EXERCISES["device_train_step"].cases


def _device_solution(model, x, y, optimizer, device, amp):
    x, y = x.to(device), y.to(device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()


def test_device_cases_cover_float32_and_bf16_autocast():
    assert [(c.optimizer, c.amp) for c in DEVICE_CASES] == [("sgd", False), ("adam", True)]


def test_device_step_full_marks_for_an_independent_solution():
    for case in DEVICE_CASES:
        result = _judge(case, _device_solution)
        assert result.passed and result.points == case.points, result.message


def test_device_step_partial_credit_and_hints():
    from adamcourse.grading.train_case import GRAPH_HINT, SYNC_HINT

    sgd, amp = DEVICE_CASES

    def item(*a):
        return _device_solution(*a).item()

    def attached(model, x, y, optimizer, device, amp):
        loss = torch.nn.functional.cross_entropy(model(x.to(device)), y.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    def no_autocast(model, x, y, optimizer, device, amp):
        return _device_solution(model, x, y, optimizer, device, False)

    for fn, hint in ((item, SYNC_HINT), (attached, GRAPH_HINT)):
        result = _judge(sgd, fn)
        assert result.points == 2 and result.hint == hint, result.message
    result = _judge(amp, no_autocast)  # float32 numerics where bf16 was asked for: the curve differs
    assert result.points == 2 and result.hint.startswith("amp=True but no torch.autocast"), result.message
    assert _judge(sgd, no_autocast).passed  # amp=False: the same step


def test_device_step_wrong_return_is_a_clear_error():
    case = DEVICE_CASES[0]
    with pytest.raises(Exception, match=r"returned a tensor of shape \(16, 3\) at step 1"):
        case.run(lambda model, x, *a: model(x), case.inputs())
    with pytest.raises(Exception, match="returned NoneType None at step 1; expected the loss as a tensor"):
        case.run(lambda *a: None, case.inputs())
