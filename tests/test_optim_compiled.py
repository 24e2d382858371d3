"""The compiled path, ``optimizer.compile()`` (adamcourse/optim/_compiled.py): equal to the readable path to
round-off, a bounded number of compilations, and clear errors where it cannot run.

Compiling costs seconds, so each optimizer is compiled once for the module (:func:`runs`), over 10 steps of fp32
and fp64 parameters, one of which never has a gradient; Adam's are in two param groups with different lr and an
LR scheduler changes lr at every step; AdamW (with AMSGrad) skips one parameter's gradient at one step.
"""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters

import adamcourse.optim as ours

STEPS, MORE_STEPS = 6, 4
#: per optimizer: its options, whether its params are in two groups, an LR scheduler, a skipped gradient
CASES = {
    "Adam": dict(options={}, groups=True, scheduler=True, skip=False),
    "AdamW": dict(options={"amsgrad": True, "weight_decay": 0.1}, groups=False, scheduler=False, skip=True),
    "RMSprop": dict(options={"momentum": 0.9, "centered": True, "weight_decay": 0.01}, groups=False,
                    scheduler=False, skip=False),
}
#: graphs each run may compile: one per group and set of parameters with a gradient, one more per group
#: when a scheduler changes lr (dynamo then recompiles with lr as an input, once)
MAX_GRAPHS = {"Adam": 4, "AdamW": 2, "RMSprop": 1}
NEVER, SKIPS = 2, 1  # param 2 never has a gradient; param 1 has none at step 4 where the case says so
TOL = {torch.float32: {"rtol": 1.3e-6, "atol": 1e-6}, torch.float64: {"rtol": 1e-13, "atol": 1e-15}}


def _params() -> list[torch.nn.Parameter]:
    """fp32 and fp64 parameters mixed (one compiled graph takes both)."""
    g = torch.Generator().manual_seed(0)
    shapes = [((5,), torch.float32), ((2, 3), torch.float64), ((2,), torch.float32),
              ((6,), torch.float64), ((3, 4), torch.float32)]
    return [torch.nn.Parameter(torch.randn(s, dtype=d, generator=g)) for s, d in shapes]


def _graphs() -> int:
    return counters["stats"]["unique_graphs"]


def _run(name: str, compiled: bool) -> dict:
    case, params = CASES[name], _params()
    groups = [{"params": params[:3]}, {"params": params[3:], "lr": 0.02}] if case["groups"] else params
    opt = getattr(ours, name)(groups, lr=0.01, **case["options"])
    if compiled:
        assert opt.compile() is opt and opt.compiled
    scheduler = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9) if case["scheduler"] else None
    gen = torch.Generator().manual_seed(1)
    before = _graphs()

    def steps(n, first):
        for step in range(first, first + n):
            for i, p in enumerate(params):
                frozen = i == NEVER or (case["skip"] and i == SKIPS and step == 3)
                p.grad = None if frozen else torch.randn(p.shape, dtype=p.dtype, generator=gen)
            opt.step()
            if scheduler:
                scheduler.step()

    steps(STEPS, 0)
    graphs = _graphs() - before
    steps(MORE_STEPS, STEPS)
    return {"params": params, "opt": opt, "graphs": graphs, "more_graphs": _graphs() - before - graphs}


@pytest.fixture(scope="module")
def runs():
    return {name: {compiled: _run(name, compiled) for compiled in (False, True)} for name in CASES}


@pytest.mark.parametrize("name", CASES)
def test_compiled_equals_readable_to_round_off(runs, name):
    readable, compiled = runs[name][False], runs[name][True]
    assert not readable["opt"].compiled
    for a, b in zip(readable["params"], compiled["params"]):
        torch.testing.assert_close(b, a, **TOL[a.dtype])
    state_a, state_b = readable["opt"].state_dict(), compiled["opt"].state_dict()
    assert state_b["param_groups"] == state_a["param_groups"]  # the switch is not a hyperparameter
    assert state_b["state"].keys() == state_a["state"].keys() and NEVER not in state_b["state"]
    for index, state in state_a["state"].items():
        assert state_b["state"][index].keys() == state.keys()
        for key, value in state.items():
            tol = TOL[value.dtype] if value.dim() else {"rtol": 0, "atol": 0}  # step counts exactly
            torch.testing.assert_close(state_b["state"][index][key], value, **tol)
    skipped = CASES[name]["skip"]  # a step without a gradient is not counted
    assert state_b["state"][SKIPS]["step"].item() == STEPS + MORE_STEPS - skipped


