"""Bytes per parameter of each optimizer's state, measured from a real ``state_dict()`` after one step on the
CNN lab's model (``SmallCNN``, width 16, on a batch of the 8x8 digits), next to each formula's prediction.

Prints one JSON object::

    {"machine": str, "model": str, "n_params": int, "n_tensors": int,
     "results": [{"optimizer", "impl", "state_bytes", "formula_bytes", "bytes_per_param",
                  "formula_bytes_per_param", "buffers_bytes_per_param", "formula"}, ...]}

``state_bytes`` counts every tensor of the optimizer's ``state_dict()["state"]`` (``numel * element_size``),
the 0-d ``step`` counters included; ``formula_bytes`` is the exact count the formula gives for this model (per
parameter, plus 4 bytes of ``step`` per tensor, plus 8-bit Adam's two fp32 scales per block of 2048, plus
Adafactor's row and column statistics of each tensor's last two dimensions). ``buffers_bytes_per_param`` is the
textbook number (fp32: 4 bytes per buffer the size of the parameters; 8-bit Adam: 2 + 8/2048; Adafactor: its
factored state over the parameter count, no step). SGD without momentum keeps no state at all.

Usage: ``python benchmarks/memory.py [--width 16] [--quick]`` (``--quick`` does the same: one step is all it
takes; the flag is accepted so every benchmark has it).
"""

from __future__ import annotations

import argparse
import json
import math

import torch

from adamcourse import data, models
from adamcourse.optim import Adam8bit
from adamcourse.optim.adam8bit import BLOCK
from adamcourse.runtime import describe_machine, seed_everything

#: name -> (implementation, class, kwargs, fp32 buffers the size of the parameters, step counter kept?)
OPTIMIZERS = {
    "SGD": ("torch.optim", torch.optim.SGD, {"lr": 0.01}, 0, False),
    "SGD+momentum": ("torch.optim", torch.optim.SGD, {"lr": 0.01, "momentum": 0.9}, 1, False),
    "Adagrad": ("torch.optim", torch.optim.Adagrad, {}, 1, True),
    "RMSprop": ("torch.optim", torch.optim.RMSprop, {}, 1, True),
    "Adam": ("torch.optim", torch.optim.Adam, {}, 2, True),
    "AMSGrad": ("torch.optim", torch.optim.Adam, {"amsgrad": True}, 3, True),
    "AdamW": ("torch.optim", torch.optim.AdamW, {}, 2, True),
    "Adam8bit": ("adamcourse.optim", Adam8bit, {}, None, True),
    "Adafactor": ("torch.optim", torch.optim.Adafactor, {}, None, True),
}

FORMULAS = {
    "SGD": "0 (no state)",
    "SGD+momentum": "4 (momentum buffer b)",
    "Adagrad": "4 (sum G) + 4 per tensor (step)",
    "RMSprop": "4 (square_avg) + 4 per tensor (step)",
    "Adam": "8 (m, v) + 4 per tensor (step)",
    "AMSGrad": "12 (m, v, v_max) + 4 per tensor (step)",
    "AdamW": "8 (m, v) + 4 per tensor (step)",
    "Adam8bit": f"2 (int8 m, uint8 v) + 2 x 4 per block of {BLOCK} (scales) + 4 per tensor (step)",
    "Adafactor": "4 (lead x (n + m)) for a tensor of >= 2 dims (its last two factored), 4 numel for a vector, "
                 "+ 4 per tensor (step)",
}


def factored_numbers(shape: tuple[int, ...]) -> int:
    """Adafactor's second-moment entries for one tensor: rows + columns of the last two dims, else numel."""
    if len(shape) < 2:
        return math.prod(shape)
    *lead, n, m = shape
    return math.prod(lead) * (n + m)


def formula_bytes(name: str, shapes: list[tuple[int, ...]]) -> tuple[int, float]:
    """(exact bytes for these parameter shapes, textbook bytes per parameter) of fp32 parameters."""
    n = sum(math.prod(s) for s in shapes)
    _, _, _, buffers, has_step = OPTIMIZERS[name]
    step = 4 * len(shapes) if has_step else 0
    if name == "Adam8bit":
        blocks = sum(math.ceil(math.prod(s) / BLOCK) for s in shapes)
        return 2 * n + 2 * 4 * blocks + step, 2 + 2 * 4 / BLOCK
    if name == "Adafactor":
        numbers = sum(factored_numbers(s) for s in shapes)
        return 4 * numbers + step, 4 * numbers / n
    return 4 * buffers * n + step, 4.0 * buffers


def measured_bytes(optimizer: torch.optim.Optimizer) -> int:
    return sum(v.numel() * v.element_size() for state in optimizer.state_dict()["state"].values()
               for v in state.values() if torch.is_tensor(v))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=16, help="SmallCNN's channels (the CNN lab's CPU setting: 16)")
    parser.add_argument("--quick", action="store_true", help="accepted for uniformity; the run is already short")
    args = parser.parse_args()

    digits = data.load_digits()
    x, y = digits.train.x[:64], digits.train.y[:64]
    results = []
    for name, (impl, cls, kwargs, _, _) in OPTIMIZERS.items():
        seed_everything(0)
        model = models.SmallCNN(in_channels=x.shape[1], num_classes=10, width=args.width, dropout=0.2)
        optimizer = cls(model.parameters(), **kwargs)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        shapes = [tuple(p.shape) for p in model.parameters()]
        n = sum(math.prod(s) for s in shapes)
        state, (exact, per_param) = measured_bytes(optimizer), formula_bytes(name, shapes)
        results.append({"optimizer": name, "impl": f"{impl}.{cls.__name__}", "state_bytes": state,
                        "formula_bytes": exact, "bytes_per_param": round(state / n, 4),
                        "formula_bytes_per_param": round(exact / n, 4),
                        "buffers_bytes_per_param": round(per_param, 4), "formula": FORMULAS[name]})
    print(json.dumps({"machine": describe_machine(), "model": f"SmallCNN(width={args.width}) on 8x8 digits",
                      "n_params": n, "n_tensors": len(shapes), "results": results}, indent=1))


if __name__ == "__main__":
    main()
