"""Known-wrong answers, for named hints (PyBryt's idea).

:data:`MISTAKES` maps an exercise to ``[(hint, wrong)]``: ``wrong`` is a function in the student signature
(step exercises) or a number (value exercises). When a failing answer matches ``wrong`` within the case's
tolerances, the result carries ``hint``. Several variants may share a hint ("t off by one": t - 1 and t + 1).
A mutation of the inputs is not here: :meth:`StepCase.run` detects it ("mutates its inputs").
"""

from __future__ import annotations

import math

import numpy as np

# ---------------------------------------------------------------- SGD with momentum


def _sgd(theta, g, b, lr, momentum, *, lr_inside=False, dampen=False, use_g=False):
    b = momentum * b + (lr if lr_inside else 1 - momentum if dampen else 1) * g
    step = b if lr_inside else lr * (g if use_g else b)
    return theta - step, b


# ---------------------------------------------------------------- Adagrad and RMSprop


def _adagrad(theta, g, G, lr, eps, *, eps_inside=False, no_sum=False, no_sqrt=False):
    G = g * g if no_sum else G + g * g
    denom = np.sqrt(G + eps) if eps_inside else G + eps if no_sqrt else np.sqrt(G) + eps
    return theta - lr * g / denom, G


def _rmsprop(theta, g, v, lr, alpha, eps, *, eps_inside=False, swap=False, no_sqrt=False):
    a = 1 - alpha if swap else alpha
    v = a * v + (1 - a) * g * g
    denom = np.sqrt(v + eps) if eps_inside else v + eps if no_sqrt else np.sqrt(v) + eps
    return theta - lr * g / denom, v


# ---------------------------------------------------------------- Adam, AMSGrad, AdamW


def _adam(theta, g, m, v, v_max, t, lr, beta1, beta2, eps, weight_decay=0.0, *, correct=True, eps_inside=False,
          dt=0, swap=False, store_hat=False, no_sqrt=False, amsgrad=False, max_hat=False, use_v=False,
          decay="decoupled"):
    t = t + dt
    if decay == "l2":
        g = g + weight_decay * theta
    elif decay == "unscaled":
        theta = theta * (1 - weight_decay)
    elif decay == "decoupled":
        theta = theta * (1 - lr * weight_decay)
    b1, b2 = (1 - beta1, 1 - beta2) if swap else (beta1, beta2)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    c1, c2 = (1 - beta1**t, 1 - beta2**t) if correct else (1.0, 1.0)
    m_hat, v_hat = m / c1, v / c2
    if amsgrad:
        v_max = np.maximum(v_max, v_hat if max_hat else v)
        v_hat = v_hat if use_v else v_max if max_hat else v_max / c2
    denom = np.sqrt(v_hat + eps) if eps_inside else v_hat + eps if no_sqrt else np.sqrt(v_hat) + eps
    theta = theta - lr * m_hat / denom
    if decay == "after":
        theta = theta * (1 - lr * weight_decay)
    m, v = (m_hat, v_hat) if store_hat else (m, v)
    return theta, m, v, v_max


def _adam_mistake(**kw):
    swap_mv = kw.pop("swap_mv", False)

    def adam_step(theta, g, m, v, t, lr, beta1, beta2, eps):
        theta, m, v, _ = _adam(theta, g, m, v, None, t, lr, beta1, beta2, eps, decay=None, **kw)
        return (theta, v, m) if swap_mv else (theta, m, v)
    return adam_step


def _amsgrad_mistake(**kw):
    def amsgrad_step(theta, g, m, v, v_max, t, lr, beta1, beta2, eps):
        return _adam(theta, g, m, v, v_max, t, lr, beta1, beta2, eps, decay=None, amsgrad=True, **kw)
    return amsgrad_step


def _adamw_mistake(**kw):
    kw.setdefault("decay", "decoupled")

    def adamw_step(theta, g, m, v, t, lr, beta1, beta2, eps, weight_decay):
        return _adam(theta, g, m, v, None, t, lr, beta1, beta2, eps, weight_decay, **kw)[:3]
    return adamw_step


_ADAM_COMMON = [
    ("no bias correction", dict(correct=False)),
    ("eps inside the square root", dict(eps_inside=True)),
    ("t off by one", dict(dt=-1)),
    ("t off by one", dict(dt=1)),
    ("beta and 1-beta swapped", dict(swap=True)),
    ("square root missing", dict(no_sqrt=True)),
]

