"""The book's chapters as graded exercises: each chapter's Exercises section works for the instructor (the
book shows every check passing), for the student (``adamcourse release book/`` gives notebooks that run to the
end, "Run all" going past every unanswered exercise) and for the grader (the chapters themselves score full
marks).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from adamcourse.grading.check import NOT_ANSWERED
from adamcourse.grading.grade import Limits, grade
from adamcourse.grading.release import ANSWER, STUB, release
from adamcourse.grading.spec import EXERCISES

from book_build import ROOT
from sandbox_required import needs_sandbox

BOOK = ROOT / "book"

#: Each chapter's and lab's exercises (by path under book/), in the order its check cells run them.
OWN = {
    "foundations/gradient-descent": ["sgd_momentum_step", "gd_max_lr_answer"],
    "foundations/adagrad": ["adagrad_step", "adagrad_effective_lr_answer"],
    "foundations/rmsprop": ["rmsprop_step", "ema_window_answer", "rmsprop_first_step_answer"],
    "foundations/adam": ["adam_step", "adam_first_step_answer"],
    "practice/claims": ["amsgrad_state_bytes_answer"],
    "practice/failures": ["amsgrad_step", "reddi_adam_end_answer"],
    "practice/why-adam": ["steepest_max_norm_answer"],
    "practice/memory": ["adam8bit_state_bytes_answer"],
    "practice/speed": ["speed_amsgrad_ms_answer"],
    "practice/distributed": ["zero2_gb_per_gpu_answer"],
    "practice/variants": ["adamw_step", "radam_step"],
    "labs/cnn": ["train_step", "device_train_step", "training_recipe"],
    "labs/rnn": ["clip_grad_norm"],
}
_CHECK = re.compile(r"""^check\(["'](\w+)["'], (\w+)\)$""", re.M)
_SUMMARY = re.compile(r"(\d+)/(\d+) public cases passed")


def _checks(nb) -> list[tuple[int, str]]:
    """(cell index, exercise) of every check cell."""
    return [(i, m.group(1)) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for m in _CHECK.finditer(c.source)]


def _text(cell) -> str:
    """The plain text of a cell's outputs (streams and results)."""
    parts = []
    for o in cell.get("outputs", []):
        parts.append(o.get("text", ""))
        parts.append(o.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@pytest.mark.parametrize("chapter", OWN)
def test_each_chapter_checks_its_own_exercises(chapter):
    nb = nbformat.read(BOOK / f"{chapter}.ipynb", as_version=4)
    checks = _checks(nb)
    assert [name for _, name in checks] == OWN[chapter]
    for index, name in checks:
        assert name in EXERCISES
        # the answer is defined in the cell just above its check, which the HTML shows folded
        answer = nb.cells[index - 1]
        assert "# BEGIN SOLUTION" in answer.source and "hide-input" in answer.metadata.get("tags", [])
        # and the task is stated just above that, in a sphinx-exercise directive
        assert nb.cells[index - 2].cell_type == "markdown" and "{exercise}" in nb.cells[index - 2].source


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("released")
    paths = release(BOOK, out)
    return {p.relative_to(out).with_suffix("").as_posix(): p for p in paths}


def test_every_notebook_of_the_book_has_exercises(released):
    """Every notebook under book/ is a chapter or lab with exercises, so the test below runs each of them."""
    assert sorted(released) == sorted(OWN)


@pytest.mark.parametrize("chapter", OWN)
def test_released_chapter_runs_past_its_unanswered_exercises(released, chapter):
    """Executed in a real kernel (ADAMCOURSE_QUICK=1 under ``make test``): no cell raises (a function's stub
    raises only when called; a numeric answer is ``...``), and every check cell says "not answered yet"."""
    from nbclient import NotebookClient

    path = released[chapter]
    nb = nbformat.read(path, as_version=4)
    answers = {name for name in OWN[chapter] if EXERCISES[name].kind == "value"}
    for index, name in _checks(nb):  # the cell above each check holds its stub
        stub = f"{name} = {ANSWER}" if name in answers else STUB
        assert stub in nb.cells[index - 1].source, (name, nb.cells[index - 1].source)
    assert "# BEGIN SOLUTION" not in path.read_text()
    NotebookClient(nb, timeout=300, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = {i: f"{o['ename']}: {o['evalue']}" for i, c in enumerate(nb.cells) for o in c.get("outputs", [])
              if o["output_type"] == "error"}
    assert errors == {}
    checks = _checks(nb)
    assert [name for _, name in checks] == OWN[chapter]
    for index, name in checks:
        text = _text(nb.cells[index])
        summary = _SUMMARY.search(text)
        assert summary and summary.group(1) == "0", (name, text)
        assert int(summary.group(2)) == len(EXERCISES[name].cases)
        assert f"{name} is {NOT_ANSWERED}: 0/" in text  # the summary
        assert text.count(NOT_ANSWERED) == len(EXERCISES[name].cases) + 1, text  # and each case


@needs_sandbox
def test_the_chapters_score_full_marks_on_their_own_exercises(tmp_path):
    """Each instructor chapter, handed in as a submission, earns every public point of its own exercises (the
    grader blocks adamcourse.optim, so the chapters' other cells fail: the exercise cells must not need it)."""
    subs = tmp_path / "subs"
    subs.mkdir()
    for chapter in OWN:
        shutil.copy(BOOK / f"{chapter}.ipynb", subs / f"{Path(chapter).name}.ipynb")
    limits = Limits(cell_timeout=20, exercise_timeout=60, notebook_timeout=240, memory_bytes=3 * 2**30)
    results = {r.student: r for r in grade(subs, jobs=2, limits=limits)}
    assert sorted(results) == sorted(Path(chapter).name for chapter in OWN)
    for chapter, names in OWN.items():
        r = results[Path(chapter).name]
        for name in names:
            max_points = sum(c.points for c in EXERCISES[name].cases)
            assert r.points(name) == max_points, (chapter, name, r.status,
                                                  [c.message for c in r.cases if c.exercise == name])


def test_the_book_shows_every_check_passing(built_book):
    """The HTML (the instructor's notebooks, executed) shows each check's table with all public cases passed."""
    for chapter, names in OWN.items():
        html = (built_book / "book" / f"{chapter}.html").read_text(encoding="utf-8")
        summaries = _SUMMARY.findall(html)
        assert summaries and all(n == total for n, total in summaries), (chapter, summaries)
        assert {int(total) for _, total in summaries} == {len(EXERCISES[n].cases) for n in names}
