"""adamcourse.optim.adafactor beyond the shared registry (tests/optim_cases.py): long runs against
torch.optim.Adafactor, the factored state's size, what the factorisation is exact for, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adamcourse.optim as ours
from adamcourse.optim import adafactor

SHAPES = [(), (7,), (6, 9), (3, 4, 5), (2, 3, 4, 5)]  # scalar, vector (unfactored), matrix, batched matrices


def run(lib, kwargs, steps, dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=g, dtype=dtype).requires_grad_() for s in SHAPES]
    opt = lib.Adafactor(params, **kwargs)
    for i in range(steps):
        noise = torch.Generator().manual_seed(100 + i)
        for p in params:  # gradient of |p|^2/2 + <noise_t, p>: contracting, so round-off is not amplified
            p.grad = p.detach() + torch.randn(p.shape, generator=noise, dtype=dtype)
        opt.step()
    return params, opt


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.1, "weight_decay": 0.01}, {"beta2_decay": -0.5, "d": 2.0},
                                    {"eps": (1e-4, 1e-2), "maximize": True}], ids=str)
def test_long_run_matches_torch_params_and_state(kwargs):
    (p_ref, ref), (p_ours, mine) = run(torch.optim, kwargs, 1000), run(ours, kwargs, 1000)
    for a, b in zip(p_ours, p_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    s_ref, s_ours = ref.state_dict(), mine.state_dict()
    assert s_ref["param_groups"] == s_ours["param_groups"]
    for i, st in s_ref["state"].items():
        assert set(st) == set(s_ours["state"][i])
        for key, value in st.items():
            torch.testing.assert_close(s_ours["state"][i][key], value, rtol=1e-10, atol=0)


def test_state_is_factored_over_the_last_two_dimensions():
    _, opt = run(ours, {}, 1)
    for p, shape in zip((p for g in opt.param_groups for p in g["params"]), SHAPES):
        state = opt.state[p]
        if len(shape) < 2:
            assert set(state) == {"step", "variance"} and state["variance"].shape == shape
        else:
            *lead, n, m = shape
            assert state["row_var"].shape == (*lead, n, 1) and state["col_var"].shape == (*lead, 1, m)
            assert "variance" not in state
    # O(r + c): a 1000 x 2000 matrix keeps 3000 numbers, not 2 million
    state = adafactor.init(np.zeros((1000, 2000), dtype=np.float32))
    assert state.row_var.size + state.col_var.size == 3000 and state.variance is None


def test_factored_estimate_is_exact_for_rank_one_squared_gradients():
    """With g_ij^2 = a_i b_j every step, R C / mean(R) rebuilds the element-wise second moment exactly; the step
    then equals the unfactored rule written out independently (here: t = 1, V = g^2, U = sign(g))."""
    a, b = np.array([1.0, 4.0, 0.25]), np.array([2.0, 0.5, 1.0, 9.0])
    g = np.sqrt(np.outer(a, b)) * np.array([[1, -1, 1, -1], [-1, 1, 1, 1], [1, 1, -1, 1]])
    theta = np.full((3, 4), 2.0)
    new, state = adafactor.step(theta, g, adafactor.init(theta), eps=(1e-30, 1e-3))
    v_hat = state.row_var * state.col_var / state.row_var.mean()
    np.testing.assert_allclose(v_hat, g**2, rtol=1e-14)
    # alpha = RMS(theta) * min(lr, 1) = 2 * 0.01; U = g / |g| has RMS 1, so no clipping
    np.testing.assert_allclose(new, theta - 0.02 * np.sign(g), rtol=1e-14)


def test_empty_parameter_is_a_no_op_where_torch_divides_by_zero():
    p = torch.zeros(0, 3, requires_grad=True)
    p.grad = torch.zeros(0, 3)
    with pytest.raises(ZeroDivisionError):
        torch.optim.Adafactor([p]).step()
    opt = ours.Adafactor([p])
    opt.step()
    assert p.shape == (0, 3) and opt.state[p]["row_var"].shape == (0, 1)


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": -1.0}, r"^Learning rate should be >= 0 but is: -1.0 \(lr must lie in \[0, inf\)\)$"),
    ({"beta2_decay": 0.8}, r"^beta2_decay should be <= 0 but is: 0.8 \(beta2_decay must lie in \(-inf, 0\]\)$"),
    ({"eps": (-1e-30, 1e-3)}, r"^epsilon1 should be >= 0 but is: -1e-30 \(eps\[0\] must lie in None or \[0, inf\)\)$"),
    ({"eps": (None, -1.0)}, r"^epsilon2 should be >= 0 but is: -1.0 \(eps\[1\] must lie in \[0, inf\)\)$"),
    ({"d": 0.5}, r"^Clipping threshold d should be >= 1 but is: 0.5 \(d must lie in \[1, inf\)\)$"),
    ({"weight_decay": -0.1}, r"^weight_decay should be >= 0 but is: -0.1 \(weight_decay must lie in \[0, inf\)\)$"),
    ({"eps": 1e-3}, r"^eps must be a pair \(eps1, eps2\), got 0.001$"),
])
def test_bad_hyperparameters_raise_torchs_message_then_the_range(kwargs, message):
    params = [torch.zeros(3, requires_grad=True)]
    if "eps must be a pair" not in message:  # torch's own words start ours
        with pytest.raises(ValueError, match=message.split(" but is")[0]):
            torch.optim.Adafactor(params, **kwargs)
    with pytest.raises(ValueError, match=message):
        ours.Adafactor(params, **kwargs)
    theta = np.zeros(3)
    with pytest.raises(ValueError, match=message):
        adafactor.step(theta, theta, adafactor.init(theta), **kwargs)


def test_foreach_is_refused():
    with pytest.raises(ValueError, match="foreach=True is not supported"):
        ours.Adafactor([torch.zeros(3, requires_grad=True)], foreach=True)


def test_compiled_path_is_refused_with_a_reason():
    for cls in (ours.Adafactor, ours.Adam8bit):
        with pytest.raises(RuntimeError, match="has no compiled path"):
            cls([torch.zeros(3, requires_grad=True)]).compile()
