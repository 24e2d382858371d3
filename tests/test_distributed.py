"""ZeRO stage 1 with torch.distributed (two gloo processes on the CPU) against one process, and ZeRO's
memory accounting against the numbers of Rajbhandari et al. (2020)."""

from __future__ import annotations

import pytest
import torch

from adamcourse.distributed import max_param_diff, state_bytes, train_cnn, zero_bytes_per_device

#: measured: the two-process run equals the single process bit for bit (max |difference| = 0.0 over 30 steps;
#: every rank sees the whole batch with one thread, and Adam's update is elementwise); 1e-6 leaves room for a
#: platform whose kernels depend on the tensor grouping.
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def runs():
    return train_cnn(1, steps=12), train_cnn(2, steps=12)


def test_two_processes_train_as_one(runs):
    single, zero = runs
    assert zero.world_size == 2 and single.world_size == 1
    assert zero.params.keys() == single.params.keys() and zero.n_params == single.n_params
    assert max_param_diff(single, zero) <= TOLERANCE
    assert zero.losses == pytest.approx(single.losses, abs=1e-5)
    assert single.losses[-1] < single.losses[0]  # it trains


def test_each_rank_holds_about_half_of_the_state(runs):
    single, zero = runs
    assert len(zero.state_bytes) == 2 and len(single.state_bytes) == 1
    assert sum(zero.state_bytes) == single.state_bytes[0]  # sharded, nothing duplicated, nothing lost
    n_tensors = sum(1 for _ in single.params)
    assert single.state_bytes[0] == 8 * single.n_params + 4 * n_tensors  # m, v in fp32 + a 0-d step each
    for nbytes in zero.state_bytes:
        assert 0.4 < nbytes / single.state_bytes[0] < 0.6


def test_state_bytes_counts_a_plain_optimizer():
    p = torch.nn.Parameter(torch.zeros(10))
    opt = torch.optim.Adam([p])
    assert state_bytes(opt) == 0
    p.grad = torch.ones(10)
    opt.step()
    assert state_bytes(opt) == 2 * 10 * 4 + 4


def test_zero_accounting_reproduces_the_paper():
    """ZeRO's Figure 1: 7.5B parameters, 64 GPUs, K = 12: 120 GB, 31.4 GB, 16.6 GB, 1.9 GB."""
    got = [zero_bytes_per_device(7.5e9, 64, stage=s) / 1e9 for s in range(4)]
    assert got == pytest.approx([120, 31.4, 16.6, 1.9], abs=0.05)
    assert zero_bytes_per_device(100, 1, stage=3) == zero_bytes_per_device(100, 1, stage=0) == 1600


@pytest.mark.parametrize("kwargs, match", [
    (dict(world_size=0), "world_size must be an integer >= 1, got 0"),
    (dict(world_size=-2), "world_size"),
    (dict(world_size=1.5), "world_size"),
    (dict(world_size=1, steps=0), "steps"),
    (dict(world_size=1, batch_size=0), "batch_size"),
    (dict(world_size=1, lr=-1.0), "lr"),
    (dict(world_size=1, width=0), "width"),
])
def test_train_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train_cnn(**kwargs)


@pytest.mark.parametrize("args, kwargs, match", [
    ((0, 8, 1), {}, "n_params"),
    ((1e9, 0, 1), {}, "world_size must be an integer >= 1, got 0"),
    ((1e9, 8, 4), {}, r"stage must be one of \(0, 1, 2, 3\), got 4"),
    ((1e9, 8, 1), dict(optimizer_bytes=-1), "optimizer_bytes"),
])
def test_accounting_rejects_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        zero_bytes_per_device(*args, **kwargs)


def test_max_param_diff_needs_the_same_parameters(runs):
    single, _ = runs
    other = type(single)(1, {"w": torch.zeros(1)}, [0], [])
    with pytest.raises(ValueError, match="different parameters"):
        max_param_diff(single, other)
