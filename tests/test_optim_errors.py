"""Bad input gets a precise error naming the argument, its value and what is allowed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adamcourse.optim as ours

from optim_cases import NAMES

THETA = np.zeros(3)


def p():
    return [torch.zeros(3, requires_grad=True)]


NEGATIVE = [(name, arg) for name in NAMES for arg in ("lr", "eps", "weight_decay")
            if not (name == "SGD" and arg == "eps")  # SGD has no eps
            and name != "Adafactor"]  # torch words it otherwise, eps is a pair: tests/test_adafactor.py


def torch_message(name, **kwargs):
    """torch.optim's error for the same constructor call: ours must start with it (then give the interval)."""
    with pytest.raises(ValueError) as info:
        getattr(torch.optim, name)(p(), **kwargs)
    return str(info.value)


WORDING = {"lr": "learning rate", "eps": "epsilon value", "weight_decay": "weight_decay value"}


@pytest.mark.parametrize("name, arg", NEGATIVE)
def test_negative_hyperparameters_are_rejected_by_class_and_core(name, arg):
    cls = getattr(ours, name)
    expected = rf"^Invalid {WORDING[arg]}: -0\.5 \({arg} must lie in \[0, inf\)\)$"
    with pytest.raises(ValueError, match=expected) as info:
        cls(p(), **{arg: -0.5})
    assert str(info.value).startswith(torch_message(name, **{arg: -0.5}))
    core = ours.CORES[name]
    with pytest.raises(ValueError, match=expected):
        core.step(THETA, THETA, core.init(THETA), **{arg: -0.5})


def test_hyperparameters_are_checked_before_params_are_read():
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -1"):
        ours.Adam(None, lr=-1)  # torch's order: a bad value is reported, not the missing params
    with pytest.raises(ValueError, match=r"^Tensor lr must be 1-element"):
        ours.SGD(None, lr=torch.tensor([0.1, 0.1]))


@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adamax", "NAdam", "RAdam"])
@pytest.mark.parametrize("betas, which", [((1.0, 0.999), 0), ((-0.1, 0.999), 0), ((0.9, 1.0), 1), ((0.9, 1.5), 1)])
def test_betas_outside_unit_interval(name, betas, which):
    expected = rf"^Invalid beta parameter at index {which}: .* \(beta{which + 1} must lie in \[0, 1\)\)$"
    with pytest.raises(ValueError, match=expected) as info:
        getattr(ours, name)(p(), betas=betas)
    assert str(info.value).startswith(torch_message(name, betas=betas))


def test_rmsprop_alpha_and_momentum():
    torch.optim.RMSprop(p(), alpha=1.0)  # torch accepts it; RMSprop's docstring says why we do not
    with pytest.raises(ValueError, match=r"^Invalid alpha value: 1\.0 \(alpha must lie in \[0, 1\)\)$"):
        ours.RMSprop(p(), alpha=1.0)
    with pytest.raises(ValueError, match=r"^Invalid momentum value: -0\.1"):
        ours.RMSprop(p(), momentum=-0.1)


def test_sgd_momentum_and_nesterov():
    with pytest.raises(ValueError, match=r"^Invalid momentum value: -0\.9"):
        ours.SGD(p(), lr=0.1, momentum=-0.9)
    with pytest.raises(ValueError, match=r"^Nesterov momentum requires a momentum and zero dampening"):
        ours.SGD(p(), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"[Nn]esterov.*dampening"):
        ours.SGD(p(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)


def test_unknown_keyword_names_the_typo_and_the_fix():
    with pytest.raises(TypeError, match=r"beta_1=0\.9 \(did you mean 'beta1'\?\); valid: lr, beta1, beta2"):
        ours.adam.step(THETA, THETA, ours.adam.init(THETA), beta_1=0.9)
    with pytest.raises(TypeError, match=r"beta_1"):
        ours.Adam(p(), beta_1=0.9)


def test_shape_mismatch():
    with pytest.raises(ValueError, match=r"grad has shape \(4,\) but theta has shape \(3,\)"):
        ours.adam.step(THETA, np.zeros(4), ours.adam.init(THETA))


def test_numpy_and_torch_mixed():
    expected = "theta and grad must both be torch tensors or both NumPy arrays, got ndarray and Tensor"
    with pytest.raises(TypeError, match=expected):
        ours.adam.step(THETA, torch.zeros(3), ours.adam.init(THETA))


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"SGD", "Adagrad"}))
def test_sparse_gradients_are_refused(name):
    params = p()
    opt = getattr(ours, name)(params)
    params[0].grad = torch.zeros(3).to_sparse()
    with pytest.raises(TypeError, match="sparse gradients are not supported"):
        opt.step()


def test_the_functional_core_refuses_complex_arrays():
    z = np.zeros(3, dtype=np.complex128)
    with pytest.raises(TypeError, match="complex parameters or gradients are not supported by the functional"):
        ours.adam.step(z, z, ours.adam.init(z))


@pytest.mark.parametrize("name", NAMES)
def test_fast_paths_are_refused_by_name(name):
    import inspect

    flags = [f for f in ("foreach", "fused", "capturable", "differentiable")
             if f in inspect.signature(getattr(torch.optim, name)).parameters]
    assert flags
    for flag in flags:
        with pytest.raises(ValueError, match=rf"{flag}=True is not supported"):
            getattr(ours, name)(p(), **{flag: True})
        getattr(ours, name)(p(), **{flag: False if flag != "foreach" else None})  # the defaults are fine


def test_bad_lr_set_later_by_hand_is_caught_at_step():
    params = p()
    opt = ours.Adam(params)
    opt.param_groups[0]["lr"] = -1.0
    params[0].grad = torch.ones(3)
    with pytest.raises(ValueError, match=r"Invalid learning rate: -1\.0"):
        opt.step()
    assert torch.equal(params[0].detach(), torch.zeros(3))
