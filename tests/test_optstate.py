"""adamcourse.optstate: the measured bytes of an optimizer's state."""

from __future__ import annotations

import doctest

import pytest
import torch

import adamcourse.optstate
from adamcourse import optim
from adamcourse.optstate import state_size


def test_docstring_examples():
    result = doctest.testmod(adamcourse.optstate, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 3


@pytest.mark.parametrize("make, buffers", [
    (lambda p: optim.SGD(p, lr=0.1), 0), (lambda p: optim.SGD(p, lr=0.1, momentum=0.9), 1),
    (lambda p: optim.Adagrad(p), 1), (lambda p: optim.RMSprop(p), 1), (lambda p: optim.Adam(p), 2),
    (lambda p: optim.Adam(p, amsgrad=True), 3), (lambda p: torch.optim.Adam(p, amsgrad=True), 3),
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), 1),
])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_buffers_per_parameter(make, buffers, dtype):
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Linear(7, 2)).to(dtype)
    opt = make(model.parameters())
    model(torch.ones(3, 5, dtype=dtype)).sum().backward()
    opt.step()
    size = state_size(opt)
    itemsize = torch.finfo(dtype).bits // 8
    assert size.parameters == 5 * 7 + 7 + 7 * 2 + 2
    assert size.buffers_per_parameter == buffers * itemsize
    assert size.total - size.scalar_bytes == buffers * itemsize * size.parameters
    assert size.per_parameter >= size.buffers_per_parameter


def test_bad_input():
    with pytest.raises(ValueError, match="must be a torch.optim.Optimizer"):
        state_size(object())


def test_the_amsgrad_exercise_matches_the_measurement():
    """The graded answer of the claims chapter (bytes per parameter of AMSGrad's float32 state) is what
    state_size measures, and its named mistakes give their hints."""
    from adamcourse.grading.spec import EXERCISES

    layer = torch.nn.Linear(4, 3)
    opt = optim.Adam(layer.parameters(), amsgrad=True)
    layer(torch.ones(2, 4)).sum().backward()
    opt.step()
    case = EXERCISES["amsgrad_state_bytes_answer"].cases[0]
    assert case.expected_value == state_size(opt).buffers_per_parameter == 12.0
    assert case.judge(case.run(8)).hint.startswith("that is Adam's state")
