"""adamcourse.variants: each form against an independent one (the library's optimizers, torch, sums)."""

import numpy as np
import pytest
import torch

from adamcourse import variants
from adamcourse.optim import adam, adamax, adamw, nadam, radam


def _grads(steps=60, shape=(5,), seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((steps, *shape)) * np.logspace(-2, 2, shape[-1])


def _run(step, init, grads, **hyper):
    theta = np.linspace(-1, 1, grads.shape[-1])
    state = init(theta)
    for g in grads:
        theta, state = step(theta, g, state, **hyper)
    return theta, state


def test_lp_with_p_2_is_adam_with_beta2_squared():
    grads = _grads()
    got, s = _run(variants.lp_step, variants.lp_init, grads, p=2, lr=0.01, beta2=0.99, eps=1e-8)
    want, w = _run(adam.step, adam.init, grads, lr=0.01, beta2=0.99**2, eps=1e-8)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(s.u, np.sqrt(w.v), rtol=1e-12)


@pytest.mark.parametrize("p", [4, 16, 64, 256, 1024])
def test_lp_norm_is_squeezed_onto_adamax(p):
    grads = _grads(steps=40)
    _, s = _run(variants.lp_step, variants.lp_init, grads, p=p, lr=0.01)
    _, a = _run(adamax.step, adamax.init, grads, lr=0.01, eps=0.0)
    ratio, t = s.u / a.u, len(grads)
    assert np.all(ratio >= (1 - 0.999**p) ** (1 / p) * (1 - 1e-12))   # u_p >= (1 - beta2^p)^(1/p) u_inf
    assert np.all(ratio <= t ** (1 / p) * (1 + 1e-12))                  # u_p <= t^(1/p) u_inf


def test_lp_large_p_steps_like_adamax():
    grads = _grads(steps=30)
    got, _ = _run(variants.lp_step, variants.lp_init, grads, p=1e6, lr=0.01, bias_correction=False)
    want, _ = _run(adamax.step, adamax.init, grads, lr=0.01, eps=0.0)
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_lp_runs_on_torch_and_handles_zero_gradients():
    theta = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    state = variants.lp_init(theta)
    g = torch.tensor([0.0, 3.0, -1.0], dtype=torch.float64)
    new, state = variants.lp_step(theta, g, state, p=50.0, lr=0.1, eps=1e-8)
    assert isinstance(new, torch.Tensor) and torch.isfinite(new).all()
    assert new[0] == theta[0] and state.u[0] == 0


def _dozat_by_sums(grads, lr, beta1, beta2, eps):
    theta = np.linspace(-1, 1, grads.shape[-1])
    for t in range(1, len(grads) + 1):
        past = grads[:t]
        ages = t - np.arange(1, t + 1)
        m = (1 - beta1) * (beta1**ages) @ past
        v = (1 - beta2) * (beta2**ages) @ past**2
        look = beta1 * m / (1 - beta1 ** (t + 1)) + (1 - beta1) * past[-1] / (1 - beta1**t)
        theta = theta - lr * look / (np.sqrt(v / (1 - beta2**t)) + eps)
    return theta


def test_dozat_against_sums_and_special_cases():
    grads = _grads(steps=40)
    got, _ = _run(variants.dozat_step, variants.dozat_init, grads, lr=0.01)
    np.testing.assert_allclose(got, _dozat_by_sums(grads, 0.01, 0.9, 0.999, 1e-8), rtol=1e-12)
    no_momentum, _ = _run(variants.dozat_step, variants.dozat_init, grads, lr=0.01, beta1=0.0)
    np.testing.assert_allclose(no_momentum, _run(adam.step, adam.init, grads, lr=0.01, beta1=0.0)[0], rtol=1e-13)
    torch_form, _ = _run(nadam.step, nadam.init, grads, lr=0.01)
    assert np.abs(got - torch_form).max() > 1e-4       # PyTorch's schedule is another rule


def test_adamw_paper_is_torch_adamw_with_lambda_over_alpha():
    grads = _grads(steps=30)
    alpha, lam = 0.01, 0.05
    theta_p = theta_t = np.linspace(-1, 1, 5)
    state_p = state_t = adam.init(theta_p)
    for k, g in enumerate(grads):
        s = 0.5 + 0.5 * np.cos(np.pi * k / len(grads))                 # any schedule multiplier
        theta_p, state_p = variants.adamw_paper_step(theta_p, g, state_p, alpha=alpha, schedule=s, weight_decay=lam)
        theta_t, state_t = adamw.step(theta_t, g, state_t, lr=s * alpha, weight_decay=lam / alpha)
    np.testing.assert_allclose(theta_p, theta_t, rtol=1e-12)


def test_psi_variance_exact_against_sampling_and_the_approximation():
    rng = np.random.default_rng(0)
    for rho in (6, 10, 40):
        psi = np.sqrt(rho / rng.chisquare(rho, size=400_000))
        assert variants.psi_variance(rho) == pytest.approx(psi.var(), rel=0.05)
    big = np.array([1e3, 1e4, 1e5])
    np.testing.assert_allclose(variants.psi_variance(big), 1 / (2 * big), rtol=5e-3)
    np.testing.assert_allclose(variants.psi_variance_approx(big), variants.psi_variance(big), rtol=3e-3)


def test_simulated_variance_follows_rho_t():
    beta2, t = 0.999, np.array([20, 40])
    sim = variants.simulate_psi_variance(40, 100_000, beta2, seed=1)
    np.testing.assert_allclose(sim[t - 1], variants.psi_variance(radam.rho(t, beta2)), rtol=0.06)


def test_mean_age_matches_rho_t():
    for beta2 in (0.9, 0.999):
        t = np.array([1, 2, 5, 50, 3000])
        np.testing.assert_allclose(2 * variants.ema_mean_age(t, beta2) + 1, radam.rho(t, beta2), rtol=1e-9,
                                   atol=1e-9)
    assert variants.ema_mean_age(1, 0.9) == 0.0


@pytest.mark.parametrize("call, word", [
    (lambda: variants.lp_step(np.ones(2), np.ones(2), variants.lp_init(np.ones(2)), p=0.5), "p"),
    (lambda: variants.dozat_step(np.ones(2), np.ones(2), variants.dozat_init(np.ones(2)), beta1=1.0), "beta"),
    (lambda: variants.adamw_paper_step(np.ones(2), np.ones(2), adam.init(np.ones(2)), alpha=-1), "alpha"),
    (lambda: variants.psi_variance(2.0), "rho"),
    (lambda: variants.psi_variance_approx([5.0, 3.0]), "rho"),
    (lambda: variants.simulate_psi_variance(0, 10, 0.9), "steps"),
    (lambda: variants.simulate_psi_variance(5, 1, 0.9), "runs"),
    (lambda: variants.ema_mean_age(0, 0.9), "t"),
])
def test_bad_input(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_misspelled_hyperparameter_is_refused():
    with pytest.raises(TypeError, match="beta1"):
        variants.dozat_step(np.ones(2), np.ones(2), variants.dozat_init(np.ones(2)), beta_1=0.9)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(variants, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 3
