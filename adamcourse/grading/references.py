"""Reference answers in the *student signature*, each a thin wrapper over an :mod:`adamcourse.optim` core.

``t`` is the 1-based index of this step; every function returns fresh arrays and leaves its inputs untouched.
``tests/test_grading_spec.py`` checks each one against ``torch.optim`` over several steps.
"""

from __future__ import annotations

import numpy as np

from adamcourse.optim import adagrad, adam, adamw, radam, rmsprop, sgd


def sgd_momentum_step(theta, g, b, lr, momentum):
    """b_t = momentum b_{t-1} + g_t (b_0 = 0); theta_t = theta_{t-1} - lr b_t. Equals ``torch.optim.SGD``."""
    theta, state = sgd.step(theta, g, sgd.SGDState(t=1, b=b), lr=lr, momentum=momentum)
    return theta, (state.b if momentum else np.array(g, dtype=float))  # momentum 0: torch keeps no buffer


def adagrad_step(theta, g, G, lr, eps):
    """G_t = G_{t-1} + g_t^2; theta_t = theta_{t-1} - lr g_t / (sqrt(G_t) + eps)."""
    theta, state = adagrad.step(theta, g, adagrad.AdagradState(t=0, G=G), lr=lr, eps=eps)
    return theta, state.G


def rmsprop_step(theta, g, v, lr, alpha, eps):
    """v_t = alpha v_{t-1} + (1 - alpha) g_t^2; theta_t = theta_{t-1} - lr g_t / (sqrt(v_t) + eps)."""
    theta, state = rmsprop.step(theta, g, rmsprop.RMSpropState(t=0, v=v), lr=lr, alpha=alpha, eps=eps)
    return theta, state.v


def adam_step(theta, g, m, v, t, lr, beta1, beta2, eps):
    """One step of ``torch.optim.Adam`` (Algorithm 1 of Kingma & Ba): returns (theta, m, v)."""
    theta, state = adam.step(theta, g, adam.AdamState(t - 1, m, v), lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    return theta, state.m, state.v


def amsgrad_step(theta, g, m, v, v_max, t, lr, beta1, beta2, eps):
    """One step of ``torch.optim.Adam(amsgrad=True)`` (max of the raw v): returns (theta, m, v, v_max)."""
    theta, state = adam.step(theta, g, adam.AdamState(t - 1, m, v, v_max), lr=lr, beta1=beta1, beta2=beta2,
                             eps=eps, amsgrad=True)
    return theta, state.m, state.v, state.v_max


def adamw_step(theta, g, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """One step of ``torch.optim.AdamW`` (decay theta (1 - lr wd), then Adam): returns (theta, m, v)."""
    theta, state = adamw.step(theta, g, adamw.AdamWState(t - 1, m, v), lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                              weight_decay=weight_decay)
    return theta, state.m, state.v


def radam_step(theta, g, m, v, t, lr, beta1, beta2, eps):
    """One step of ``torch.optim.RAdam`` (no weight decay): the un-adapted step lr m_hat_t while rho_t <= 5,
    then lr m_hat_t r_t sqrt(1 - beta2^t) / (sqrt(v_t) + eps); returns (theta, m, v), m and v uncorrected."""
    theta, state = radam.step(theta, g, radam.RAdamState(t - 1, m, v), lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    return theta, state.m, state.v


def train_step(model, x, y, optimizer):
    """One step of supervised training: zero the gradients, cross-entropy of ``model(x)`` against ``y``,
    backward, step; returns the loss as a float (computed before the step)."""
    import torch

    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def device_train_step(model, x, y, optimizer, device, amp):
    """The labs' device-aware step: the batch to ``device``, forward pass and loss under bf16 autocast when
    ``amp``, zero_grad, backward, step; returns ``loss.detach()`` (no ``.item()``: no host synchronisation)."""
    import torch

    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def clip_grad_norm(grads, max_norm):
    """Clip by the global norm, as ``torch.nn.utils.clip_grad_norm_``: every array times
    min(1, max_norm / (total norm + 1e-6)); returns new arrays."""
    total = np.sqrt(sum(np.sum(g * g) for g in grads))
    coef = min(1.0, max_norm / (total + 1e-6))
    return [g * coef for g in grads]


def training_recipe(model, steps_per_epoch):
    """AdamW at lr 1e-2 with a one-cycle schedule over 15 epochs: 98-99 % on the digits' test split."""
    import torch

    epochs = 15
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-2)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=epochs * steps_per_epoch)
    return optimizer, scheduler, epochs


#: Every reference, by exercise name.
REFERENCES = {f.__name__: f for f in (sgd_momentum_step, adagrad_step, rmsprop_step, adam_step, amsgrad_step,
                                      adamw_step, radam_step, train_step, device_train_step,
                                      clip_grad_norm, training_recipe)}
