"""adamcourse.schedules against torch.optim.lr_scheduler, where the two coincide."""

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, LinearLR, SequentialLR

from adamcourse import schedules


def _torch_lrs(make, steps, lr=0.5):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(lrs) / lr


@pytest.mark.parametrize("w", [1, 5, 20])
def test_warmup_is_torch_linear_lr(w):
    got = schedules.linear_warmup(np.arange(40), warmup_steps=w)
    if w == 1:
        np.testing.assert_allclose(got, 1.0)
        return
    want = _torch_lrs(lambda o: LinearLR(o, start_factor=1 / w, end_factor=1.0, total_iters=w - 1), 40)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("final", [0.0, 0.1])
def test_warmup_cosine_is_torch_sequential(final):
    w, total, n = 10, 60, 70
    want = _torch_lrs(lambda o: SequentialLR(o, [
        LinearLR(o, start_factor=1 / w, end_factor=1.0, total_iters=w - 1),
        CosineAnnealingLR(o, T_max=total - w, eta_min=final * 0.5)], milestones=[w]), total)
    got = schedules.warmup_cosine(np.arange(n), warmup_steps=w, total_steps=total, final=final)
    np.testing.assert_allclose(got[:total], want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got[total:], final)            # flat after total_steps


@pytest.mark.parametrize("final", [0.0, 0.25])
def test_warmup_linear_is_torch_sequential(final):
    w, total = 8, 50
    want = _torch_lrs(lambda o: SequentialLR(o, [
        LinearLR(o, start_factor=1 / w, end_factor=1.0, total_iters=w - 1),
        LinearLR(o, start_factor=1.0, end_factor=final, total_iters=total - w)], milestones=[w]), total + 5)
    got = schedules.warmup_linear(np.arange(total + 5), warmup_steps=w, total_steps=total, final=final)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_no_warmup_cosine_is_cosine_annealing():
    want = _torch_lrs(lambda o: CosineAnnealingLR(o, T_max=30), 30)
    np.testing.assert_allclose(schedules.warmup_cosine(np.arange(30), warmup_steps=0, total_steps=30), want,
                               rtol=1e-9, atol=1e-12)


def test_lambda_lr_drives_the_rate():
    f = lambda k: schedules.warmup_cosine(k, warmup_steps=3, total_steps=12)  # noqa: E731
    got = _torch_lrs(lambda o: LambdaLR(o, f), 15)
    np.testing.assert_allclose(got, [f(k) for k in range(15)], rtol=1e-15)


def test_scalars_and_values():
    assert schedules.warmup_cosine(0, warmup_steps=4, total_steps=10) == 0.25
    assert isinstance(schedules.linear_warmup(3, warmup_steps=4), float)
    assert schedules.linear_warmup(3, warmup_steps=4) == 1.0
    assert schedules.warmup_linear(7, warmup_steps=4, total_steps=10) == pytest.approx(0.5)
    assert schedules.untuned_warmup_steps(0.999) == 2000 and schedules.untuned_warmup_steps(0.98) == 100


@pytest.mark.parametrize("call, word", [
    (lambda: schedules.linear_warmup(-1, warmup_steps=3), "step"),
    (lambda: schedules.linear_warmup(1.5, warmup_steps=3), "step"),
    (lambda: schedules.linear_warmup(1, warmup_steps=-2), "warmup_steps"),
    (lambda: schedules.warmup_cosine(1, warmup_steps=10, total_steps=10), "total_steps"),
    (lambda: schedules.warmup_linear(1, warmup_steps=1, total_steps=10, final=2.0), "final"),
    (lambda: schedules.untuned_warmup_steps(1.0), "beta2"),
])
def test_bad_input(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_docstring_examples():
    import doctest

    result = doctest.testmod(schedules, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 1
