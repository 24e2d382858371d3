"""adamcourse.grading.clip_case: the RNN lab's clip_grad_norm exercise, against torch's own clipping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adamcourse.grading import EXERCISES, check
from adamcourse.grading.clip_case import ClipCase
from adamcourse.grading.references import clip_grad_norm

CASES = EXERCISES["clip_grad_norm"].cases
HIDDEN_LIKE = [ClipCase(exercise="clip_grad_norm", name="zeros", scale=0.0),
               ClipCase(exercise="clip_grad_norm", name="0-d", shapes=((), (5,)), scale=100.0, max_norm=0.5)]


@pytest.mark.parametrize("case", [*CASES, *HIDDEN_LIKE], ids=lambda c: c.name)
def test_reference_equals_torch_clip_grad_norm(case):
    inputs = case.inputs()
    params = [torch.zeros(np.shape(inputs[f"g{i}"]), dtype=torch.float64) for i in range(len(case.shapes))]
    for i, p in enumerate(params):
        p.grad = torch.as_tensor(np.asarray(inputs[f"g{i}"], dtype=np.float64)).clone()
    torch.nn.utils.clip_grad_norm_(params, case.max_norm)
    torch_clipped = np.concatenate([p.grad.numpy().ravel() for p in params])
    np.testing.assert_allclose(case.run(clip_grad_norm, inputs), torch_clipped, rtol=1e-14, atol=0)
    assert case.judge(case.run(clip_grad_norm, inputs)).passed


def test_public_cases_clip_and_leave_alone():
    clipped, unchanged, _ = CASES
    norm = lambda case: np.sqrt(sum(np.sum(v**2) for k, v in case.inputs().items() if k != "max_norm"))  # noqa: E731
    assert norm(clipped) > clipped.max_norm and norm(unchanged) < unchanged.max_norm


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda gs, c: [g * min(1.0, c / (np.linalg.norm(g) + 1e-6)) for g in gs], "each array clipped by its own norm"),
    (lambda gs, c: [g * min(1.0, c / np.sqrt(sum(np.sum(h * h) for h in gs))) for g in gs], "the 1e-6"),
    (lambda gs, c: [g * (c / (np.sqrt(sum(np.sum(h * h) for h in gs)) + 1e-6)) for g in gs], "rescaled even when"),
])
def test_known_mistakes_get_their_hint(wrong, hint):
    report = check("clip_grad_norm", wrong)
    assert not report.passed
    assert any(r.hint and r.hint.startswith(hint) for r in report.results), str(report)


def test_bad_returns_are_clear_errors():
    def inplace(grads, max_norm):
        for g in grads:
            g *= 0.5
        return grads

    assert "mutates its inputs" in str(check("clip_grad_norm", inplace))
    assert "expected a list of 3 arrays" in str(check("clip_grad_norm", lambda g, c: g[0]))
    short = check("clip_grad_norm", lambda g, c: [g[0], g[1][:2], g[2]])
    assert "element 1 has shape (2,); expected (4,)" in str(short)
