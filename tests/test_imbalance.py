"""adamcourse.imbalance: Zipf data, the linear softmax model and its gradient (against autograd), sign descent
(against Adam with beta1 = beta2 = 0, eps = 0), the vectorised runners (against one-at-a-time loops with the
library's optimizers), the gradient-flow solution (against a fine Euler integration), and the small helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from adamcourse import imbalance
from adamcourse.optim import adam


def test_zipf_probs_and_counts():
    pi = imbalance.zipf_probs(5)
    np.testing.assert_allclose(pi, (1 / np.arange(1, 6)) / sum(1 / k for k in range(1, 6)), rtol=1e-15)
    np.testing.assert_allclose(imbalance.zipf_probs(3, exponent=0.0), [1 / 3] * 3)
    counts = imbalance.zipf_counts(1000, 32)
    assert counts.sum() == 1000 and counts.min() >= 1 and (np.diff(counts) <= 0).all()
    assert np.abs(counts - 1000 * imbalance.zipf_probs(32)).max() < 1
    assert imbalance.zipf_counts(10, 10).tolist() == [1] * 10
    with pytest.raises(ValueError, match="num_classes"):
        imbalance.zipf_probs(0)
    with pytest.raises(ValueError, match="exponent"):
        imbalance.zipf_probs(3, exponent=-1)
    with pytest.raises(ValueError, match="n must be"):
        imbalance.zipf_counts(5, 10)


def test_make_zipf_data():
    d = imbalance.make_zipf_data(8, 100, dim=10, noise=0.0, seeds=[0, 1])
    assert d.x.shape == (2, 100, 10) and d.y.shape == (100,) and d.x.dtype == torch.float64
    assert torch.equal(d.x[0], torch.nn.functional.one_hot(d.y, 10).double())
    np.testing.assert_allclose(d.pi, d.counts / 100)
    noisy = imbalance.make_zipf_data(8, 100, noise=0.5, seeds=[0, 1])
    assert not torch.equal(noisy.x[0], noisy.x[1])
    again = imbalance.make_zipf_data(8, 100, noise=0.5, seeds=[1])
    assert torch.equal(again.x[0], noisy.x[1])  # a seed gives the same data set wherever it sits
    with pytest.raises(ValueError, match="dim"):
        imbalance.make_zipf_data(8, 100, dim=4)
    with pytest.raises(ValueError, match="noise"):
        imbalance.make_zipf_data(8, 100, noise=-1.0)
    with pytest.raises(ValueError, match="seeds"):
        imbalance.make_zipf_data(8, 100, seeds=[])


def test_softmax_loss_grad_matches_autograd():
    d = imbalance.make_zipf_data(6, 60, dim=9, noise=0.3, seeds=[0, 1])
    W = torch.randn(3, 2, 6, 9, dtype=torch.float64, requires_grad=True)
    per_class, total, grad = imbalance.softmax_loss_grad(W.detach(), d.x, d.y)
    logits = d.x @ W.transpose(-1, -2)
    losses = torch.nn.functional.cross_entropy(logits.reshape(-1, 6), d.y.repeat(6), reduction="none")
    losses = losses.reshape(3, 2, 60)
    losses.mean(-1).sum().backward()
    torch.testing.assert_close(total, losses.mean(-1).detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, W.grad, rtol=1e-10, atol=1e-12)
    for k in range(6):
        torch.testing.assert_close(per_class[..., k], losses[..., d.y == k].mean(-1).detach(), rtol=1e-12, atol=0)
    # L = sum_k pi_k l_k
    torch.testing.assert_close((per_class * torch.from_numpy(d.pi)).sum(-1), total, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="features"):
        imbalance.softmax_loss_grad(torch.zeros(6, 5, dtype=torch.float64), d.x, d.y)


def test_sign_descent_is_adam_without_averages():
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(50)
    state, ref = adam.init(theta), theta.copy()
    for _ in range(20):
        g = rng.standard_normal(50) * 10.0 ** rng.uniform(-4, 4, 50)
        theta, state = adam.step(theta, g, state, lr=0.1, beta1=0.0, beta2=0.0, eps=0.0)
        ref = imbalance.sign_descent_step(ref, g, lr=0.1)
        np.testing.assert_allclose(theta, ref, rtol=0, atol=1e-14)
    t = imbalance.sign_descent_step(torch.ones(3), torch.tensor([2.0, 0.0, -1e-9]), lr=0.5)
    assert t.tolist() == [0.5, 1.0, 1.5]
    with pytest.raises(ValueError, match="lr"):
        imbalance.sign_descent_step(theta, theta, lr=-1.0)


@pytest.mark.parametrize("method", ["gd", "sign", "adam"])
def test_train_linear_matches_a_plain_loop(method):
    d = imbalance.make_zipf_data(5, 40, dim=7, noise=0.3, seeds=[0, 1])
    lrs = (0.05, 0.5)
    run = imbalance.train_linear(d, method, lrs, 15, beta1=0.8, beta2=0.99, eps=1e-6)
    assert run.per_class.shape == (2, 2, 16, 5) and run.total.shape == (2, 2, 16)
    for i, lr in enumerate(lrs):
        for s in range(2):
            W = torch.zeros(5, 7, dtype=torch.float64)
            state = adam.init(W)
            for t in range(16):
                per_class, total, g = imbalance.softmax_loss_grad(W, d.x[s], d.y)
                np.testing.assert_allclose(run.per_class[i, s, t], per_class.numpy(), rtol=1e-9, atol=1e-12)
                if method == "gd":
                    W = W - lr * g
                elif method == "sign":
                    W = imbalance.sign_descent_step(W, g, lr=lr)
                else:
                    W, state = adam.step(W, g, state, lr=lr, beta1=0.8, beta2=0.99, eps=1e-6)


def test_train_linear_errors_and_divergence():
    d = imbalance.make_zipf_data(4, 20)
    with pytest.raises(ValueError, match="method"):
        imbalance.train_linear(d, "sgd", [0.1], 3)
    with pytest.raises(ValueError, match="lrs"):
        imbalance.train_linear(d, "gd", [], 3)
    with pytest.raises(ValueError, match="steps"):
        imbalance.train_linear(d, "gd", [0.1], 0)
    noisy = imbalance.make_zipf_data(4, 20, noise=1.0)
    run = imbalance.train_linear(noisy, "gd", [1e6], 30)
    assert not np.isfinite(run.total[0, 0, -1]) or run.total[0, 0, -1] > run.total[0, 0, 0]


def test_gradient_flow_loss_against_euler():
    K, s_end, n = 10, 5.0, 200_000
    z, ds = 0.0, s_end / n
    for _ in range(n):  # dz/ds = K e^{-z} / (1 + (K - 1) e^{-z}), by explicit Euler
        z += ds * K * math.exp(-z) / (1 + (K - 1) * math.exp(-z))
    expected = math.log1p((K - 1) * math.exp(-z))
    got = imbalance.gradient_flow_loss([0.0, s_end], K)
    assert abs(got[0] - math.log(K)) < 1e-12
    assert abs(got[1] - expected) < 1e-4
    big = imbalance.gradient_flow_loss(1e6, K)
    assert abs(big * 1e6 / ((K - 1) / K) - 1) < 1e-3
    with pytest.raises(ValueError, match="s must be"):
        imbalance.gradient_flow_loss(-1.0, K)


def test_onehot_model_gd_follows_the_flow_and_sign_descent_ignores_frequency():
    K = 8
    d = imbalance.make_zipf_data(K, 200)
    run = imbalance.train_linear(d, "gd", [0.2], 400)
    t = np.arange(0, 401, 40)
    predicted = imbalance.gradient_flow_loss(0.2 * d.pi[None, :] * t[:, None], K)
    np.testing.assert_allclose(run.per_class[0, 0, t], predicted, rtol=0.02)
    sign = imbalance.train_linear(d, "sign", [0.05], 50)
    assert np.ptp(sign.per_class[0, 0], axis=1).max() < 1e-12


def test_time_to_level_and_slope():
    curves = np.array([[4.0, 3.0, 2.0, 1.0], [4.0, 4.0, 4.0, 4.0], [1.0, 0.5, 0.2, 0.1]])
    np.testing.assert_allclose(imbalance.time_to_level(curves, 2.5), [1.5, np.inf, 0.0])
    np.testing.assert_allclose(imbalance.time_to_level(curves, [3.0, 4.0, 0.35]), [1.0, 0.0, 1.5])
    x = np.array([0.1, 0.2, 0.4, 0.8])
    assert abs(imbalance.loglog_slope(x, 3 / x) + 1) < 1e-12
    assert abs(imbalance.loglog_slope(x, np.append(5 * x[:3] ** 2, np.inf)) - 2) < 1e-12
    with pytest.raises(ValueError, match="two points"):
        imbalance.loglog_slope([1.0, 1.0], [2.0, 3.0])


def test_tune_extends_until_interior():
    d = imbalance.make_zipf_data(6, 60, noise=0.4, seeds=[0, 1, 2])
    capped, _ = imbalance.tune(lambda lrs: imbalance.train_linear(d, "sign", lrs, 30), "sign", [1e-4, 3e-4],
                               max_extra=1)
    assert capped.lrs("sign") == (1e-4, 3e-4, 1e-3) and not capped.best("sign").interior
    sweep, runs = imbalance.tune(lambda lrs: imbalance.train_linear(d, "sign", lrs, 30), "sign", [1e-4, 3e-4],
                                 max_extra=8)
    best = sweep.best("sign")
    assert best.interior and len(sweep.lrs("sign")) > 2
    assert set(runs) == set(sweep.lrs("sign"))
    r = runs[best.lr]
    assert r.lrs == (best.lr,) and r.per_class.shape[0] == 1
    np.testing.assert_allclose(best.stats.values, r.total[0, :, -1])
    with pytest.raises(ValueError, match="grid"):
        imbalance.tune(lambda lrs: None, "x", [])


def test_bigram_counts_and_gradient():
    ids = torch.tensor([0, 1, 1, 2, 0, 1])
    C = imbalance.bigram_counts(ids, 3)
    assert C.tolist() == [[0, 2, 0], [0, 1, 1], [1, 0, 0]]
    with pytest.raises(ValueError, match="two characters"):
        imbalance.bigram_counts(torch.tensor([1]), 3)


def test_train_bigram_full_batch_limit_matches_gd_on_counts():
    """With a batch far larger than the text, the minibatch counts approach B/N times the full counts: SGD's
    path approaches full-batch GD on the count gradient (c_a p_a - C_a) / N, computed here by autograd."""
    rng = np.random.default_rng(0)
    V = 5
    ids = torch.from_numpy(rng.choice(V, size=400, p=[0.5, 0.25, 0.15, 0.07, 0.03]))
    run = imbalance.train_bigram(ids, ids, V, "gd", [2.0], seeds=[0], steps=20, batch_size=400_000,
                                 eval_at=[0, 20])
    C = imbalance.bigram_counts(ids, V)
    W = torch.zeros(V, V, dtype=torch.float64, requires_grad=True)
    for _ in range(20):
        loss = -(torch.log_softmax(W, -1) * C).sum() / C.sum()
        (g,) = torch.autograd.grad(loss, W)
        W = (W - 2.0 * g).detach().requires_grad_(True)
    logp = torch.log_softmax(W, -1).detach()
    per_char = (-(logp * C).sum(0) / C.sum(0)).numpy()
    np.testing.assert_allclose(run.per_char[0, 0, 0], np.log(V), rtol=1e-12)
    np.testing.assert_allclose(run.per_char[0, 0, -1], per_char, rtol=2e-3)
    assert abs(run.total[0, 0, -1] - float(-(logp * C).sum() / C.sum())) < 2e-3
    with pytest.raises(ValueError, match="eval_at"):
        imbalance.train_bigram(ids, ids, V, "gd", [1.0], seeds=[0], steps=5, batch_size=8, eval_at=[9])
    with pytest.raises(ValueError, match="method"):
        imbalance.train_bigram(ids, ids, V, "lion", [1.0], seeds=[0], steps=5, batch_size=8, eval_at=[5])


def test_frequency_bins_and_loss_by_bin():
    ids = torch.tensor([0] * 10 + [1] * 5 + [2] * 2 + [3])
    bin_of, freq = imbalance.frequency_bins(ids, 5, 2)
    assert bin_of.tolist() == [0, 0, 0, 1, 1] and abs(freq.sum() - 1) < 1e-12
    logits = torch.zeros(1, 4, 5)
    targets = torch.tensor([[0, 1, 3, 4]])
    np.testing.assert_allclose(imbalance.loss_by_bin(logits, targets, bin_of, 2), [math.log(5)] * 2, rtol=1e-6)
    with pytest.raises(ValueError, match="num_bins"):
        imbalance.frequency_bins(ids, 5, 0)


def test_train_char_by_bin_runs_and_records():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(6, 6))  # a bigram model: logits = W[previous]
    ids = torch.randint(6, (500,))
    windows = [(ids[i:i + 8][None], ids[i + 1:i + 9][None]) for i in range(0, 400, 8)]
    val = (ids[400:480].reshape(10, 8), ids[401:481].reshape(10, 8))
    bin_of, _ = imbalance.frequency_bins(ids, 6, 2)
    out = imbalance.train_char_by_bin(model, torch.optim.SGD(model.parameters(), lr=0.5), windows, val, bin_of, 2,
                                      [0, 10, 40])
    assert out.shape == (3, 2) and np.isfinite(out).all()
    with pytest.raises(ValueError, match="fewer"):
        imbalance.train_char_by_bin(model, torch.optim.SGD(model.parameters(), lr=0.5), windows[:3], val,
                                    bin_of, 2, [5])
