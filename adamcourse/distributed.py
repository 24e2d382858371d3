"""Adam beyond one machine: ZeRO stage 1 with ``torch.distributed``, and ZeRO's memory accounting.

:func:`train_cnn` trains the CNN lab's model (:class:`~adamcourse.models.SmallCNN` on the 8x8 digits, a fixed
seed and data order) either in this process with ``torch.optim.Adam`` (``world_size=1``) or in ``world_size``
processes on the gloo backend (CPU) with ``torch.distributed.optim.ZeroRedundancyOptimizer``: each rank keeps
the Adam state (m, v, step) of its own shard of the parameters, updates that shard, and broadcasts it to the
others. Everything distributed (processes, rendezvous, collectives, sharding) is torch's.

Every rank sees the *whole* batch. That is the choice that makes the sharded run equal the single-process run
to round-off: the model has batch norm, whose statistics are taken over the batch a process sees, so splitting
each batch in halves (data parallelism with an all-reduce of the gradients) would normalise by two half-batch
statistics, a different function from the single process's, and gloo has no ``SyncBatchNorm`` (it needs GPUs).
With the full batch the forward and backward passes are the single process's, and what remains to test is
exactly ZeRO's claim: a sharded optimizer step followed by a broadcast is the unsharded step.

:func:`zero_bytes_per_device` is the accounting of Rajbhandari et al. (2020) for mixed-precision Adam.

>>> zero_bytes_per_device(7.5e9, 64, stage=0) / 1e9
120.0
"""

from __future__ import annotations

import math
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from adamcourse import data, models

__all__ = ["ZeroRun", "free_port", "max_param_diff", "state_bytes", "train_cnn", "zero_bytes_per_device"]

#: ZeRO's stages: 0 = plain data parallelism; 1 shards the optimizer state; 2 also the gradients;
#: 3 also the 16-bit parameters (FSDP's full sharding).
STAGES = (0, 1, 2, 3)