# ---------------------------------------------------------------- RAdam


def _radam_mistake(*, threshold=5.0, eps_at="v", correct=True, before="sgd", r_power=0.5, use_r=True, dt=0,
                   rho_inf_offset=-1.0, swap=False):
    """A variant of PyTorch's RAdam: ``eps_at`` "v" (torch: sqrt(v_t) + eps), "inside" (sqrt(v_t + eps)),
    "none" (the paper's), "v_hat" (Adam's sqrt(v_hat_t) + eps); ``before`` the step while rho_t <= threshold:
    "sgd" (torch: lr m_hat) or "adam" (lr m_hat l_t). (Taking the rectified step r_t l_t before the switch gives
    NaN at t = 3, 4 and, at t = 5, the output of ``threshold=4``, whose hint it gets.)"""
    def radam_step(theta, g, m, v, t, lr, beta1, beta2, eps):
        t, beta1, beta2 = t + dt, np.float64(beta1), np.float64(beta2)  # t - 1 = 0: inf and nan, no exception
        b1, b2 = (1 - beta1, 1 - beta2) if swap else (beta1, beta2)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - beta1**t) if correct else m
        c2 = 1 - beta2**t
        p_inf = 2 / (1 - beta2) + rho_inf_offset
        p = p_inf - 2 * t * beta2**t / c2
        r = ((p - 4) * (p - 2) * p_inf / ((p_inf - 4) * (p_inf - 2) * p)) ** r_power if use_r else 1.0
        denom = {"v": np.sqrt(v) + eps, "inside": np.sqrt(v + eps), "none": np.sqrt(v),
                 "v_hat": (np.sqrt(v / c2) + eps) * np.sqrt(c2)}[eps_at]
        l_t = np.sqrt(c2) / denom
        if p > threshold:
            step = m_hat * r * l_t
        else:
            step = {"sgd": m_hat, "adam": m_hat * l_t}[before]
        return theta - lr * step, m, v
    return radam_step

# ---------------------------------------------------------------- train_step


def _train_step(model, x, y, optimizer, *, zero_grad=True, step=True, step_first=False):
    import torch

    if zero_grad:
        optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    if step and step_first:
        optimizer.step()  # the gradients are None here (zero_grad sets them so): the step does nothing
    loss.backward()
    if step and not step_first:
        optimizer.step()
    return loss.item()


def _device_step(model, x, y, optimizer, device, amp, *, autocast=True, loss_inside=True, zero_grad=True):
    import torch

    x, y = x.to(device), y.to(device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and autocast):
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y) if loss_inside else None
    if loss is None:
        loss = torch.nn.functional.cross_entropy(logits, y)
    if zero_grad:
        optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()


#: optimizer.step() missing and optimizer.step() before loss.backward() give the same losses.
STEP_MISSING = "optimizer.step() missing, or called before loss.backward() (the parameters never change)"

