"""adamcourse.optim against torch.optim, the independent oracle: classes, functional cores, state, schedulers."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

import adamcourse.optim as ours

from optim_cases import CASES, NAMES, case_id, functional_hyper

SHAPES = [(), (0,), (3,), (4, 5), (70_000,)]  # 0-d, empty, small, matrix, large (the CPU block path)
STEPS = 100
RTOL = {torch.float64: 1e-9, torch.float32: 1e-5}
#: torch.optim.Adafactor divides by an empty parameter's size (ZeroDivisionError); ours steps over it
NO_EMPTY = {"Adafactor"}
NO_COMPLEX = {"Adafactor"}  # torch.optim.Adafactor raises RuntimeError for complex parameters, and so does ours


@pytest.fixture
def default_dtype(request):
    """torch.optim keeps scalar state (step, NAdam's mu_product) in the default dtype: match the params."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(request.param)
    yield request.param
    torch.set_default_dtype(old)


def noise(shape, step, dtype):
    """The same N(0, 1) tensor for a given step and shape, in every run."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(1000 + step), dtype=dtype)


def loss_fn(params, step):
    """|p|^2 / 2 plus a linear term that changes every step: the gradient p + noise_t gives every coordinate
    its own step sizes, and the dynamics contract, so round-off differences (torch fuses ``p - lr * g`` into
    one rounding) are not amplified. A loss with a minimum in reach is not: sign-like adaptive steps
    oscillating around a minimum are chaotic, and there 1e-16 grows to 1e-9 within a few dozen steps."""
    return sum((0.5 * p**2 + noise(p.shape, step, p.dtype) * p).sum() for p in params)


def make_params(dtype, seed=0, name=None):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=dtype).requires_grad_() for s in SHAPES
            if not (name in NO_EMPTY and 0 in s)]


def groups(params):
    """Two param groups, the second with its own lr."""
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.003}]


def train(opt, params, steps, start=0):
    for i in range(start, start + steps):
        opt.zero_grad()
        loss_fn(params, i).backward()
        if i == 2:
            params[2].grad = None  # a step where one parameter has no gradient: it must be skipped
        opt.step()


def assert_rel_close(actual, expected, rtol, what=""):
    """|actual - expected| <= rtol * max|expected| elementwise, with the tensor's scale as reference."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, what
    if expected.numel() == 0:
        return
    scale = expected.abs().max().item() or 1.0
    err = (actual - expected).abs().max().item()
    assert err <= rtol * scale, f"{what}: max abs error {err:.3e} > {rtol:g} * {scale:.3e}"


def assert_same_state(ours_opt, torch_opt, rtol):
    s_ours, s_torch = ours_opt.state_dict(), torch_opt.state_dict()
    assert s_ours["param_groups"] == s_torch["param_groups"]
    assert s_ours["state"].keys() == s_torch["state"].keys()
    for i, st in s_torch["state"].items():
        assert set(s_ours["state"][i]) == set(st), f"state keys of param {i}"
        for key, value in st.items():
            assert_rel_close(s_ours["state"][i][key], value, rtol, f"state[{i}][{key!r}]")


@pytest.mark.parametrize("default_dtype", [torch.float64, torch.float32], indirect=True)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_class_matches_torch(case, default_dtype):
    name, kwargs = case
    ref_params, our_params = make_params(default_dtype, name=name), make_params(default_dtype, name=name)
    ref = getattr(torch.optim, name)(groups(ref_params), **kwargs)
    mine = getattr(ours, name)(groups(our_params), **kwargs)
    train(ref, ref_params, STEPS)
    train(mine, our_params, STEPS)
    for i, (a, b) in enumerate(zip(our_params, ref_params)):
        assert_rel_close(a.detach(), b.detach(), RTOL[default_dtype], f"param {i} {tuple(b.shape)}")
    assert_same_state(mine, ref, RTOL[default_dtype])


@pytest.mark.parametrize("default_dtype", [torch.float64], indirect=True)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_functional_numpy_matches_torch(case, default_dtype):
    """The pure step on NumPy float64 arrays follows torch.optim's trajectory."""
    name, kwargs = case
    hyper = functional_hyper(kwargs)
    init_kwargs = {k: hyper.pop(k) for k in ["initial_accumulator_value"] if k in hyper}
    core = ours.CORES[name]
    p = torch.linspace(-2, 2, 7, dtype=torch.float64).requires_grad_()
    ref = getattr(torch.optim, name)([p], **kwargs)
    theta = p.detach().numpy().copy()
    state = core.init(theta, **init_kwargs)
    for i in range(STEPS):
        ref.zero_grad()
        loss_fn([p], i).backward()
        ref.step()
        theta, state = core.step(theta, theta + noise(p.shape, i, p.dtype).numpy(), state, **hyper)
    assert theta.dtype == np.float64
    assert_rel_close(torch.from_numpy(theta), p.detach(), 1e-9, name)


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("array", ["numpy32", "numpy64", "torch32"])
def test_step_is_pure_and_keeps_dtype(case, array):
    name, kwargs = case
    hyper = functional_hyper(kwargs)
    init_kwargs = {k: hyper.pop(k) for k in ["initial_accumulator_value"] if k in hyper}
    core = ours.CORES[name]
    rng = np.random.default_rng(0)
    theta, grad = rng.normal(size=(2, 5)).astype(np.float32 if array.endswith("32") else np.float64)
    if array.startswith("torch"):
        theta, grad = torch.from_numpy(theta), torch.from_numpy(grad)
    state = core.init(theta, **init_kwargs)
    for _ in range(2):  # the second step starts from a state with every buffer present
        before = [copy.deepcopy(x) for x in leaves(theta, grad, state)]
        new_theta, new_state = core.step(theta, grad, state, **hyper)
        for old, now in zip(before, leaves(theta, grad, state)):
            same = torch.equal if isinstance(now, torch.Tensor) else np.array_equal
            assert now is None if old is None else same(old, now), "input mutated"
        assert new_theta.dtype == theta.dtype and type(new_theta) is type(theta)
        assert new_state.t == state.t + 1
        theta, state = new_theta, new_state


def leaves(*objs):
    """Flatten arrays and (named) tuples of arrays into a list."""
    return [leaf for o in objs for leaf in (leaves(*o) if isinstance(o, tuple) else [o])]


@pytest.mark.parametrize("default_dtype", [torch.float64], indirect=True)
@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_resumes_identically(name, default_dtype):
    """With float32 scalar state and float64 params, load_state_dict casts NAdam's mu_product to float64 (as
    torch's does, see the next test), so the resumed run is identical only when the two dtypes agree."""
    kwargs = dict(next(k for n, k in CASES if n == name))
    a_params, b_params = make_params(torch.float64), make_params(torch.float64)
    a = getattr(ours, name)(groups(a_params), **kwargs)
    train(a, a_params, 10)
    saved = copy.deepcopy(a.state_dict())
    with torch.no_grad():
        for p, q in zip(b_params, a_params):
            p.copy_(q)
    b = getattr(ours, name)(groups(b_params), **kwargs)
    b.load_state_dict(saved)
    train(a, a_params, 10, start=10)
    train(b, b_params, 10, start=10)
    for p, q in zip(a_params, b_params):
        assert torch.equal(p, q)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nadam_mu_product_rounds_and_loads_as_torch(dtype):
    """mu_product is a 0-d tensor in the default dtype (float32 here), rounded at every step, bit for bit as
    torch's; load_state_dict casts it to the parameter's dtype in both."""
    opts = {}
    for lib in (torch.optim, ours):
        params = make_params(dtype)
        opts[lib] = lib.NAdam(params, lr=0.01)
        train(opts[lib], params, 20)
    ref, mine = (opts[lib].state_dict()["state"] for lib in (torch.optim, ours))
    for i in ref:
        assert ref[i]["mu_product"].dtype == mine[i]["mu_product"].dtype == torch.float32
        assert torch.equal(ref[i]["mu_product"], mine[i]["mu_product"])
    for lib in (torch.optim, ours):
        fresh = lib.NAdam(make_params(dtype), lr=0.01)
        fresh.load_state_dict(opts[lib].state_dict())
        assert all(s["mu_product"].dtype == dtype for s in fresh.state.values())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("direction", ["torch->ours", "ours->torch"])
def test_checkpoints_move_between_torch_and_ours(name, direction):
    """A checkpoint of torch.optim.X resumes in adamcourse.optim.X and vice versa."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        first, second = (torch.optim, ours) if direction == "torch->ours" else (ours, torch.optim)
        a_params, b_params = make_params(torch.float64, name=name), make_params(torch.float64, name=name)
        a = getattr(first, name)(groups(a_params))
        train(a, a_params, 10)
        with torch.no_grad():
            for p, q in zip(b_params, a_params):
                p.copy_(q)
        b = getattr(second, name)(groups(b_params))
        b.load_state_dict(copy.deepcopy(a.state_dict()))
        train(a, a_params, 10, start=10)
        train(b, b_params, 10, start=10)
        for p, q in zip(b_params, a_params):
            assert_rel_close(p.detach(), q.detach(), 1e-9, name)
    finally:
        torch.set_default_dtype(old)


SCHEDULERS = [
    lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
    lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10),
    lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=20,
                                                  cycle_momentum="momentum" in opt.defaults
                                                  or "betas" in opt.defaults),
    lambda opt: torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=5),
]


@pytest.mark.parametrize("make_scheduler", SCHEDULERS, ids=["StepLR", "Cosine", "OneCycle", "LinearLR"])
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_lr_schedulers_drive_ours_as_torch(name, make_scheduler):
    kwargs = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}  # OneCycle cycles momentum/betas
    results = []
    for module in (torch.optim, ours):
        params = make_params(torch.float64)
        opt = getattr(module, name)(groups(params), **kwargs)
        sched = make_scheduler(opt)
        lrs = []
        for i in range(20):
            train(opt, params, 1, start=i + 3)
            sched.step()
            lrs.append([g["lr"] for g in opt.param_groups])
        results.append((lrs, params))
    (lrs_t, p_t), (lrs_o, p_o) = results
    assert lrs_o == lrs_t
    for a, b in zip(p_o, p_t):
        assert_rel_close(a.detach(), b.detach(), 1e-9, name)


def test_drop_in_for_a_model_training_loop():
    """Same model, data and seed: adamcourse.optim.Adam and torch.optim.Adam give the same loss curve."""
    curves = []
    for cls in (torch.optim.Adam, ours.Adam):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        x, y = torch.randn(64, 4), torch.randn(64, 1)
        opt = cls(model.parameters(), lr=1e-2)
        curve = []
        for _ in range(200):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            curve.append(loss.item())
        curves.append(curve)
    np.testing.assert_allclose(curves[1], curves[0], rtol=1e-5)
    assert curves[0][-1] < 0.5 * curves[0][0]  # and it did train


# ---------------------------------------------------------------- hand-computed first steps

G = np.array([3.0, -0.5, 1e-3, 0.0])
THETA = np.array([1.0, 2.0, -3.0, 0.5])


def first_step(core, **hyper):
    theta, _ = core.step(THETA, G, core.init(THETA), **hyper)
    return theta - THETA


def test_first_steps_by_hand():
    lr, eps, alpha = 0.1, 1e-8, 0.99
    np.testing.assert_allclose(first_step(ours.sgd, lr=lr), -lr * G)
    np.testing.assert_allclose(first_step(ours.adam, lr=lr, eps=eps), -lr * G / (np.abs(G) + eps))
    np.testing.assert_allclose(first_step(ours.adagrad, lr=lr, eps=eps), -lr * G / (np.abs(G) + eps))
    np.testing.assert_allclose(first_step(ours.rmsprop, lr=lr, alpha=alpha, eps=eps),
                               -lr * G / (math.sqrt(1 - alpha) * np.abs(G) + eps))
    np.testing.assert_allclose(first_step(ours.adamax, lr=lr, eps=eps), -lr * G / (np.abs(G) + eps))
    # Adam's first step is ~lr * sign(g) whatever the gradient's scale
    np.testing.assert_allclose(first_step(ours.adam, lr=lr)[:3], -lr * np.sign(G[:3]), rtol=1e-4)


def test_adam_step_is_invariant_to_gradient_scale():
    theta, state_a, state_b = THETA, ours.adam.init(THETA), ours.adam.init(THETA)
    a = b = theta
    rng = np.random.default_rng(0)
    for _ in range(20):
        g = rng.normal(size=4)
        a, state_a = ours.adam.step(a, g, state_a, eps=0.0)
        b, state_b = ours.adam.step(b, 1000.0 * g, state_b, eps=0.0)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_non_finite_gradients_propagate_as_in_torch():
    for name in NAMES:
        results = []
        for module in (torch.optim, ours):
            p = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
            opt = getattr(module, name)([p])
            p.grad = torch.tensor([float("nan"), 1.0], dtype=torch.float64)
            opt.step()
            results.append(p.detach().clone())
        assert torch.equal(results[0].isnan(), results[1].isnan()), name
        assert results[1][0].isnan() and results[1][1].isfinite(), name


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_complex_parameters_match_torch(case):
    """A complex parameter is updated through its real view, as torch.optim does; the state stays complex."""
    name, kwargs = case
    if name in NO_COMPLEX:
        for lib in (torch.optim, ours):
            z = torch.zeros(4, 3, dtype=torch.complex128, requires_grad=True)
            z.grad = torch.ones_like(z)
            with pytest.raises(RuntimeError, match=f"{name} does not support complex parameters"):
                getattr(lib, name)([z], **kwargs).step()
        return
    runs = []
    for lib in (torch.optim, ours):
        g = torch.Generator().manual_seed(0)
        z = torch.randn(4, 3, dtype=torch.complex128, generator=g).requires_grad_()
        opt = getattr(lib, name)([z], **kwargs)
        for _ in range(10):
            z.grad = torch.randn(4, 3, dtype=torch.complex128, generator=g)
            opt.step()
        runs.append((z.detach(), opt.state[z]))
    (z_ref, s_ref), (z_ours, s_ours) = runs
    assert_rel_close(torch.view_as_real(z_ours), torch.view_as_real(z_ref), 1e-9, "param")
    for key, value in s_ref.items():
        if isinstance(value, torch.Tensor) and value.is_complex():
            assert s_ours[key].is_complex(), key
            assert_rel_close(torch.view_as_real(s_ours[key]), torch.view_as_real(value), 1e-9, key)


@pytest.mark.parametrize("name, kwargs", [("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.1, "momentum": 0.9}),
                                          ("Adagrad", {}), ("Adagrad", {"lr_decay": 0.01, "maximize": True})])
def test_sparse_gradients_match_torch(name, kwargs):
    """Uncoalesced sparse gradients (an index listed twice) give torch's result: only held entries move."""
    runs = []
    for lib in (torch.optim, ours):
        g = torch.Generator().manual_seed(0)
        theta = torch.randn(6, dtype=torch.float64, generator=g).requires_grad_()
        opt = getattr(lib, name)([theta], **kwargs)
        for step in range(10):
            index = torch.tensor([[step % 6, step % 6, (step + 2) % 6]])
            values = torch.randn(3, dtype=torch.float64, generator=g)
            theta.grad = torch.sparse_coo_tensor(index, values, (6,), check_invariants=True)
            opt.step()
        runs.append(theta.detach())
    assert_rel_close(runs[1], runs[0], 1e-12, name)


@pytest.mark.parametrize("name", NAMES)
def test_every_state_field_is_documented(name):
    """The API page shows each field's docstring; a NamedTuple's default is "Alias for field number N"."""
    state_type = type(ours.CORES[name].init(np.zeros(2)))
    for field in state_type._fields:
        doc = getattr(state_type, field).__doc__
        assert doc and not doc.startswith("Alias for field") and ":math:" in doc, (state_type.__name__, field)


# ---------------------------------------------------------------- RAdam's rho_t and r_t


@pytest.mark.parametrize("beta2", [0.9, 0.98, 0.99, 0.999])
def test_radam_rho_is_the_length_of_the_matching_simple_moving_average(beta2):
    """Liu et al.'s definition, computed independently of the closed form: the exponential average v_t weights
    g_{t-k}^2 by (1 - beta2) beta2^k / (1 - beta2^t), k = 0..t-1; a simple moving average of length f has its
    centre of mass at age (f - 1)/2; rho_t is the f whose centre of mass is the EMA's."""
    for t in [1, 2, 5, 6, 10, 100, 3000]:
        k = np.arange(t)
        w = (1 - beta2) * beta2**k / (1 - beta2**t)
        assert math.isclose(w.sum(), 1.0, rel_tol=1e-9)
        assert math.isclose(ours.radam.rho(t, beta2), 2 * (k * w).sum() + 1, rel_tol=1e-9, abs_tol=1e-9), t
    assert ours.radam.rho(1, beta2) == pytest.approx(1.0, abs=1e-12)
    assert ours.radam.rho_inf(beta2) == pytest.approx((1 + beta2) / (1 - beta2), rel=1e-12)  # sum as t -> inf
    ts = np.arange(1, 201)
    rhos = ours.radam.rho(ts, beta2)
    assert isinstance(rhos, np.ndarray) and rhos.shape == ts.shape
    assert np.all(np.diff(rhos) > 0) and rhos[-1] < ours.radam.rho_inf(beta2)  # rises towards rho_inf
    assert ours.radam.rho(10**6, beta2) == pytest.approx(ours.radam.rho_inf(beta2), rel=1e-15)


def test_radam_rectification_limits_and_domain():
    r = ours.radam.rectification(np.arange(1, 5001), 0.999)
    valid = ~np.isnan(r)
    assert np.isnan(r[:5]).all() and valid[5:].all()  # t = 1..5: rho_t <= 5, no r_t (un-adapted step)
    assert np.all(np.diff(r[valid]) > 0) and np.all(r[valid] < 1)  # rises, below 1
    assert ours.radam.rectification(10**6, 0.999) == pytest.approx(1.0, abs=1e-15)  # r_t -> 1 as t -> inf
    assert math.isnan(ours.radam.rectification(5, 0.999))
    assert ours.radam.rectification(5, 0.999, threshold=4) == pytest.approx(0.0173115, rel=1e-5)  # the paper's
    assert np.isnan(ours.radam.rectification(np.arange(1, 1000), 0.5)).all()  # rho_inf = 3: never adapts
    # r_t^2 is the ratio of the first-order variances rho / (2 (rho - 2)(rho - 4)) of the adaptive step at
    # rho_inf and at rho_t (Liu et al., Theorem 2 / eq. 6), written out separately here
    var = lambda p: p / (2 * (p - 2) * (p - 4))  # noqa: E731
    for t in [6, 7, 20, 500]:
        p, p_inf = ours.radam.rho(t, 0.999), ours.radam.rho_inf(0.999)
        assert ours.radam.rectification(t, 0.999) ** 2 == pytest.approx(var(p_inf) / var(p), rel=1e-12)


@pytest.mark.parametrize("beta2", [0.5, 0.9, 0.98, 0.99, 0.999])
def test_radam_switch_step_is_torchs(beta2):
    """With a constant gradient 1, m_hat_t = 1, so torch.optim.RAdam moves by lr (un-adapted) or by
    lr * r_t * l_t with l_t = 1 up to eps: its first adaptive step is where rectification() starts, and
    the step sizes after it are lr * r_t."""
    lr, steps = 0.01, 40
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.RAdam([p], lr=lr, betas=(0.9, beta2), eps=0.0)
    moves = []
    for _ in range(steps):
        before = p.item()
        p.grad = torch.ones(1, dtype=torch.float64)
        opt.step()
        moves.append((before - p.item()) / lr)
    moves = np.array(moves)
    r = ours.radam.rectification(np.arange(1, steps + 1), beta2)
    adapted = ~np.isnan(r)
    np.testing.assert_allclose(moves[~adapted], 1.0, rtol=1e-9)
    np.testing.assert_allclose(moves[adapted], r[adapted], rtol=1e-9)
    if beta2 == 0.999:
        assert np.argmax(adapted) + 1 == 6  # rho_5 = 4.996, rho_6 = 5.994
    assert adapted.any() == (beta2 > 2 / 3)  # rho_inf = 2 / (1 - beta2) - 1 > 5 iff beta2 > 2/3


def test_radam_function_arguments_are_checked():
    with pytest.raises(ValueError, match=r"^Invalid t: 0 \(t must be an integer >= 1"):
        ours.radam.rho(0, 0.999)
    with pytest.raises(ValueError, match=r"^Invalid t: 2\.5"):
        ours.radam.rectification(2.5, 0.999)
    with pytest.raises(ValueError, match=r"^Invalid beta parameter at index 1: 1\.0 \(beta2 must lie in \[0, 1\)\)$"):
        ours.radam.rho_inf(1.0)
    with pytest.raises(ValueError, match=r"^Invalid threshold value: 3\.0 \(threshold must lie in \[4, inf\)\)$"):
        ours.radam.rectification(10, 0.999, threshold=3.0)