@dataclass(frozen=True)
class ZeroRun:
    """What :func:`train_cnn` returns.

    ``params``: the final parameters by name (CPU tensors; every rank holds the same full copy after the last
    broadcast). ``state_bytes``: bytes of optimizer state held by each rank (one entry for a single process),
    ``numel * element_size`` summed over every tensor of the local optimizer's ``state`` (m, v and the 0-d step
    counters). ``losses``: rank 0's training loss at each step. ``world_size``: number of processes (1: plain
    ``torch.optim.Adam``, no ``torch.distributed``).
    """

    world_size: int
    params: dict[str, torch.Tensor]
    state_bytes: list[int]
    losses: list[float]

    @property
    def n_params(self) -> int:
        """Number of trainable scalars."""
        return sum(p.numel() for p in self.params.values())


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of every tensor in ``optimizer.state`` (for a ``ZeroRedundancyOptimizer``: its local shard's)."""
    local = getattr(optimizer, "optim", optimizer)  # ZeroRedundancyOptimizer wraps the local optimizer
    return sum(t.numel() * t.element_size() for s in local.state.values() for t in s.values()
               if isinstance(t, torch.Tensor))


def max_param_diff(a: ZeroRun, b: ZeroRun) -> float:
    """Largest absolute difference between the two runs' parameters (same names required)."""
    if a.params.keys() != b.params.keys():
        raise ValueError(f"the runs have different parameters: {sorted(a.params)} vs {sorted(b.params)}")
    return max(float((a.params[k] - b.params[k]).abs().max()) for k in a.params)


def free_port() -> int:
    """A TCP port on localhost that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _check(world_size, steps, batch_size, lr, width) -> None:
    if not isinstance(world_size, int) or isinstance(world_size, bool) or world_size < 1:
        raise ValueError(f"world_size must be an integer >= 1, got {world_size!r}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be an integer >= 1, got {width!r}")


def _batches(steps: int, batch_size: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The same ``steps`` batches, in the same order, for every process: reshuffled each epoch from ``seed``."""
    train = data.load_digits().train
    x, y = torch.as_tensor(train.x), torch.as_tensor(train.y)
    rng = np.random.default_rng(seed)
    order: list[int] = []
    while len(order) < steps * batch_size:
        order.extend(rng.permutation(len(y)).tolist())
    idx = torch.as_tensor(order[: steps * batch_size]).view(steps, batch_size)
    return [(x[i], y[i]) for i in idx]


def _train(batches: list[tuple[torch.Tensor, torch.Tensor]], lr: float, seed: int, width: int,
           distributed: bool) -> tuple[dict[str, torch.Tensor], int, list[float]]:
    """One process's training loop; in a distributed run the process group is already initialised."""
    torch.manual_seed(seed)
    model = models.SmallCNN(width=width)
    if distributed:
        import torch.distributed as dist
        from torch.distributed.optim import ZeroRedundancyOptimizer

        for p in model.parameters():  # start from rank 0's parameters, as DistributedDataParallel does
            dist.broadcast(p.data, src=0)
        optimizer = ZeroRedundancyOptimizer(model.parameters(), optimizer_class=torch.optim.Adam, lr=lr)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for xb, yb in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()  # every rank sees the whole batch: its gradient is the single process's
        optimizer.step()  # ZeRO: update the local shard, then broadcast it to the other ranks
        losses.append(loss.item())
    params = {k: p.detach().clone() for k, p in model.named_parameters()}
    return params, state_bytes(optimizer), losses


def _worker(rank: int, world_size: int, port: int, out: str, args: tuple) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)  # the same kernels (and round-off) as the single-process run
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        params, nbytes, losses = _train(*args, distributed=True)
        torch.save({"params": params, "state_bytes": nbytes, "losses": losses}, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def train_cnn(world_size: int = 1, *, steps: int = 30, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
              width: int = 16) -> ZeroRun:
    """Train ``SmallCNN(width)`` on the digits for ``steps`` Adam steps of ``batch_size`` examples.

    ``world_size=1``: in this process with ``torch.optim.Adam``. ``world_size >= 2``: in that many processes
    started by ``torch.multiprocessing.spawn``, joined on the gloo backend at a free localhost port, with
    ``ZeroRedundancyOptimizer(params, optimizer_class=torch.optim.Adam)`` (ZeRO stage 1). Each process uses
    one thread (so does the single-process run) and sees every batch whole (see the module's docstring). The
    returned parameters are rank 0's; ``state_bytes`` has one entry per rank.
    """
    _check(world_size, steps, batch_size, lr, width)
    args = (_batches(steps, batch_size, seed), float(lr), seed, width)  # loaded once, sent to every process
    if world_size == 1:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            params, nbytes, losses = _train(*args, distributed=False)
        finally:
            torch.set_num_threads(threads)
        return ZeroRun(1, params, [nbytes], losses)
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as out:
        mp.spawn(_worker, args=(world_size, free_port(), out, args), nprocs=world_size, join=True)
        ranks = [torch.load(Path(out) / f"rank{r}.pt") for r in range(world_size)]
    for rank, r in enumerate(ranks[1:], start=1):  # after the last broadcast every rank holds the same copy
        if not all(torch.equal(r["params"][k], ranks[0]["params"][k]) for k in r["params"]):
            raise RuntimeError(f"rank {rank} ends with parameters different from rank 0's")
    return ZeroRun(world_size, ranks[0]["params"], [r["state_bytes"] for r in ranks], ranks[0]["losses"])


def zero_bytes_per_device(n_params: float, world_size: int, stage: int, *, weight_bytes: float = 2,
                          grad_bytes: float = 2, optimizer_bytes: float = 12) -> float:
    """Bytes per device of model states (weights, gradients, optimizer state) under ZeRO ``stage``.

    Mixed-precision Adam keeps 16-bit weights (``weight_bytes=2``) and gradients (``grad_bytes=2``) and, in
    fp32, a master copy of the weights, m and v (``optimizer_bytes=12``) per parameter ``P``; over ``N =
    world_size`` devices: stage 0 (plain data parallel) ``(2 + 2 + 12) P``; stage 1 ``2P + 2P + 12P/N``;
    stage 2 ``2P + (2 + 12)P/N``; stage 3 ``(2 + 2 + 12)P/N``. Activations and buffers are not counted.
    """
    if not (isinstance(n_params, (int, float)) and n_params > 0 and math.isfinite(n_params)):
        raise ValueError(f"n_params must be a finite number > 0, got {n_params!r}")
    if not isinstance(world_size, int) or isinstance(world_size, bool) or world_size < 1:
        raise ValueError(f"world_size must be an integer >= 1, got {world_size!r}")
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    for name, value in (("weight_bytes", weight_bytes), ("grad_bytes", grad_bytes),
                        ("optimizer_bytes", optimizer_bytes)):
        if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    def share(nbytes: float, sharded_from: int) -> float:  # one device's part, sharded from that stage on
        return nbytes / world_size if stage >= sharded_from else nbytes

    return (share(optimizer_bytes, 1) + share(grad_bytes, 2) + share(weight_bytes, 3)) * n_params

