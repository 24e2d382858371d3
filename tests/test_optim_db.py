"""The drop-in claim for :mod:`adamcourse.optim`, checked on PyTorch's own optimizer test data, offline.

The cases come from ``optim_db`` in ``torch.testing._internal.common_optimizers``, which ships in the torch wheel
(it needs the ``expecttest`` package): for each of our nine optimizers its ``OptimizerInfo`` gives the
constructor configurations (``optim_inputs_func``), the inputs that must fail and how
(``optim_error_inputs_func``), the LR schedulers to combine with it (``scheduler_inputs``), and whether and how
it takes complex parameters and sparse gradients (``supports_complex``, ``supports_sparse``,
``metadata_for_sparse``). Nothing here invents a configuration; the harness around them is ours:

* ``test_errors``: each error input raises (or warns) at construction or at ``step()`` with the type and message
  torch's data name, as in upstream's ``test_errors``.
* ``test_matches_torch``: each configuration, with no scheduler and with each scheduler set, run on our class and
  on ``torch.optim.<Name>`` with the same gradients; parameters equal after every step, state dicts at the end.
* ``test_matches_torch_cuda_only_config_on_cpu``: the configurations optim_db adds for CUDA devices, with
  ``capturable`` dropped; where ours and torch differ (:data:`KNOWN_DIFFERENCES`) the case is a strict xfail.
* ``test_complex_*``: complex parameters against torch, and against our own run on ``view_as_real`` parameters
  (the idea of upstream's ``test_complex``).
* ``test_sparse_*``: sparse, uncoalesced gradients, against torch: with the kwargs and schedulers of
  ``metadata_for_sparse`` (the selection of upstream's ``test_rosenbrock_sparse``), and with every configuration
  as it stands (where torch rejects one, e.g. weight_decay with sparse gradients, ours must raise alike).
* ``test_state_dict_*``: loading torch's state dict and continuing; a Python-number ``step`` (upstream's
  ``test_load_nontensor_step``); an older state dict without the newer flags (``test_can_load_older_state_dict``);
  Adam and AdamW loading each other's state dicts (``test_adamw_serialization``); each compared with torch doing
  the same.

What a single-tensor implementation cannot run is in :data:`DESELECTED`, one reason each, and
``test_every_optimizer_runs_its_inputs`` checks that every other input of the wheel is run.

Relation to ``tests/test_torch_optim_suite.py``: that module runs upstream's ``TestOptimRenewed`` itself
(``test/test_optim.py`` of the PyTorch repository, which is not in the wheel) over the same ``optim_db`` when that
file is on the machine, and is skipped otherwise. This module needs only the wheel, so it runs everywhere.
"""

from __future__ import annotations

import copy
import math
import re

import pytest
import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

# needs the expecttest package (requirements.txt): no skip without it, this module must always run
from torch.testing._internal.common_optimizers import OptimizerErrorEnum, optim_db

import adamcourse.optim as ours

# torch's own Adagrad builds sparse tensors without saying whether to check them
pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks are implicitly disabled:UserWarning")

NAMES = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adafactor"]
INFOS = {info.name: info for info in optim_db if info.name in NAMES}
STEPS = 12  # > 10, so that StepLR(step_size=10) of scheduler_inputs changes the learning rate within the run
#: kwargs that select an implementation rather than an algorithm: ours has only the single-tensor one
IMPL_FLAGS = ("foreach", "fused", "capturable", "differentiable")

_IMPL = ("selects the {flag} implementation: adamcourse.optim has only the single-tensor path and raises a "
         "ValueError for {flag}=True (tested in tests/test_optim_errors.py)")
#: Every input of the wheel's optim_db for the nine optimizers that is not run, by rule, with the reason. With
#: torch 2.13 the first rules match none of the CPU configurations (error inputs that pass foreach=True expect a
#: message that ours gives before rejecting foreach, and run); the capturable configurations optim_db builds for
#: CUDA devices run on the CPU with capturable dropped (test_matches_torch_cuda_only_config_on_cpu).
DESELECTED: dict[str, str] = {
    **{f"kwargs set {flag}=True": _IMPL.format(flag=flag) for flag in IMPL_FLAGS},
    "error inputs for CUDA devices": "optim_error_inputs_func(device='cuda') builds its parameters on a CUDA "
                                     "device (none in CI) and checks fused=True combinations, a path ours lacks",
}


