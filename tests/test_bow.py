"""adamcourse.bow: the Zipf bag-of-words problem, its gradients, its optimum and the loss split by words."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import adamcourse.bow
from adamcourse.bow import zipf_bag_of_words


@pytest.fixture(scope="module")
def bag():
    return zipf_bag_of_words(n_docs=400, vocab=60, seed=1)


def test_docstring_examples():
    result = doctest.testmod(adamcourse.bow, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 3


def test_frequencies_follow_zipf(bag):
    big = zipf_bag_of_words(n_docs=4000, vocab=60, seed=0, words_per_doc=3.0, exponent=1.0)
    ranks = np.arange(1, 61)
    p = np.minimum(1, 3.0 / (1 / ranks).sum() * ranks**-1.0)  # no cap reached: c = 3 / H_60
    assert p.max() < 1
    np.testing.assert_allclose(big.frequency, p, atol=4 * np.sqrt(p * (1 - p) / 4000).max())
    assert big.X.sum(axis=1).mean() == pytest.approx(3.0, rel=0.05)
    assert set(np.unique(bag.X)) <= {0.0, 1.0} and set(np.unique(bag.y)) == {0.0, 1.0}


def test_loss_and_gradient_against_torch(bag):
    w = np.random.default_rng(0).standard_normal((2, bag.dim))
    wt = torch.tensor(w, requires_grad=True)
    X, s = torch.tensor(bag.X), torch.tensor(2 * bag.y - 1)
    loss = torch.nn.functional.softplus(-s * (wt @ X.T)).mean(dim=1) + 0.5 * bag.l2 * (wt**2).sum(dim=1)
    loss.sum().backward()
    np.testing.assert_allclose(bag.f(w), loss.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(bag.grad(w), wt.grad.numpy(), rtol=1e-10, atol=1e-14)
    rows = np.array([[0, 5, 7], [3, 3, 9]])                      # one minibatch per member
    for k in range(2):
        wk = torch.tensor(w[k], requires_grad=True)
        part = torch.nn.functional.softplus(-s[rows[k]] * (X[rows[k]] @ wk)).mean() + 0.5 * bag.l2 * (wk**2).sum()
        part.backward()
        np.testing.assert_allclose(bag.minibatch_grad(w, rows)[k], wk.grad.numpy(), rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="one minibatch per row"):
        bag.minibatch_grad(w, np.array([0, 1]))


def test_optimum_and_group_loss(bag):
    assert np.abs(bag.grad(bag.w_star)).max() < 1e-6
    rng = np.random.default_rng(2)
    for _ in range(5):                                           # nothing nearby is lower
        assert bag.f(bag.w_star + 1e-3 * rng.standard_normal(bag.dim)) > bag.f_min
    w = rng.standard_normal(bag.dim)
    assert bag.group_loss(bag.w_star, slice(None)) == pytest.approx(0.0, abs=1e-14)
    assert bag.group_loss(w, slice(None)) == pytest.approx(bag.f(w) - bag.f_min)
    mixed = bag.w_star.copy()
    mixed[:10] = w[:10]
    assert bag.group_loss(w, slice(0, 10)) == pytest.approx(bag.f(mixed) - bag.f_min)
    assert bag.group_loss(np.stack([w, bag.w_star]), slice(0, 10)).shape == (2,)


@pytest.mark.parametrize("kwargs, words", [
    ({"n_docs": 1}, "n_docs must be an integer >= 2"),
    ({"vocab": 2.5}, "vocab must be an integer"),
    ({"exponent": 0.0}, "exponent must be a finite number > 0"),
    ({"words_per_doc": 600.0}, "words_per_doc must lie in"),
    ({"l2": 0.0}, "l2 must be a finite number > 0"),
])
def test_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        zipf_bag_of_words(**kwargs)
