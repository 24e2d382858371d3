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
    "rmsprop_first_step_answer": [
        ("wrong sign: RMSprop moves against the gradient", 0.01 / (0.1 + 1e-8)),
        ("alpha and 1-alpha swapped", -0.01 / (math.sqrt(0.99) + 1e-8)),
        ("that is an SGD step, -lr * g", -0.01),
    ],
}