def deselected_because(kwargs: dict) -> str | None:
    """The key of :data:`DESELECTED` that excludes a configuration, or None if it runs."""
    for flag in IMPL_FLAGS:
        if kwargs.get(flag):
            return f"kwargs set {flag}=True"
    return None


def _torch_cls(name: str) -> type:
    return getattr(torch.optim, name)


def _our_cls(name: str) -> type:
    return getattr(ours, name)


def _ids(descs: list[str]) -> list[str]:
    """Readable, unique pytest ids from OptimizerInput.desc."""
    out, seen = [], {}
    for d in descs:
        d = d.replace("\\", "").replace(" ", "_").replace(",", "")
        seen[d] = seen.get(d, 0) + 1
        out.append(d if seen[d] == 1 else f"{d}#{seen[d]}")
    return out


def _sched_desc(constructors) -> str:
    probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    return "+".join(type(c(probe)).__name__ for c in constructors) or "no_sched"


# ---------------------------------------------------------------- cases from optim_db


def _error_cases():
    cases, ids = [], []
    for name in NAMES:
        inputs = INFOS[name].optim_error_inputs_func(device="cpu", dtype=torch.float32)
        descs = _ids([e.optimizer_error_input.desc for e in inputs])
        for i, (e, desc) in enumerate(zip(inputs, descs, strict=True)):
            kind = e.error_on.name.lower().replace("_error", "")
            cases.append((name, i))
            ids.append(f"{name}-{kind}-{desc}")
    return cases, ids


def _input_cases(names=NAMES):
    """(name, index into optim_inputs_func(device='cpu')) for every configuration that runs; ids from desc."""
    cases, ids = [], []
    for name in names:
        inputs = INFOS[name].optim_inputs_func(device="cpu")
        for i, (oi, desc) in enumerate(zip(inputs, _ids([oi.desc for oi in inputs]), strict=True)):
            if deselected_because(oi.kwargs) is None:
                cases.append((name, i))
                ids.append(f"{name}-{desc}")
    return cases, ids


def _config(name: str, index: int, device: str = "cpu") -> dict:
    """A fresh copy of the kwargs of an optim_db input (a tensor lr is mutated by schedulers), with the
    implementation flags that are off dropped (ours default to off); for the CUDA-only inputs capturable=True
    is dropped too (it only moves the step count onto the device)."""
    kwargs = INFOS[name].optim_inputs_func(device=device)[index].kwargs
    keep = (lambda k: k not in IMPL_FLAGS) if device == "cpu" else (lambda k: k != "capturable")
    return {k: v for k, v in copy.deepcopy(kwargs).items() if keep(k)}


def _with_schedulers(cases, ids):
    out, out_ids = [], []
    for (name, i), case_id in zip(cases, ids, strict=True):
        for s, constructors in enumerate([[], *INFOS[name].scheduler_inputs]):
            out.append((name, i, s))
            out_ids.append(f"{case_id}-{_sched_desc(constructors)}")
    return out, out_ids


def _schedulers(name: str, s: int) -> list:
    return [[], *INFOS[name].scheduler_inputs][s]


ERROR_CASES, ERROR_IDS = _error_cases()
INPUT_CASES, INPUT_IDS = _input_cases()
SCHED_CASES, SCHED_IDS = _with_schedulers(INPUT_CASES, INPUT_IDS)


#: Where ours and torch differ on purpose or not yet fixed: (predicate over name, kwargs, dtype) and the reason.
#: Each is an xfail(strict=True): a fix makes it XPASS, which fails the run until the entry is removed.
def _tensor_lr_float64(name, kwargs, dtype):
    return name in ("Adam", "AdamW", "Adamax", "NAdam", "RAdam") and torch.is_tensor(kwargs.get("lr")) \
        and dtype == torch.float64


