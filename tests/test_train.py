"""The labs' training loop (adamcourse.train): it learns, records what it says, and fails clearly."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from adamcourse import optim
from adamcourse.train import History, cross_entropy, evaluate, fit


def blobs(n=256, dim=4, classes=3, seed=0, dtype=torch.float32):
    """Separable Gaussian blobs: x (n, dim), y (n,)."""
    g = torch.Generator().manual_seed(seed)
    centers = 4 * torch.randn(classes, dim, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=g)
    x = centers[y] + torch.randn(n, dim, generator=g, dtype=torch.float64)
    return x.to(dtype), y


def batches(x, y, size=32):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]


def mlp(dim=4, classes=3, seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(dim, 16), nn.Tanh(), nn.Linear(16, classes)).to(dtype)


@pytest.fixture(scope="module")
def data():
    x, y = blobs()
    return batches(x[:192], y[:192]), batches(x[192:], y[192:])


def test_fit_learns_a_separable_problem(data):
    train, val = data
    model = mlp()
    h = fit(model, train, val, optim.Adam(model.parameters(), lr=0.02), epochs=10, device="cpu", progress=False)
    assert h.train_loss[-1] < 0.25 * h.train_loss[0]
    assert h.val_metric[-1] >= 0.95
    assert h.name == "Adam" and h.device == "cpu" and h.metric == "accuracy"


def test_history_fields_and_lengths(data):
    train, val = data
    model = mlp()
    h = fit(model, train, val, torch.optim.SGD(model.parameters(), lr=0.1), epochs=3, device="cpu",
            record_grad_norm=True, progress=False, name="sgd run")
    steps = 3 * len(train)
    assert h.name == "sgd run"
    assert h.step == list(range(1, steps + 1))
    assert len(h.step_loss) == len(h.step_time) == len(h.grad_norm) == steps
    assert h.epoch == [1, 2, 3] and h.epoch_step == [len(train), 2 * len(train), steps]
    for key in ("train_loss", "val_loss", "val_metric", "epoch_time", "examples_per_s"):
        assert len(getattr(h, key)) == 3, key
    assert all(type(v) is float for v in h.step_loss + h.grad_norm + h.val_metric + h.epoch_time)
    assert np.all(np.diff(h.step_time) >= 0) and h.epoch_time[-1] >= h.step_time[-1] > 0
    assert all(v > 0 for v in h.examples_per_s + h.grad_norm)
    np.testing.assert_allclose(h.train_loss[0], np.mean(h.step_loss[:len(train)]), rtol=1e-12)
    json.dumps(h.to_dict())  # plain Python: JSON-able
    without = fit(mlp(), train, None, torch.optim.SGD(mlp().parameters(), lr=0.1), device="cpu", progress=False)
    assert without.val_loss == [] and without.val_metric == [] and without.grad_norm == []


def test_adamcourse_adam_and_torch_adam_give_identical_histories():
    x, y = blobs(dtype=torch.float64)
    train, val = batches(x[:192], y[:192]), batches(x[192:], y[192:])
    runs = {}
    for name, cls in (("adamcourse", optim.Adam), ("torch", torch.optim.Adam)):
        model = mlp(dtype=torch.float64)
        opt = cls(model.parameters(), lr=0.01, weight_decay=1e-3)
        runs[name] = fit(model, train, val, opt, epochs=4, device="cpu", progress=False)
    for key in ("step_loss", "train_loss", "val_loss", "val_metric"):
        np.testing.assert_allclose(getattr(runs["adamcourse"], key), getattr(runs["torch"], key),
                                   rtol=1e-12, atol=0, err_msg=key)


def test_clip_grad_norm_really_clips(data):
    """With SGD (lr 1) the parameter change is the clipped gradient: its norm is the clip, while the norm
    recorded is the one before clipping."""
    train, _ = data
    model = mlp()
    with torch.no_grad():
        model[0].weight.mul_(50.0)  # large gradients
    before = torch.cat([p.detach().flatten() for p in model.parameters()]).clone()
    clip = 1e-3
    h = fit(model, train[:1], None, torch.optim.SGD(model.parameters(), lr=1.0), device="cpu",
            clip_grad_norm=clip, progress=False)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert h.grad_norm[0] > 10 * clip
    np.testing.assert_allclose(torch.linalg.vector_norm(after - before).item(), clip, rtol=1e-3)


def test_grad_norm_is_recorded_correctly(data):
    train, _ = data
    model = mlp()
    reference = mlp()
    h = fit(model, train[:1], None, torch.optim.SGD(model.parameters(), lr=0.0), device="cpu",
            record_grad_norm=True, progress=False)
    cross_entropy(reference(train[0][0]), train[0][1]).backward()
    expected = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in reference.parameters()]))
    np.testing.assert_allclose(h.grad_norm[0], expected.item(), rtol=1e-5)


def test_progress_false_prints_nothing(data, capsys):
    train, val = data
    model = mlp()
    fit(model, train, val, optim.SGD(model.parameters(), lr=0.1), epochs=2, device="cpu", progress=False)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    fit(model, train, val, optim.SGD(model.parameters(), lr=0.1), epochs=2, device="cpu", progress=True)
    assert "SGD" in capsys.readouterr().err  # the text bar, outside Jupyter


def test_works_with_a_dataloader_and_a_generator_once():
    x, y = blobs()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    model = mlp()
    h = fit(model, loader, loader, optim.Adam(model.parameters(), lr=0.02), epochs=3, device="cpu", progress=False)
    assert len(h.step) == 3 * len(loader) and h.val_metric[-1] > 0.9
    once = ((x[i:i + 64], y[i:i + 64]) for i in range(0, 256, 64))  # a generator: fine for one epoch
    assert len(fit(mlp(), once, None, optim.SGD(mlp().parameters(), lr=0.1), device="cpu",
                   progress=False).step) == 4


def test_scheduler_is_stepped_every_step(data):
    train, _ = data
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    fit(model, train, None, opt, epochs=2, device="cpu", scheduler=sched, progress=False)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** (2 * len(train)))


def test_bpc_is_loss_over_ln2_on_sequences():
    torch.manual_seed(0)
    ids = torch.randint(0, 5, (8, 6))               # (B, T)
    model = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5))  # logits (B, T, V)
    pairs = [(ids[:, :-1], ids[:, 1:])]
    loss, bpc = evaluate(model, pairs, device="cpu", metric="bpc")
    assert bpc == pytest.approx(loss / math.log(2), rel=1e-12)
    h = fit(model, pairs, pairs, optim.Adam(model.parameters()), epochs=2, device="cpu", metric="bpc",
            progress=False)
    np.testing.assert_allclose(h.val_metric, np.array(h.val_loss) / math.log(2), rtol=1e-12)


def test_evaluate_weights_batches_by_size_and_restores_mode(data):
    _, val = data
    x = torch.cat([b[0] for b in val])
    y = torch.cat([b[1] for b in val])
    model = mlp()
    model.train()
    uneven = [(x[:5], y[:5]), (x[5:], y[5:])]
    loss, acc = evaluate(model, uneven, device="cpu")
    with torch.no_grad():
        logits = model(x)
    assert loss == pytest.approx(cross_entropy(logits, y).item(), rel=1e-6)
    assert acc == pytest.approx((logits.argmax(-1) == y).float().mean().item())
    assert model.training
    assert evaluate(model, uneven, device="cpu", metric=None)[1] is None
    _, custom = evaluate(model, uneven, device="cpu", metric=lambda logits, y: (y == 0).float().mean())
    assert custom == pytest.approx((y == 0).float().mean().item())


def test_max_time_s_stops_early(data):
    train, val = data
    model = mlp()
    h = fit(model, train, val, optim.SGD(model.parameters(), lr=0.1), epochs=1000, device="cpu",
            max_time_s=1e-9, progress=False)
    assert h.step == [1] and h.epoch == [1] and len(h.val_loss) == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "epochs must be"),
    ({"epochs": 1.5}, "epochs must be"),
    ({"metric": "f1"}, "metric must be one of"),
    ({"clip_grad_norm": 0.0}, "clip_grad_norm must be"),
    ({"max_time_s": -1}, "max_time_s must be"),
])
def test_bad_arguments_raise(data, kwargs, match):
    train, val = data
    model = mlp()
    with pytest.raises(ValueError, match=match):
        fit(model, train, val, optim.SGD(model.parameters(), lr=0.1), device="cpu", progress=False, **kwargs)


def test_bad_data_raises():
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="no batches"):
        fit(model, [], None, opt, device="cpu", progress=False)
    with pytest.raises(ValueError, match="re-iterable"):
        fit(model, iter([(torch.zeros(2, 4), torch.zeros(2, dtype=torch.long))]), None, opt, epochs=2,
            device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"pair \(x, y\)"):
        fit(model, [torch.zeros(2, 4)], None, opt, device="cpu", progress=False)
    with pytest.raises(ValueError, match="no batches"):
        evaluate(model, [], device="cpu")


def test_history_is_a_plain_dataclass():
    h = History("x", "cpu", None)
    assert h.step == [] and h.to_dict()["metric"] is None


def test_seed_everything_makes_runs_repeat_and_sets_determinism(data):
    from adamcourse.runtime import seed_everything

    train, val = data
    losses = []
    try:
        for _ in range(2):
            seed_everything(3, deterministic=True)
            assert torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.benchmark
            model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 3))  # init and dropout: seeded
            h = fit(model, train, val, optim.Adam(model.parameters()), device="cpu", progress=False)
            losses.append(h.step_loss)
    finally:
        seed_everything(0)
    assert losses[0] == losses[1]
    assert not torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.benchmark
