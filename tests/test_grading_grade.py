"""Grade the fixture submissions once (tests/fixtures/grading/submissions, hidden cases from instructor/) and
compare every student's row with the golden file tests/fixtures/grading/expected.json.

Regenerate the fixtures with ``python tests/fixtures/grading/make_fixtures.py``; after a deliberate change,
rewrite the golden file with ``UPDATE_GOLDEN=1 pytest tests/test_grading_grade.py`` and review its diff.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from adamcourse.grading.cli import main as cli_main
from adamcourse.grading.grade import Limits, discover, grade, gradescope_json, write_reports

from book_build import ROOT
from sandbox_required import needs_sandbox

pytestmark = needs_sandbox

FIXTURES = ROOT / "tests" / "fixtures" / "grading"
SUBMISSIONS = FIXTURES / "submissions"
GOLDEN = FIXTURES / "expected.json"
HIDDEN = ROOT / "instructor"
LIMITS = Limits(cell_timeout=3, exercise_timeout=3, notebook_timeout=20, memory_bytes=1024 * 2**20)
EXPECTED = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
#: Every exercise's public and hidden cases: 64 step and value cases (radam_step's 8 and the six answers of
#: chapters 5, 6, 8, 9, 10 and 11 among them) + train_step 6 + device_train_step 9 + training_recipe 6 + clip 5.
MAX_POINTS = 90


def _sleepers() -> set[int]:
    """Live ``sleep 1000`` processes (what the child_left_running fixture starts)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", b"1000"]:
                if " Z " not in (proc / "stat").read_text().split(")", 1)[1][:3] + " ":
                    pids.add(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(results by student, report folder, sleepers before, seconds): one graded batch for the module."""
    import time

    before = _sleepers()
    start = time.perf_counter()
    results = grade(SUBMISSIONS, hidden_dir=HIDDEN, jobs=2, limits=LIMITS)
    seconds = time.perf_counter() - start
    out = tmp_path_factory.mktemp("report")
    write_reports(results, out)
    by_student = {r.student: r for r in results}
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps({s: _row(r) for s, r in by_student.items()}, indent=1, sort_keys=True) + "\n")
    return by_student, out, before, seconds


def _row(r) -> dict:
    points = {}
    for c in r.cases:
        points[c.exercise] = points.get(c.exercise, 0) + c.points
    return {"status": r.status, "flags": r.flags, "points": points, "total": r.total}


def test_the_golden_file_covers_every_submission(graded):
    by_student, *_ = graded
    assert sorted(by_student) == sorted(EXPECTED), "run make_fixtures.py / UPDATE_GOLDEN=1 and review"
    assert all(r.max == MAX_POINTS for r in by_student.values())


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_row_matches_the_golden_file(graded, student):
    by_student, *_ = graded
    assert _row(by_student[student]) == EXPECTED[student]


def test_the_batch_is_quick_enough(graded):
    *_, seconds = graded
    assert seconds < 90  # 30 notebooks, two 3 s time limits, on 2 cores: about 20 s measured


def test_outcomes_that_matter(graded):
    r, *_ = graded
    # of MAX_POINTS: the fixture notebooks predate the labs' exercises (26 points, test_grading_{train,recipe,clip}.py),
    # the chapters' gd_max_lr_answer and adagrad_effective_lr_answer (1 point each, tests/test_release_book.py) and
    # the exercises of "Adam in practice" (14 points)
    full, zero = 48, 0
    assert r["reference"].total == full and r["released_stub"].total == zero
    assert r["folder_student"].total == full and r["duplicated_cell"].total == full
    for student in ("toplevel_infinite_loop", "memory_bomb", "sys_exit", "huge_output", "magics_and_shell",
                    "exception_first_cell", "child_left_running"):
        assert r[student].total == full, (student, r[student].status)
    for student in ("loop_in_adam_step", "missing_function", "wrong_signature", "wrong_shape", "nan",
                    "eq_always_true", "imports_reference", "syntax_error"):
        assert r[student].points("adam_step") == 0 and r[student].total == full - 8, student
    for student in ("invalid_json", "not_a_notebook", "empty_file", "empty_notebook", "os_exit", "segfault",
                    "two_notebooks"):
        assert r[student].total == zero, student
    assert r["segfault"].status.startswith("crashed: signal 11")
    assert r["os_exit"].status.startswith("crashed: exit code 1")
    assert r["loop_in_adam_step"].status == "ok"
    stuck = r["bare_except_loop"]  # swallows every TimeLimit: the child gives up 3 s later, earlier results stay
    assert stuck.status.startswith("killed: the code kept running") and stuck.status.endswith("(during adam_step)")
    # public cases run first (4 points of sgd_momentum_step), hidden ones only after every public one: none ran
    assert stuck.points("sgd_momentum_step") == 4 and stuck.points("adam_step") == 0
    assert any("time limit" in e["error"] for e in r["toplevel_infinite_loop"].cell_errors)
    assert any(e["error"] == "MemoryError" for e in r["memory_bomb"].cell_errors)


def test_a_released_notebook_handed_in_as_is_scores_zero_saying_not_answered_yet(graded):
    """The released stub runs without a cell error; each exercise it holds (a function that raises
    NotImplementedError, a value left as ``...``) scores 0 with the feedback "not answered yet"."""
    r, out, *_ = graded
    stub = r["released_stub"]
    assert stub.status == "ok" and stub.cell_errors == [] and stub.total == 0
    code = "".join(c.source for c in nbformat.read(SUBMISSIONS / "released_stub.ipynb", as_version=4).cells)
    held = set(re.findall(r"^def (\w+)\(", code, re.M)) | set(re.findall(r"^(\w+) = \.\.\.", code, re.M))
    assert len(held) == 9  # the fixture's 6 step functions and 3 numeric answers
    cases = [c for c in stub.cases if c.exercise in held]
    assert {c.exercise for c in cases} == held
    for c in cases:
        assert c.points == 0 and f"{c.exercise} is not answered yet" in c.message and c.error_tail is None, c
    feedback = (out / "feedback" / "released_stub.md").read_text()
    assert feedback.count("not answered yet") == sum(not c.hidden for c in cases)  # hidden: by name only


def test_a_known_mistake_gets_partial_credit_and_its_hint(graded):
    r, *_ = graded
    for student in ("no_bias_correction", "patched_allclose"):  # patching numpy in the child changes nothing
        cases = [c for c in r[student].cases if c.exercise == "adam_step" and not c.passed]
        assert r[student].points("adam_step") < 8
        assert cases and all(c.hint == "no bias correction" for c in cases if not c.hidden)
        assert all(c.hint is None for c in cases if c.hidden), "a hidden case says nothing but its result"
    mutated = [c for c in r["mutates_inputs"].cases if c.exercise == "adam_step" and not c.passed]
    assert mutated and all(c.hint == "mutates its inputs" for c in mutated if not c.hidden)


def test_reference_imports_and_escape_hatches_are_flagged(graded):
    r, *_ = graded
    assert r["imports_reference"].flags == ["adam_step uses adamcourse.optim (the reference) (code cell 5)"]
    assert "ModuleNotFoundError" in r["imports_reference"].cell_errors[0]["error"]
    assert any("ctypes" in f for f in r["segfault"].flags)
    assert r["reference"].flags == []


def test_processes_left_running_are_killed(graded):
    *_, before, _ = graded
    assert _sleepers() <= before


def test_scores_csv_and_results_json(graded):
    by_student, out, *_ = graded
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert list(rows[0])[:2] == ["student", "sgd_momentum_step"]
    assert list(rows[0])[-4:] == ["total", "max", "status", "runtime_s"]
    assert {row["student"]: float(row["total"]) for row in rows} == {s: r.total for s, r in by_student.items()}
    report = json.loads((out / "results.json").read_text())
    assert report["version"] == 1
    case = report["students"][0]["cases"][0]
    assert set(case) == {"exercise", "case", "hidden", "points", "max_points", "passed", "message", "hint",
                         "error_tail"}


def test_feedback_shows_hidden_cases_by_name_and_result_only(graded):
    by_student, out, *_ = graded
    r = by_student["no_bias_correction"]
    text = (out / "feedback" / "no_bias_correction.md").read_text()
    assert f"**Score: 40 / {MAX_POINTS}**" in text
    hidden_failed = [c for c in r.cases if c.hidden and not c.passed]
    assert hidden_failed
    public_messages = {line for c in r.cases if not c.hidden for line in c.message.splitlines()}
    for c in hidden_failed:
        assert f"{c.case} (hidden)" in text
        if c.message not in ("passed", "failed") and c.message.splitlines()[0] not in public_messages:
            assert c.message.splitlines()[0] not in text  # the hidden case's numbers stay out
    public_failed = [c for c in r.cases if not c.hidden and not c.passed]
    assert public_failed[0].message.splitlines()[0].replace("|", "\\|") in text
    assert "no bias correction" in text


def test_gradescope_format(graded):
    by_student, *_ = graded
    gs = gradescope_json(by_student["no_bias_correction"])
    assert gs["score"] == 40
    assert {t["visibility"] for t in gs["tests"]} == {"visible", "after_published"}
    hidden = [t for t in gs["tests"] if t["visibility"] == "after_published"]
    assert all(t["output"] in ("passed", "failed") for t in hidden)
    assert sum(t["max_score"] for t in gs["tests"]) == MAX_POINTS


def test_discovery_layouts():
    subs = {s.student: s for s in discover(SUBMISSIONS)}
    assert subs["folder_student"].path == "folder_student/week3.ipynb"
    assert subs["folder_student"].notebook == (SUBMISSIONS / "folder_student" / "week3.ipynb").read_bytes()
    assert subs["two_notebooks"].notebook is None and "several notebooks" in subs["two_notebooks"].problem
    assert "notes" not in subs


def test_cli_grade_writes_gradescope_results_for_one_submission(tmp_path):
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "hw.ipynb").write_bytes((SUBMISSIONS / "no_bias_correction.ipynb").read_bytes())
    out = tmp_path / "results"
    rc = cli_main(["grade", str(sub), "--out", str(out), "--format", "gradescope", "--timeout", "30",
                   "--exercise-timeout", "5"])
    assert rc == 0
    gs = json.loads((out / "results.json").read_text())
    assert gs["score"] == 23  # public cases only: no --tests
    assert all(t["visibility"] == "visible" for t in gs["tests"])
    assert (out / "adamcourse_results.json").exists() and (out / "feedback" / "hw.md").exists()


def test_cli_errors_are_clear(tmp_path, capsys):
    assert cli_main(["grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli_main(["grade", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "no submissions found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["grade"])
    assert cli_main(["validate", "--tests", str(tmp_path / "missing")]) == 2
    assert "cannot load the tests" in capsys.readouterr().err
    (tmp_path / "broken.py").write_text("HIDDEN_CASES = [42]\n")
    assert cli_main(["grade", str(tmp_path), "--out", str(tmp_path / "r"), "--tests", str(tmp_path)]) == 2
    assert "not a Case" in capsys.readouterr().err


def test_validate_passes_with_the_example_hidden_tests():
    """The reference scores full marks and a stub zero on every public and hidden case (console script)."""
    exe = Path(sys.executable).with_name("adamcourse")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "adamcourse.grading.cli"]
    out = subprocess.run([*cmd, "validate", "--tests", str(HIDDEN), "--timeout", "120"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"reference: {MAX_POINTS}/{MAX_POINTS}" in out.stdout and f"stub: 0/{MAX_POINTS}" in out.stdout


def test_validate_fails_when_a_hidden_case_is_wrong(tmp_path):
    (tmp_path / "bad.py").write_text(  # the reference itself rejects lr=nan: validate must say so
        "from adamcourse.grading.spec import StepCase\n"
        "HIDDEN_CASES = [StepCase('adam_step', 'NaN learning rate', hyper={'lr': float('nan')})]\n")
    rc = cli_main(["validate", "--tests", str(tmp_path), "--timeout", "120"])
    assert rc == 1


def test_release_of_the_fixture_instructor_notebook_is_the_committed_stub(tmp_path):
    from adamcourse.grading.release import release

    release(FIXTURES / "instructor.ipynb", tmp_path)
    got = nbformat.read(tmp_path / "instructor.ipynb", as_version=4)
    want = nbformat.read(SUBMISSIONS / "released_stub.ipynb", as_version=4)
    assert [c.source for c in got.cells] == [c.source for c in want.cells]