KNOWN_DIFFERENCES = {
    _tensor_lr_float64: "with a float32 tensor lr, torch does the scalar arithmetic on it (lr / (1 - beta1^t), the "
                        "decoupled decay's 1 - lr * weight_decay) in float32 0-d tensors; ours takes lr.item() and "
                        "computes in double, so float64 parameters differ from torch's by 1e-10 to 1e-8 relative",
}


def _cuda_only_cases():
    """The inputs optim_inputs_func adds for CUDA devices (capturable ones), run on the CPU without capturable."""
    cases, ids, marks = [], [], []
    for name in NAMES:
        cpu = [oi.desc for oi in INFOS[name].optim_inputs_func(device="cpu")]
        inputs = INFOS[name].optim_inputs_func(device="cuda")
        for i, (oi, desc) in enumerate(zip(inputs, _ids([oi.desc for oi in inputs]), strict=True)):
            if oi.desc in cpu:
                continue
            for dtype, dname in ((torch.float64, "float64"), (torch.float32, "float32")):
                why = [r for f, r in KNOWN_DIFFERENCES.items() if f(name, oi.kwargs, dtype)]
                marks.append([pytest.mark.xfail(reason="; ".join(why), strict=True)] if why else [])
                cases.append((name, i, dtype))
                ids.append(f"{name}-{desc}-{dname}")
    return [pytest.param(*c, id=i, marks=m) for c, i, m in zip(cases, ids, marks, strict=True)]


CUDA_ONLY_CASES = _cuda_only_cases()
COMPLEX_NAMES = [n for n in NAMES if INFOS[n].supports_complex]
COMPLEX_CASES, COMPLEX_IDS = _input_cases(COMPLEX_NAMES)
SPARSE_NAMES = [n for n in NAMES if INFOS[n].supports_sparse]


def _sparse_cases():
    """Upstream test_rosenbrock_sparse's selection: each input with the keys of metadata_for_sparse's kwargs
    removed, empty and duplicate configurations dropped, its lr (if any) set; with and without its schedulers."""
    cases, ids = [], []
    for name in SPARSE_NAMES:
        updates, constructors = INFOS[name].metadata_for_sparse
        seen = set()
        for i, oi in enumerate(INFOS[name].optim_inputs_func(device="cpu")):
            if deselected_because(oi.kwargs):
                continue
            kwargs = {k: v for k, v in oi.kwargs.items() if k not in updates}
            key = tuple(sorted((k, repr(v)) for k, v in kwargs.items()))
            if not kwargs or key in seen:
                continue
            seen.add(key)
            for with_sched in ([False, True] if constructors else [False]):
                cases.append((name, i, with_sched))
                ids.append(f"{name}-{_ids([oi.desc])[0]}-{_sched_desc(constructors) if with_sched else 'no_sched'}")
    return cases, ids


SPARSE_CASES, SPARSE_IDS = _sparse_cases()


# ---------------------------------------------------------------- a small deterministic problem


def _make_params(dtype: torch.dtype, seed: int = 0) -> list[torch.Tensor]:
    """A weight, a bias, a 0-d scalar and a non-contiguous leaf (every other column of a (4, 6) tensor)."""
    g = torch.Generator().manual_seed(seed)
    shapes = [(3, 4), (3,), (), (4, 6)]
    weight, bias, scalar, wide = (torch.randn(s, generator=g, dtype=torch.float64).to(dtype) for s in shapes)
    strided = wide[:, ::2]
    assert not strided.is_contiguous()
    return [p.requires_grad_() for p in (weight, bias, scalar, strided)]


def _groups(params: list[torch.Tensor]) -> list[dict]:
    """Two param groups: the second overrides weight_decay (a per-group option, as upstream's param-group tests)."""
    return [{"params": [params[0], params[3]]}, {"params": [params[1], params[2]], "weight_decay": 0.0}]


