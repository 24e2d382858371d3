"""The registry of optimizer configurations every optimizer test runs over (torch's ``optim_db`` idea).

Each case is ``(class name, constructor kwargs)``; the same kwargs work for ``torch.optim.<name>`` and
``adamcourse.optim.<name>``, and :func:`functional_hyper` turns them into the functional ``step``'s keywords.
"""

from __future__ import annotations

CASES: list[tuple[str, dict]] = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("Adagrad", {"initial_accumulator_value": 0.1, "eps": 1e-3}),
    ("Adagrad", {"weight_decay": 0.1, "maximize": True}),
    ("RMSprop", {}),
    ("RMSprop", {"alpha": 0.9, "eps": 1e-3}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"momentum": 0.9}),
    ("RMSprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-3}),
    ("Adam", {"amsgrad": True}),
    ("Adam", {"weight_decay": 0.1}),
    ("Adam", {"weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    ("Adam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.5}),
    ("AdamW", {"amsgrad": True, "betas": (0.8, 0.99)}),
    ("AdamW", {"maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"betas": (0.5, 0.9), "eps": 1e-3}),
    ("Adamax", {"weight_decay": 0.1, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"momentum_decay": 0.01, "betas": (0.8, 0.99)}),
    ("NAdam", {"weight_decay": 0.1}),
    ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-3}),
    ("RAdam", {"betas": (0.9, 0.9)}),  # rho_inf = 19: the switch rho_t > 5 comes at t = 7
    ("RAdam", {"weight_decay": 0.1}),
    ("RAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("RAdam", {"betas": (0.9, 0.5)}),  # rho_inf = 3 <= 5: never adapts, SGD with bias-corrected momentum
    ("Adafactor", {}),
    ("Adafactor", {"lr": 0.1, "eps": (1e-3, 1e-2)}),
    ("Adafactor", {"beta2_decay": -0.5, "d": 1.5}),
    ("Adafactor", {"weight_decay": 0.1, "maximize": True}),
]

NAMES = sorted({name for name, _ in CASES})


def case_id(case: tuple[str, dict]) -> str:
    name, kwargs = case
    return name + ("-" + "-".join(f"{k}={v}" for k, v in kwargs.items()) if kwargs else "-defaults")


def functional_hyper(kwargs: dict) -> dict:
    """Constructor kwargs -> the functional ``step``'s keywords (``betas`` -> ``beta1, beta2``)."""
    hyper = dict(kwargs)
    if "betas" in hyper:
        hyper["beta1"], hyper["beta2"] = hyper.pop("betas")
    return hyper