@pytest.mark.parametrize("name", CASES)
def test_compiled_params_moved(runs, name):
    """Not vacuous: the compiled run changed every parameter with a gradient, and only those."""
    start = _params()
    for i, (p, p0) in enumerate(zip(runs[name][True]["params"], start)):
        assert torch.equal(p, p0) == (i == NEVER)


@pytest.mark.parametrize("name", CASES)
def test_a_run_compiles_a_bounded_number_of_times(runs, name):
    """The step count t never recompiles; more steps of the same structure compile nothing."""
    run = runs[name][True]
    assert 1 <= run["graphs"] <= MAX_GRAPHS[name]
    assert run["more_graphs"] == 0
    assert runs[name][False]["graphs"] == 0


def test_each_optimizer_has_its_own_compile_cache(runs):
    """Dynamo's recompile limit (8) is per code object: every optimizer compiles its own copy."""
    from adamcourse.optim._compiled import update_group

    codes = {id(runs[name][True]["opt"]._compiled.update_group.__code__) for name in CASES}
    assert len(codes) == len(CASES) and id(update_group.__code__) not in codes


def test_missing_cpp_compiler_is_named():
    p = torch.nn.Parameter(torch.zeros(3))
    with torch._inductor.config.patch({"cpp.cxx": ("adamcourse-no-such-compiler",)}):
        with pytest.raises(RuntimeError, match=r"needs a C\+\+ compiler and none was found.*no-such-compiler"):
            ours.Adam([p]).compile()


def test_unsupported_python_is_named(monkeypatch):
    def unsupported():
        raise RuntimeError("Python 3.99+ not yet supported for torch.compile")

    monkeypatch.setattr(torch._dynamo.eval_frame, "check_if_dynamo_supported", unsupported)
    with pytest.raises(RuntimeError, match=r"torch.compile is not supported with Python .*3\.99"):
        ours.AdamW([torch.nn.Parameter(torch.zeros(3))]).compile()


def test_sparse_gradients_need_the_readable_path():
    p = torch.nn.Parameter(torch.zeros(3))
    opt = ours.SGD([p], lr=0.1).compile()  # SGD without momentum has no state: its first step is compiled
    p.grad = torch.ones(3).to_sparse()
    with pytest.raises(TypeError, match="compiled path of SGD does not take sparse gradients"):
        opt.step()


def test_a_step_that_does_not_trace_says_so():
    """RAdam branches in Python on rho_t, a tensor in the compiled path: fullgraph tracing refuses it."""
    p = torch.nn.Parameter(torch.ones(3))
    opt = ours.RAdam([p]).compile()
    p.grad = torch.ones(3)
    opt.step()  # the first step is readable: it creates the state
    with pytest.raises(RuntimeError, match=r"radam.step does not trace into one graph.*readable path"):
        opt.step()


def test_bad_hyperparameters_are_still_caught_eagerly(runs):
    opt = runs["Adam"][True]["opt"]
    opt.param_groups[1]["lr"] = -1.0
    with pytest.raises(ValueError, match=r"Invalid learning rate: -1\.0"):
        opt.step()


def test_hoist_scalars_feeds_loops_a_stored_scalar():
    """The pass puts an ``as_strided`` view (which makes inductor compute and store the value once) between a
    0-d computation and the element-wise ops that use it, and leaves 0-d-only chains alone."""
    from torch.fx.experimental.proxy_tensor import make_fx

    from adamcourse.optim._compiled import HoistScalars

    gm = make_fx(lambda m, t: m / (1 - 0.9 ** (t + 1)), tracing_mode="fake")(torch.ones(4), torch.tensor(1.0))
    HoistScalars()(gm.graph)
    gm.recompile()
    views = [n for n in gm.graph.nodes if n.target is torch.ops.aten.as_strided.default]
    assert len(views) == 1 and views[0].args[1:] == ([], [])
    assert views[0].args[0].meta["val"].dim() == 0
    assert [u.meta["val"].shape for u in views[0].users] == [torch.Size([4])]
    torch.testing.assert_close(gm(torch.ones(4), torch.tensor(1.0)), torch.ones(4) / (1 - 0.9**2))