def _clone(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """Equal leaves with the same layout (the strided one a strided view of a fresh buffer)."""
    out = []
    for p in params:
        q = torch.empty_like(p) if p.is_contiguous() else torch.empty(p.shape[0], 2 * p.shape[1], dtype=p.dtype)[:, ::2]
        with torch.no_grad():
            q.copy_(p)
        assert q.stride() == p.stride()
        out.append(q.requires_grad_())
    return out


def _set_grads(params: list[torch.Tensor], k: int) -> float:
    """Gradients of f = sum_i 0.5 c_i |p_i|^2 plus a step-dependent noise term (the same on both sides for the
    same parameters); at step 3 the scalar gets no gradient (skipped, as torch does). Returns f."""
    g = torch.Generator().manual_seed(1000 + k)
    loss = 0.0
    for i, p in enumerate(params):
        noise = torch.randn(p.shape + ((2,) if p.is_complex() else ()), generator=g, dtype=torch.float64)
        noise = torch.view_as_complex(noise) if p.is_complex() else noise
        coef = 0.5 + i
        with torch.no_grad():
            p.grad = (coef * p + noise.to(p.dtype)).detach()
            loss += float(0.5 * coef * (p.abs() ** 2).sum())
        if k == 3 and p.dim() == 0:
            p.grad = None
    return loss


def _step_schedulers(schedulers: list, loss: float) -> None:
    for s in schedulers:
        if isinstance(s, ReduceLROnPlateau):
            s.step(loss)
        else:
            s.step()


def _tol(dtype: torch.dtype) -> dict:
    """float64: rtol 1e-12 (ours and torch differ by a few ulps: operations grouped differently); float32 and
    complex64: torch.testing's defaults for float32, which upstream's assertEqual uses."""
    return dict(rtol=1e-12, atol=1e-14) if dtype in (torch.float64, torch.complex128) else dict(rtol=1.3e-6, atol=1e-5)


def _assert_params(ours_p, torch_p, tol, msg=""):
    for i, (a, b) in enumerate(zip(ours_p, torch_p, strict=True)):
        torch.testing.assert_close(a.detach(), b.detach(), **tol, msg=lambda m, i=i: f"param {i} {msg}: {m}")


def _assert_value(a, b, tol, where):
    if torch.is_tensor(a) or torch.is_tensor(b):
        assert torch.is_tensor(a) and torch.is_tensor(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{tuple(a.shape)} vs " \
                                                          f"{b.dtype}{tuple(b.shape)}"
        torch.testing.assert_close(a, b, **tol, msg=lambda m: f"{where}: {m}")
    elif isinstance(a, (tuple, list)) and not isinstance(a, str):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), f"{where}: {a!r} vs {b!r}"
        for j, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_value(x, y, tol, f"{where}[{j}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=tol["rtol"], abs_tol=tol["atol"]), f"{where}: {a!r} vs {b!r}"
    else:
        assert a == b and type(a) is type(b), f"{where}: {a!r} ({type(a).__name__}) vs {b!r} ({type(b).__name__})"


def _assert_state_dicts(ours_sd: dict, torch_sd: dict, tol: dict) -> None:
    """Same parameter ids, state keys, values and dtypes (``step`` a tensor on both sides); same param groups."""
    assert ours_sd["state"].keys() == torch_sd["state"].keys()
    for pid, theirs in torch_sd["state"].items():
        mine = ours_sd["state"][pid]
        assert mine.keys() == theirs.keys(), (pid, sorted(mine), sorted(theirs))
        if "step" in theirs:
            assert torch.is_tensor(mine["step"]) and torch.is_tensor(theirs["step"])
        for key in theirs:
            _assert_value(mine[key], theirs[key], tol, f"state[{pid}][{key!r}]")
    assert len(ours_sd["param_groups"]) == len(torch_sd["param_groups"])
    for j, (mine, theirs) in enumerate(zip(ours_sd["param_groups"], torch_sd["param_groups"], strict=True)):
        assert sorted(mine) == sorted(theirs), (j, sorted(mine), sorted(theirs))
        for key in theirs:
            _assert_value(mine[key], theirs[key], tol, f"param_groups[{j}][{key!r}]")


def _run_pair(name, kwargs, dtype, sched=(), steps=STEPS, *, params_fn=_make_params, groups=True):
    """Build ours and torch's on equal parameters, run ``steps`` steps on equal gradients, comparing the
    parameters after each; return the two optimizers and parameter lists."""
    p_torch = params_fn(dtype)
    p_ours = _clone(p_torch)
    opt_torch = _torch_cls(name)(_groups(p_torch) if groups else p_torch, **copy.deepcopy(kwargs))
    opt_ours = _our_cls(name)(_groups(p_ours) if groups else p_ours, **copy.deepcopy(kwargs))
    s_torch = [c(opt_torch) for c in sched]
    s_ours = [c(opt_ours) for c in sched]
    tol = _tol(dtype)
    for k in range(steps):
        loss_t = _set_grads(p_torch, k)
        loss_o = _set_grads(p_ours, k)
        opt_torch.step()
        opt_ours.step()
        _assert_params(p_ours, p_torch, tol, f"after step {k + 1}")
        _step_schedulers(s_torch, loss_t)
        _step_schedulers(s_ours, loss_o)
    return opt_ours, opt_torch, p_ours, p_torch


# ---------------------------------------------------------------- 1. errors


@pytest.mark.parametrize(("name", "index"), ERROR_CASES, ids=ERROR_IDS)
def test_errors(name, index):
    """Upstream's test_errors for one ErrorOptimizerInput, with our class."""
    error_input = INFOS[name].optim_error_inputs_func(device="cpu", dtype=torch.float32)[index]
    params, kwargs = error_input.optimizer_error_input.params, error_input.optimizer_error_input.kwargs
    cls = _our_cls(name)
    expect = (pytest.warns if issubclass(error_input.error_type, Warning) else pytest.raises)(
        error_input.error_type, match=error_input.error_regex)
    if error_input.error_on == OptimizerErrorEnum.CONSTRUCTION_ERROR:
        with expect:
            cls(params, **kwargs)
    elif error_input.error_on == OptimizerErrorEnum.STEP_ERROR:
        optimizer = cls(params, **kwargs)
        with expect:
            optimizer.step()
    else:
        raise NotImplementedError(f"unknown error_on {error_input.error_on}")


# ---------------------------------------------------------------- 2. ours == torch, every configuration


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(("name", "index", "sched"), SCHED_CASES, ids=SCHED_IDS)
def test_matches_torch(name, index, sched, dtype):
    kwargs = _config(name, index)
    opt_ours, opt_torch, _, _ = _run_pair(name, kwargs, dtype, _schedulers(name, sched))
    _assert_state_dicts(opt_ours.state_dict(), opt_torch.state_dict(), _tol(dtype))


@pytest.mark.parametrize(("name", "index", "dtype"), CUDA_ONLY_CASES)
def test_matches_torch_cuda_only_config_on_cpu(name, index, dtype):
    """optim_db's CUDA-only configurations (capturable, often with tensor lr and betas) with capturable dropped:
    what is left is a CPU single-tensor configuration torch runs too."""
    kwargs = _config(name, index, device="cuda")
    opt_ours, opt_torch, _, _ = _run_pair(name, kwargs, dtype)
    _assert_state_dicts(opt_ours.state_dict(), opt_torch.state_dict(), _tol(dtype))


# ---------------------------------------------------------------- 3. complex parameters


def _complex_params(dtype=torch.complex64):
    """Upstream test_complex's parameters: two complex ones and a real one (real and complex mixed)."""
    g = torch.Generator().manual_seed(2)
    return [torch.randn(10, 5, generator=g, dtype=dtype).requires_grad_(),
            torch.randn(10, generator=g, dtype=dtype).requires_grad_(),
            torch.randn(10, 5, generator=g, dtype=torch.float32).requires_grad_()]


@pytest.mark.parametrize(("name", "index"), COMPLEX_CASES, ids=COMPLEX_IDS)
def test_complex_matches_torch(name, index):
    opt_ours, opt_torch, _, _ = _run_pair(name, _config(name, index), torch.complex64, steps=5,
                                          params_fn=lambda dtype: _complex_params(dtype), groups=False)
    _assert_state_dicts(opt_ours.state_dict(), opt_torch.state_dict(), _tol(torch.complex64))


@pytest.mark.parametrize(("name", "index"), COMPLEX_CASES, ids=COMPLEX_IDS)
def test_complex_matches_view_as_real(name, index):
    """Upstream test_complex's idea: a complex parameter steps as its real view would, bitwise."""
    complex_params = _complex_params()
    real_params = [(torch.view_as_real(p) if p.is_complex() else p).detach().clone().requires_grad_()
                   for p in complex_params]
    kwargs = _config(name, index)
    opt_c = _our_cls(name)(complex_params, **copy.deepcopy(kwargs))
    opt_r = _our_cls(name)(real_params, **copy.deepcopy(kwargs))
    for k in range(5):
        _set_grads(real_params, k)
        for p, r in zip(complex_params, real_params, strict=True):
            p.grad = torch.view_as_complex(r.grad) if p.is_complex() else r.grad.clone()
        opt_r.step()
        opt_c.step()
        as_real = [torch.view_as_real(p) if p.is_complex() else p for p in complex_params]
        _assert_params(as_real, real_params, dict(rtol=0, atol=0), f"after step {k + 1}")


# ---------------------------------------------------------------- 4. sparse gradients


def _sparse_run(name: str, kwargs: dict, constructors) -> None:
    """An embedding-like (8, 3) table; each step a sparse, uncoalesced gradient on a few rows (one repeated), on
    ours and on torch's. Where torch raises, ours must raise the same type at the same step."""
    table = torch.randn(8, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    p_torch, p_ours = table.clone().requires_grad_(), table.clone().requires_grad_()
    opt_torch = _torch_cls(name)([p_torch], **copy.deepcopy(kwargs))
    opt_ours = _our_cls(name)([p_ours], **copy.deepcopy(kwargs))
    s_torch = [c(opt_torch) for c in constructors]
    s_ours = [c(opt_ours) for c in constructors]
    g = torch.Generator().manual_seed(4)
    for k in range(STEPS):
        rows = torch.randint(0, 8, (3,), generator=g)
        rows = torch.cat([rows, rows[:1]])  # a repeated row: uncoalesced
        values = torch.randn(4, 3, generator=g, dtype=torch.float64)
        for p in (p_torch, p_ours):
            p.grad = torch.sparse_coo_tensor(rows[None], values + 0.1 * p.detach()[rows], (8, 3),
                                             check_invariants=True)
            assert not p.grad.is_coalesced()
        try:
            opt_torch.step()
        except Exception as error:  # noqa: BLE001 (any error torch raises, ours must raise alike)
            with pytest.raises(type(error), match=re.escape(str(error))):
                opt_ours.step()
            return
        opt_ours.step()
        _assert_params([p_ours], [p_torch], _tol(torch.float64), f"after step {k + 1}")
        loss = float((p_torch.detach() ** 2).sum())
        _step_schedulers(s_torch, loss)
        _step_schedulers(s_ours, loss)
    _assert_state_dicts(opt_ours.state_dict(), opt_torch.state_dict(), _tol(torch.float64))


@pytest.mark.parametrize(("name", "index", "with_sched"), SPARSE_CASES, ids=SPARSE_IDS)
def test_sparse_matches_torch(name, index, with_sched):
    """The configurations and schedulers of upstream's test_rosenbrock_sparse (metadata_for_sparse)."""
    updates, constructors = INFOS[name].metadata_for_sparse
    kwargs = {k: v for k, v in _config(name, index).items() if k not in updates}
    if "lr" in updates:
        kwargs["lr"] = updates["lr"]
    _sparse_run(name, kwargs, constructors if with_sched else [])


@pytest.mark.parametrize(("name", "index"), [c for c in INPUT_CASES if c[0] in SPARSE_NAMES],
                         ids=[i for c, i in zip(INPUT_CASES, INPUT_IDS, strict=True) if c[0] in SPARSE_NAMES])
def test_sparse_every_config_as_torch(name, index):
    """Every configuration as it stands, with sparse gradients: the same results as torch, or the same error
    where torch rejects the combination (e.g. weight_decay with sparse gradients)."""
    _sparse_run(name, _config(name, index), [])


# ---------------------------------------------------------------- 5. state dicts


def _continue(opt_ours, opt_torch, p_ours, p_torch, dtype, start, steps=5):
    for k in range(start, start + steps):
        _set_grads(p_torch, k)
        _set_grads(p_ours, k)
        opt_torch.step()
        opt_ours.step()
        _assert_params(p_ours, p_torch, _tol(dtype), f"after step {k + 1}")
    _assert_state_dicts(opt_ours.state_dict(), opt_torch.state_dict(), _tol(dtype))


@pytest.mark.parametrize(("name", "index"), INPUT_CASES, ids=INPUT_IDS)
def test_state_dict_from_torch_continues_as_torch(name, index):
    """After 5 steps of torch's optimizer, ours loads its state dict, and so does a fresh torch optimizer (the
    reference: loading casts state to the parameters' dtype, e.g. NAdam's ``mu_product``); a third, torch's,
    loads ours' state dict. All three continue 5 steps alike."""
    dtype, kwargs = torch.float64, _config(name, index)
    p_first = _make_params(dtype)
    opt_first = _torch_cls(name)(_groups(p_first), **copy.deepcopy(kwargs))
    for k in range(5):
        _set_grads(p_first, k)
        opt_first.step()
    p_torch, p_ours, p_back = _clone(p_first), _clone(p_first), _clone(p_first)
    opt_torch = _torch_cls(name)(_groups(p_torch), **copy.deepcopy(kwargs))
    opt_torch.load_state_dict(copy.deepcopy(opt_first.state_dict()))
    opt_ours = _our_cls(name)(_groups(p_ours), **copy.deepcopy(kwargs))
    opt_ours.load_state_dict(copy.deepcopy(opt_first.state_dict()))
    _assert_state_dicts(opt_ours.state_dict(), opt_torch.state_dict(), dict(rtol=0, atol=0))
    opt_back = _torch_cls(name)(_groups(p_back), **copy.deepcopy(kwargs))  # torch, from ours' state dict
    opt_back.load_state_dict(copy.deepcopy(opt_ours.state_dict()))
    for k in range(5, 10):
        for params, opt in ((p_torch, opt_torch), (p_ours, opt_ours), (p_back, opt_back)):
            _set_grads(params, k)
            opt.step()
        _assert_params(p_ours, p_torch, _tol(dtype), f"after step {k + 1}")
        _assert_params(p_back, p_torch, _tol(dtype), f"(torch from ours' state dict) after step {k + 1}")
    _assert_state_dicts(opt_ours.state_dict(), opt_torch.state_dict(), _tol(dtype))
    _assert_state_dicts(opt_back.state_dict(), opt_torch.state_dict(), _tol(dtype))


@pytest.mark.parametrize(("name", "index"), INPUT_CASES, ids=INPUT_IDS)
def test_state_dict_nontensor_step_loads(name, index):
    """Upstream test_load_nontensor_step's idea: a state dict whose ``step`` is a Python float loads, turns
    into a tensor, and the next step is torch's after the same load."""
    dtype, kwargs = torch.float32, _config(name, index)
    opt_ours, opt_torch, p_ours, p_torch = _run_pair(name, kwargs, dtype, steps=3)
    for opt in (opt_ours, opt_torch):
        sd = copy.deepcopy(opt.state_dict())
        for p_state in sd["state"].values():
            if "step" in p_state and torch.is_tensor(p_state["step"]):
                p_state["step"] = p_state["step"].item()
        assert any(isinstance(s.get("step"), float) for s in sd["state"].values()) or name == "SGD"
        opt.load_state_dict(sd)
    _continue(opt_ours, opt_torch, p_ours, p_torch, dtype, 3, steps=2)


@pytest.mark.parametrize(("name", "index"), INPUT_CASES, ids=INPUT_IDS)
def test_state_dict_older_is_back_filled(name, index):
    """Upstream test_can_load_older_state_dict's idea: without the flags of ``not_og_supported_flags`` (maximize,
    foreach, differentiable, capturable) a state dict loads, the groups are back-filled as torch's are, and the
    run continues as torch's."""
    dtype, kwargs = torch.float32, _config(name, index)
    opt_ours, opt_torch, p_ours, p_torch = _run_pair(name, kwargs, dtype, steps=3)
    removed = set()
    for opt in (opt_ours, opt_torch):
        sd = copy.deepcopy(opt.state_dict())
        for group in sd["param_groups"]:
            for flag in INFOS[name].not_og_supported_flags:
                if flag in group:
                    del group[flag]
                    removed.add(flag)
        opt.load_state_dict(sd)
    assert removed, "nothing was removed: the test would check nothing"
    for mine, theirs in zip(opt_ours.param_groups, opt_torch.param_groups, strict=True):
        assert removed <= set(mine), sorted(removed - set(mine))
        assert {k: v for k, v in mine.items() if k in removed} == {k: v for k, v in theirs.items() if k in removed}
    _continue(opt_ours, opt_torch, p_ours, p_torch, dtype, 3, steps=2)


@pytest.mark.parametrize(("source", "target"), [("Adam", "AdamW"), ("AdamW", "Adam")])
def test_state_dict_adam_adamw_cross_load(source, target):
    """Upstream test_adamw_serialization (Adam loads AdamW's state dict: decoupled) and the reverse (AdamW stays
    decoupled after loading Adam's), each compared with torch doing the same, then 5 more steps."""
    dtype = torch.float64
    kwargs = next(oi.kwargs for oi in INFOS[source].optim_inputs_func(device="cpu")
                  if oi.desc == "nonzero weight_decay")
    p_torch = _make_params(dtype)
    p_ours = _clone(p_torch)
    src_torch = _torch_cls(source)(_groups(p_torch), **kwargs)
    src_ours = _our_cls(source)(_groups(p_ours), **kwargs)
    for k in range(3):
        _set_grads(p_torch, k)
        _set_grads(p_ours, k)
        src_torch.step()
        src_ours.step()
    opt_torch = _torch_cls(target)(_groups(p_torch), **kwargs)
    opt_ours = _our_cls(target)(_groups(p_ours), **kwargs)
    opt_torch.load_state_dict(src_torch.state_dict())
    opt_ours.load_state_dict(src_ours.state_dict())
    assert [g["decoupled_weight_decay"] for g in opt_torch.param_groups] == [True, True]
    assert [g["decoupled_weight_decay"] for g in opt_ours.param_groups] == [True, True]
    _continue(opt_ours, opt_torch, p_ours, p_torch, dtype, 3)


# ---------------------------------------------------------------- the harness runs what the wheel provides

#: optim_db inputs per optimizer in torch 2.13 on the CPU (configurations, error inputs): a newer wheel may add
#: some; fewer means the data changed under us and the harness is looked at again
MIN_INPUTS = {"SGD": (9, 7), "Adagrad": (7, 7), "RMSprop": (8, 7), "Adam": (5, 12), "AdamW": (5, 12),
              "Adamax": (5, 7), "NAdam": (7, 8), "RAdam": (6, 8),
              "Adafactor": (5, 9)}


@pytest.mark.parametrize("name", NAMES)
def test_every_optimizer_runs_its_inputs(name):
    info = INFOS[name]
    inputs = info.optim_inputs_func(device="cpu")
    errors = info.optim_error_inputs_func(device="cpu", dtype=torch.float32)
    deselected = [oi.desc for oi in inputs if deselected_because(oi.kwargs)]
    assert all(deselected_because(oi.kwargs) in DESELECTED for oi in inputs if deselected_because(oi.kwargs))
    ran = [c for c in INPUT_CASES if c[0] == name]
    assert len(ran) == len(inputs) - len(deselected) >= MIN_INPUTS[name][0] - len(deselected), (ran, deselected)
    assert len([c for c in ERROR_CASES if c[0] == name]) == len(errors) >= MIN_INPUTS[name][1]
    assert len([c for c in SCHED_CASES if c[0] == name]) == len(ran) * (1 + len(info.scheduler_inputs))
    if info.supports_complex:
        assert len([c for c in COMPLEX_CASES if c[0] == name]) == len(ran)
    cuda_only = {oi.desc for oi in info.optim_inputs_func(device="cuda")} - {oi.desc for oi in inputs}
    assert len([c for c in CUDA_ONLY_CASES if c.values[0] == name]) >= 2 * len(cuda_only)
    if info.supports_sparse:
        assert any(c[0] == name for c in SPARSE_CASES)
    assert sorted(SPARSE_NAMES) == ["Adagrad", "SGD"] and COMPLEX_NAMES == [n for n in NAMES if n != "Adafactor"]
