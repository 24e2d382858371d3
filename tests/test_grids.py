"""adamcourse.grids: every member of a batched grid equals a run of the library's optimizer on its own, the
uncorrected Adam equals Adam with a rescaled learning rate, and the stacked networks train as separate ones."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
from torch import nn

import adamcourse.grids
from adamcourse import optim
from adamcourse.grids import grid_init, grid_step, share_within, steps_to_target, train_stack

# rule -> (library core, hyperparameters per member, how the core spells them)
GRIDS = {
    "sgd": (optim.sgd, {"lr": [0.1, 0.01, 0.05], "momentum": [0.0, 0.9, 0.5]}),
    "adagrad": (optim.adagrad, {"lr": [0.1, 0.01, 0.5], "eps": [1e-10, 1e-3, 1e-6]}),
    "rmsprop": (optim.rmsprop, {"lr": [0.01, 0.001, 0.05], "alpha": [0.99, 0.9, 0.5], "eps": [1e-8, 1e-3, 1e-6]}),
    "adam": (optim.adam, {"lr": [0.1, 0.01, 0.05], "beta1": [0.9, 0.0, 0.5], "beta2": [0.999, 0.99, 0.9],
                          "eps": [1e-8, 1e-3, 1e-6], "correct": [1.0, 1.0, 1.0]}),
}


def test_docstring_examples():
    result = doctest.testmod(adamcourse.grids, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 4


@pytest.mark.parametrize("rule", GRIDS)
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_each_member_equals_the_library_core(rule, backend):
    core, hyper = GRIDS[rule]
    rng = np.random.default_rng(0)
    theta0 = rng.standard_normal((3, 4, 2))
    grads = rng.standard_normal((25, 3, 4, 2)) * np.array([1e-3, 1.0, 1e2])[:, None, None]
    theta = torch.tensor(theta0) if backend == "torch" else theta0.copy()
    state = grid_init(rule, theta)
    for g in grads:
        theta, state = grid_step(rule, theta, torch.tensor(g) if backend == "torch" else g, state, **hyper)
    for k in range(3):
        own = {name: values[k] for name, values in hyper.items() if name != "correct"}
        alone, s = theta0[k], core.init(theta0[k])
        for g in grads:
            alone, s = core.step(alone, g[k], s, **own)
        np.testing.assert_allclose(np.asarray(theta[k]), alone, rtol=1e-12, atol=1e-14)
    assert state.t == len(grads)


def test_uncorrected_adam_is_adam_with_a_rescaled_step():
    rng = np.random.default_rng(1)
    beta1, beta2, lr, eps = np.array([0.0, 0.9]), np.array([0.9999, 0.99]), 0.01, 1e-6
    theta = rng.standard_normal((2, 3))
    alone = [theta[k].copy() for k in range(2)]
    states = [optim.adam.init(theta[k]) for k in range(2)]
    state = grid_init("adam", theta)
    for t in range(1, 41):
        g = rng.standard_normal((2, 3))
        theta, state = grid_step("adam", theta, g, state, lr=[lr] * 2, beta1=beta1, beta2=beta2, eps=[eps] * 2,
                                 correct=[0.0, 0.0])
        for k in range(2):
            root = np.sqrt(1 - beta2[k] ** t)
            alone[k], states[k] = optim.adam.step(alone[k], g[k], states[k], lr=lr * (1 - beta1[k] ** t) / root,
                                                  beta1=beta1[k], beta2=beta2[k], eps=eps / root)
            np.testing.assert_allclose(theta[k], alone[k], rtol=1e-12)
    # the first step of beta1 = 0, beta2 = 0.9999 is 100 times Adam's (eps aside)
    theta, state = np.zeros((2, 1)), grid_init("adam", np.zeros((2, 1)))
    theta, _ = grid_step("adam", theta, np.ones((2, 1)), state, lr=[0.001] * 2, beta1=[0.0] * 2,
                         beta2=[0.9999] * 2, eps=[0.0] * 2, correct=[1.0, 0.0])
    assert theta[1, 0] / theta[0, 0] == pytest.approx(100.0, rel=1e-9)


def test_inputs_are_not_mutated():
    theta, g = np.ones((2, 3)), np.full((2, 3), 0.5)
    state = grid_init("adam", theta)
    grid_step("adam", theta, g, state, lr=[0.1] * 2, beta1=[0.9] * 2, beta2=[0.999] * 2, eps=[1e-8] * 2,
              correct=[1, 0])
    assert (theta == 1).all() and (g == 0.5).all() and (state.a == 0).all() and state.t == 0


@pytest.mark.parametrize("hyper, words", [
    ({"lr": [0.1, 0.1]}, "missing \\['momentum'\\]"),
    ({"lr": [0.1, 0.1], "momentum": [0.0, 0.0], "beta": [0.9, 0.9]}, "unknown \\['beta'\\]"),
    ({"lr": [0.1], "momentum": [0.0, 0.0]}, "lr needs one value per member \\(2\\)"),
    ({"lr": [0.1, -1.0], "momentum": [0.0, 0.0]}, "lr must lie in \\(0, inf\\), got -1.0"),
    ({"lr": [0.1, 0.1], "momentum": [0.0, 1.0]}, "momentum must lie in \\[0, 1\\), got 1.0"),
])
def test_bad_hyperparameters_are_named(hyper, words):
    theta = np.zeros((2, 3))
    with pytest.raises(ValueError, match=words):
        grid_step("sgd", theta, theta, grid_init("sgd", theta), **hyper)


def test_bad_rule_and_shapes():
    with pytest.raises(ValueError, match="rule must be one of"):
        grid_init("lion", np.zeros((2, 2)))
    theta = np.zeros((2, 2))
    with pytest.raises(ValueError, match="grad has shape"):
        grid_step("sgd", theta, np.zeros((2, 3)), grid_init("sgd", theta), lr=[1, 1], momentum=[0, 0])
    with pytest.raises(ValueError, match="correct must lie in \\[0, 1\\]"):
        grid_step("adam", theta, theta, grid_init("adam", theta), lr=[1, 1], beta1=[0, 0], beta2=[0, 0],
                  eps=[0, 0], correct=[1, 2])


def test_steps_to_target_and_share_within():
    losses = np.array([[5.0, 1.0, 0.5], [5.0, np.nan, 0.1], [5.0, 4.0, 3.0]])
    assert steps_to_target(losses, 1.0).tolist() == [1.0, 2.0, np.inf]
    assert steps_to_target(losses, 1.0, steps=[0, 10, 20]).tolist() == [10.0, 20.0, np.inf]
    with pytest.raises(ValueError, match="one entry per column"):
        steps_to_target(losses, 1.0, steps=[0, 10])
    assert share_within(np.array([1.0, 1.1, 1.2, np.inf]), 0.1) == 0.5
    assert share_within(np.array([np.nan, np.nan])) == 0.0
    with pytest.raises(ValueError, match="within must be >= 0"):
        share_within(np.ones(3), -0.1)
    with pytest.raises(ValueError, match="values >= 0"):
        share_within(np.array([-1.0, 1.0]))


def _mlp():
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def test_train_stack_members_train_as_separate_models():
    """Member k of a stack follows the same path as one model trained alone with the library's class."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(12, 3, generator=gen), torch.randint(0, 2, (12,), generator=gen)
    seeds, lrs = [0, 1, 0], [0.1, 0.1, 0.01]
    hyper = {"lr": lrs, "beta1": [0.9] * 3, "beta2": [0.999] * 3, "eps": [1e-8] * 3, "correct": [1.0] * 3}
    result = train_stack(_mlp, seeds, "adam", hyper, x, y, steps=7, batch_size=4, eval_every=3,
                         evaluate={"all": (x, y)})
    assert result.steps.tolist() == [0, 3, 6, 7] and result.train_loss.shape == (3, 4)
    for k, (seed, lr) in enumerate(zip(seeds, lrs, strict=True)):
        torch.manual_seed(seed)
        model = _mlp()
        opt = optim.Adam(model.parameters(), lr=lr)
        gen, rows = torch.Generator().manual_seed(seed), []
        while len(rows) < 7:
            perm = torch.randperm(12, generator=gen)
            rows.extend(perm[i * 4:(i + 1) * 4] for i in range(3))
        with torch.no_grad():
            first = nn.functional.cross_entropy(model(x), y).item()
        for batch in rows[:7]:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            opt.step()
        with torch.no_grad():
            last = nn.functional.cross_entropy(model(x), y).item()
            accuracy = (model(x).argmax(-1) == y).double().mean().item()
        assert result.train_loss[k, 0] == pytest.approx(first, rel=1e-5)
        assert result.train_loss[k, -1] == pytest.approx(last, rel=1e-4)
        assert result.final["all"]["accuracy"][k] == pytest.approx(accuracy)
    assert result.train_loss[0, -1] != result.train_loss[1, -1]  # different seeds, different runs


def test_train_stack_mse_and_divergence_isolated():
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(2))
    target = x[:, :2]
    hyper = {"lr": [0.01, 1e6], "momentum": [0.0, 0.0]}
    result = train_stack(_mlp, [0, 0], "sgd", hyper, x, target, steps=20, batch_size=8, loss="mse", eval_every=10)
    assert np.isfinite(result.train_loss[0]).all() and result.train_loss[0, -1] < result.train_loss[0, 0]
    assert not np.isfinite(result.train_loss[1, -1])


def test_train_stack_bad_arguments():
    x, y = torch.zeros(4, 3), torch.zeros(4, dtype=torch.long)
    hyper = {"lr": [0.1], "momentum": [0.0]}
    with pytest.raises(ValueError, match="loss must be"):
        train_stack(_mlp, [0], "sgd", hyper, x, y, steps=1, batch_size=2, loss="hinge")
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        train_stack(_mlp, [0], "sgd", hyper, x, y, steps=0, batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be at most"):
        train_stack(_mlp, [0], "sgd", hyper, x, y, steps=1, batch_size=5)
    with pytest.raises(ValueError, match="seeds must name"):
        train_stack(_mlp, [], "sgd", hyper, x, y, steps=1, batch_size=2)