MISTAKES: dict[str, list[tuple[str, object]]] = {
    "sgd_momentum_step": [
        ("lr inside the momentum buffer", lambda *a: _sgd(*a, lr_inside=True)),
        ("gradient dampened by (1 - momentum)", lambda *a: _sgd(*a, dampen=True)),
        ("theta updated with the gradient, not the momentum buffer", lambda *a: _sgd(*a, use_g=True)),
    ],
    "adagrad_step": [
        ("eps inside the square root", lambda *a: _adagrad(*a, eps_inside=True)),
        ("G replaced by g^2, not accumulated", lambda *a: _adagrad(*a, no_sum=True)),
        ("square root missing", lambda *a: _adagrad(*a, no_sqrt=True)),
    ],
    "rmsprop_step": [
        ("eps inside the square root", lambda *a: _rmsprop(*a, eps_inside=True)),
        ("alpha and 1-alpha swapped", lambda *a: _rmsprop(*a, swap=True)),
        ("square root missing", lambda *a: _rmsprop(*a, no_sqrt=True)),
    ],
    "adam_step": [(hint, _adam_mistake(**kw)) for hint, kw in _ADAM_COMMON] + [
        ("m and v swapped", _adam_mistake(swap_mv=True)),
        ("bias-corrected m and v stored in the state", _adam_mistake(store_hat=True)),
    ],
    "amsgrad_step": [(hint, _amsgrad_mistake(**kw)) for hint, kw in _ADAM_COMMON] + [
        ("max taken over the bias-corrected v", _amsgrad_mistake(max_hat=True)),
        ("v_max not used in the update (plain Adam)", _amsgrad_mistake(use_v=True)),
    ],
    "adamw_step": [(hint, _adamw_mistake(**kw)) for hint, kw in _ADAM_COMMON] + [
        ("L2 penalty added to the gradient (Adam's weight_decay), not decoupled decay",
         _adamw_mistake(decay="l2")),
        ("decay not scaled by lr: theta (1 - weight_decay)", _adamw_mistake(decay="unscaled")),
        ("decay applied after the Adam step, to the new theta", _adamw_mistake(decay="after")),
    ],
    "radam_step": [
        ("threshold rho_t > 4 (the paper's) instead of PyTorch's rho_t > 5: for beta2 = 0.999 the step at t=5 "
         "(rho_5 = 4.996) must still be the un-adapted lr * m_hat", _radam_mistake(threshold=4.0)),
        ("the adaptive step used before the switch: while rho_t <= 5 the step is lr * m_hat_t, with no l_t and "
         "no r_t", _radam_mistake(before="adam")),
        ("no bias correction of m: the step uses m_hat_t = m_t / (1 - beta1^t), before and after the switch",
         _radam_mistake(correct=False)),
        ("eps inside the square root: PyTorch's l_t = sqrt(1 - beta2^t) / (sqrt(v_t) + eps)",
         _radam_mistake(eps_at="inside")),
        ("eps missing: PyTorch's l_t = sqrt(1 - beta2^t) / (sqrt(v_t) + eps), not the paper's "
         "sqrt((1 - beta2^t) / v_t)", _radam_mistake(eps_at="none")),
        ("eps added to sqrt(v_hat_t) as in Adam: PyTorch's RAdam adds it to sqrt(v_t), before the bias correction, "
         "l_t = sqrt(1 - beta2^t) / (sqrt(v_t) + eps)", _radam_mistake(eps_at="v_hat")),
        ("r_t without its square root: r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))",
         _radam_mistake(r_power=1.0)),
        ("r_t missing: after the switch the step is lr * m_hat_t * r_t * l_t (plain Adam would be without r_t)",
         _radam_mistake(use_r=False)),
        ("rho_inf is 2 / (1 - beta2) - 1: the -1 is missing", _radam_mistake(rho_inf_offset=0.0)),
        ("t off by one: t is the 1-based index of this step (t=1 on the first step)", _radam_mistake(dt=-1)),
        ("t off by one: t is the 1-based index of this step (t=1 on the first step)", _radam_mistake(dt=1)),
        ("beta and 1-beta swapped", _radam_mistake(swap=True)),
    ],
    "train_step": [
        ("optimizer.zero_grad() missing (the gradients accumulate across steps)",
         lambda *a: _train_step(*a, zero_grad=False)),
        (STEP_MISSING, lambda *a: _train_step(*a, step=False)),
        (STEP_MISSING, lambda *a: _train_step(*a, step_first=True)),
    ],
    "device_train_step": [
        ("amp=True but no torch.autocast(device.type, dtype=torch.bfloat16) around the forward pass",
         lambda *a: _device_step(*a, autocast=False)),
        ("the loss is computed outside the autocast block (autocast should cover the forward pass and the loss)",
         lambda *a: _device_step(*a, loss_inside=False)),
        ("optimizer.zero_grad() missing (the gradients accumulate across steps)",
         lambda *a: _device_step(*a, zero_grad=False)),
    ],
    "clip_grad_norm": [
        ("each array clipped by its own norm, not by the total norm of all of them",
         lambda grads, c: [g * min(1.0, c / (np.sqrt(np.sum(g * g)) + 1e-6)) for g in grads]),
        ("rescaled even when the norm is below max_norm (the factor must be min(1, ...))",
         lambda grads, c: [g * (c / (np.sqrt(sum(np.sum(h * h) for h in grads)) + 1e-6)) for g in grads]),
        ("the 1e-6 of torch's formula missing: max_norm / (norm + 1e-6)",
         lambda grads, c: [g * min(1.0, c / np.sqrt(sum(np.sum(h * h) for h in grads))) for g in grads]),
        ("square root missing: the total norm is sqrt(sum of squares)",
         lambda grads, c: [g * min(1.0, c / (sum(np.sum(h * h) for h in grads) + 1e-6)) for g in grads]),
    ],
    "gd_max_lr_answer": [
        ("1/L is stable but not the largest: the limit is 2/L", 1.0 / 4.0),
        ("2/(L + mu) is the best learning rate, not the largest stable one", 2.0 / 5.0),
        ("L is the largest curvature, the second derivative 4, not the coefficient 2", 2.0 / 2.0),
        ("the limit is set by the largest curvature L, not the smallest mu: 2/L", 2.0 / 1.0),
    ],
    "adagrad_effective_lr_answer": [
        ("G is accumulated over all 100 steps, not replaced by the last g^2", 0.1 / (2.0 + 1e-10)),
        ("square root missing: the denominator is sqrt(G_t) + eps", 0.1 / (400.0 + 1e-10)),
        ("G sums the squared gradients g^2, not g", 0.1 / (math.sqrt(200.0) + 1e-10)),
        ("that is the step lr g / sqrt(G_t), not the effective learning rate lr / sqrt(G_t)",
         0.1 * 2.0 / (20.0 + 1e-10)),
    ],
    "ema_window_answer": [
        ("1 - alpha is the weight of the newest value; the window is its inverse", 0.01),
        ("alpha / (1 - alpha) is one short: the window is 1 / (1 - alpha)", 99.0),
    ],
    "adam_first_step_answer": [
        ("wrong sign: Adam moves against the gradient, and g < 0", -0.1 * 2.0 / (2.0 + 1e-8)),
        ("no bias correction", 0.1 * 0.2 / (math.sqrt(0.004) + 1e-8)),
        ("that is an SGD step, -lr * g", 0.2),
    ],
    "adam8bit_state_bytes_answer": [
        ("the scales count too: one float32 (4 bytes) per block of 256, for m and for v", 2.0),
        ("m and v each have their own scale per block: two float32 scales per 256 numbers", 1 + 1 + 4 / 256),
        ("that is fp32 Adam's state: 8-bit Adam keeps one byte per number of m and of v", 8.0),
        ("bytes, not bits: an 8-bit code is 1 byte and a float32 scale 4", 8 + 8 + 2 * 32 / 256),
    ],
    "amsgrad_state_bytes_answer": [
        ("that is Adam's state (m and v): AMSGrad keeps a third buffer, the running max of v", 2 * 4.0),
        ("count bytes, not buffers: each float32 number takes 4 bytes", 3.0),
        ("count the optimizer's state only, not the weights and gradients as well", 5 * 4.0),
        ("bits, not bytes: a float32 number is 32 bits = 4 bytes", 3 * 32.0),
    ],
    "zero2_gb_per_gpu_answer": [
        ("that is stage 1 (only the optimizer state sharded): stage 2 shards the gradients too",
         (2 + 2 + 12 / 16) * 1.5),
        ("that is stage 3 (the 16-bit weights sharded as well): stage 2 keeps a full copy of the weights",
         16 / 16 * 1.5),
        ("that is plain data parallelism (nothing sharded): 16 bytes per parameter on every GPU", 16 * 1.5),
        ("the fp32 master weights are part of the optimizer state: 12 bytes per parameter (master, m, v), "
         "not 8", (2 + (2 + 8) / 16) * 1.5),
    ],
    "rmsprop_first_step_answer": [
        ("wrong sign: RMSprop moves against the gradient", 0.01 / (0.1 + 1e-8)),
        ("alpha and 1-alpha swapped", -0.01 / (math.sqrt(0.99) + 1e-8)),
        ("that is an SGD step, -lr * g", -0.01),
    ],
    "steepest_max_norm_answer": [
        ("wrong sign: the steepest step decreases the loss, so g.d < 0", 0.1 * (3.0 + 1.0 + 0.5)),
        ("that is the Euclidean steepest step, -lr g / ||g||_2 (g.d = -lr ||g||_2); under the max-norm "
         "d = -lr sign(g), so g.d = -lr ||g||_1", -0.1 * math.sqrt(9.0 + 1.0 + 0.25)),
        ("that sums g_i with their signs; every coordinate contributes -lr |g_i|, so g.d = -lr ||g||_1",
         -0.1 * (3.0 - 1.0 + 0.5)),
    ],
    "reddi_adam_end_answer": [
        ("-1 is the optimum, where AMSGrad goes; Adam forgets the rare large gradient C within a few steps",
         -1.0),
        ("x does not stay at its start: the steps add up to a drift that the projection stops at an end",
         0.0),
    ],
}
