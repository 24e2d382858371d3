"""Every example in the library's docstrings runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["adamcourse.optim." + name
           for name in ("sgd", "adagrad", "rmsprop", "adam", "adamw", "adamax", "nadam", "radam",
                         "adafactor", "adam8bit")]
MODULES += ["adamcourse.optim", "adamcourse.functions", "adamcourse.viz", "adamcourse.runtime", "adamcourse.data",
            "adamcourse.models", "adamcourse.train", "adamcourse.sweep",
            "adamcourse.widgets", "adamcourse.online", "adamcourse.variants", "adamcourse.schedules",
            "adamcourse.imbalance", "adamcourse.grids", "adamcourse.bow", "adamcourse.optstate",
            "adamcourse.bench", "adamcourse.distributed"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"
    if name.startswith("adamcourse.optim."):
        assert result.attempted >= 3, f"{name}: its docstring should carry a runnable example"
