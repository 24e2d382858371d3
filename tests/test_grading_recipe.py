"""adamcourse.grading.recipe_case: the CNN lab's "reach the target accuracy" exercise."""

from __future__ import annotations

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

from adamcourse.grading import EXERCISES, check
from adamcourse.grading.grade import Limits, grade
from adamcourse.grading.references import training_recipe

from sandbox_required import needs_sandbox

CASE = EXERCISES["training_recipe"].cases[0]


def _judge(fn):
    return CASE.judge(CASE.run(fn, CASE.inputs()))


def test_reference_recipe_reaches_the_target():
    result = _judge(training_recipe)
    assert result.passed and result.points == CASE.points, result.message


def test_a_poor_recipe_gets_partial_or_no_credit():
    def too_short(model, steps_per_epoch):  # plain SGD, one epoch: far from 90 %
        return torch.optim.SGD(model.parameters(), lr=0.01), None, 1

    result = _judge(too_short)
    assert result.points == 0 and "FAIL] test accuracy >= 90%" in result.message


def test_diverging_recipe_is_reported():
    def diverges(model, steps_per_epoch):
        return torch.optim.SGD(model.parameters(), lr=1e6), None, 1

    result = _judge(diverges)
    assert result.points == 0


@pytest.mark.parametrize(("recipe", "message"), [
    (lambda m, s: torch.optim.Adam(m.parameters()), "must return a tuple"),
    (lambda m, s: ("adam", None, 3), "must be a torch.optim.Optimizer"),
    (lambda m, s: (torch.optim.Adam(list(m.parameters())[:1]), None, 3), "over model.parameters()"),
    (lambda m, s: (torch.optim.Adam(m.parameters()), "cosine", 3), "scheduler must be None or have a step"),
    (lambda m, s: (torch.optim.Adam(m.parameters()), None, 1000), "epochs must be an integer from 1 to 30"),
    (lambda m, s: (torch.optim.Adam(m.parameters()), None, 2.5), "epochs must be an integer"),
])
def test_invalid_recipes_get_a_clear_message(recipe, message):
    report = check("training_recipe", recipe)
    assert not report.passed and message in str(report)


@needs_sandbox
def test_grading_a_notebook_end_to_end(tmp_path):
    """In the grading child: torch, scikit-learn and the lab modules import under the memory limit, and
    adamcourse.optim stays blocked (the recipe uses torch.optim)."""
    subs = tmp_path / "subs"
    subs.mkdir()
    source = ("import torch\n\ndef training_recipe(model, steps_per_epoch):\n"
              "    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-2)\n"
              "    return opt, torch.optim.lr_scheduler.OneCycleLR(opt, 1e-2, total_steps=15 * steps_per_epoch), 15\n")
    nbformat.write(new_notebook(cells=[new_code_cell(source)]), subs / "good.ipynb")
    nbformat.write(new_notebook(cells=[new_code_cell(source.replace("15 * steps", "1 * steps").replace(", 15\n",
                                                                                                       ", 1\n"))]),
                   subs / "short.ipynb")
    limits = Limits(cell_timeout=60, exercise_timeout=60, notebook_timeout=180, memory_bytes=3 * 2**30)
    results = {r.student: r for r in grade(subs, limits=limits, exercises=["training_recipe"])}
    assert results["good"].status == "ok" and results["good"].total == results["good"].max == 3, \
        results["good"].cases
    assert results["short"].total < 3
