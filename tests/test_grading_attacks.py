"""A determined student's attacks on ``adamcourse grade`` (issue 11), graded in one batch next to two honest
students and the released stub: none may gain a point, leak a hidden case or the grader's files, change the
tests or the package, affect another student or outlive the grader, and the batch must finish with one row per
submission.

The attack notebooks are tests/fixtures/grading/attacks/*.ipynb, all but honest_book (``make_attacks.py``
writes them); the
hostile folder entries (symlinks, a FIFO, a 200 MB file, clashing ids) are made here. The grader runs in a
process of its own (as ``adamcourse grade`` does), working in a temporary course folder that holds the
submissions, a copy of the hidden tests, the report folder and the copy of the package it imports, with a
secret in its environment. ``ADAMCOURSE_ATTACKS=name,name`` grades only those attacks (for debugging).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from adamcourse.grading.spec import StepCase, load_hidden

from book_build import ROOT
from sandbox_required import needs_sandbox

pytestmark = needs_sandbox

FIXTURES = ROOT / "tests" / "fixtures" / "grading"
ATTACKS = FIXTURES / "attacks"
MARK = "adamcourse-attack"
SANDBOX = ".adamcourse-attack-sandbox"
SECRET = f"adamcourse-grader-secret-{uuid.uuid4().hex}"
#: Exercises the honest notebooks answer (the fixture's solutions): every case of each must pass.
HONEST_ANSWERS = ("sgd_momentum_step", "adagrad_step", "rmsprop_step", "adam_step", "amsgrad_step", "adamw_step",
                  "ema_window_answer", "adam_first_step_answer", "rmsprop_first_step_answer")
#: Attacks that may score only if they are flagged (the issue asks for a flag that the student cannot erase).
FLAG_OR_NOTHING = {"attack_sys_modules_unblock", "attack_torch_optim_adam"}
HOSTILE = ("dev_zero", "copycat", "fifo", "huge")

GRADER = """
import json, sys
from adamcourse.grading.grade import Limits, grade, write_reports
subs, hidden, out, rows = sys.argv[1:5]
limits = Limits(cell_timeout=8, exercise_timeout=8, notebook_timeout=30, memory_bytes=2 * 2**30)
results = grade(subs, hidden_dir=hidden, jobs=2, limits=limits)
write_reports(results, out + "/report")
write_reports(results, out + "/gradescope", fmt="gradescope")
with open(rows, "w") as f:
    json.dump([{"student": r.student, "status": r.status, "flags": r.flags, "total": r.total,
                "cases": [{"exercise": c.exercise, "case": c.case, "hidden": c.hidden, "points": c.points,
                           "passed": c.passed} for c in r.cases]} for r in results], f)
"""


def _chosen(names: list[str]) -> list[str]:
    """``names``, or those of them that ``ADAMCOURSE_ATTACKS`` lists (without the ``attack_`` prefix)."""
    chosen = os.environ.get("ADAMCOURSE_ATTACKS")
    return [n for n in names if n.removeprefix("attack_") in chosen.split(",")] if chosen else names


def _attack_names() -> list[str]:
    return _chosen(sorted(p.stem for p in ATTACKS.glob("*.ipynb") if p.stem != "honest_book"))


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def _marked_processes(*marks: str) -> dict[int, str]:
    """Live processes whose command line holds an attack's mark or one of ``marks`` (zombies excluded)."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit():
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if any(m in cmd for m in (MARK, *marks)) and state != "Z":
                    found[int(proc.name)] = cmd
        except (OSError, IndexError):
            continue
    return found


def _kill(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _hidden_numbers(hidden_dir: Path) -> set[str]:
    """The hidden step cases' input values as a student's code could print them (repr and 8 digits)."""
    numbers = set()
    for cases in load_hidden(hidden_dir).values():
        for case in cases:
            if not isinstance(case, StepCase):
                continue
            inputs = case.inputs()
            for key in ("theta", "grads", *case.state_names):
                for x in np.ravel(inputs[key]):
                    if abs(x) > 1e-3 and x != round(x):
                        numbers |= {repr(float(x)), f"{x:.8g}"}
    return numbers


def _build_batch(tmp: Path) -> dict:
    """The course folder: submissions (attacks, honest, stub, hostile entries), hidden tests, package copy."""
    (tmp / SANDBOX).write_text("the attack notebooks may write only below this folder\n")
    course, subs = tmp / "course", tmp / "course" / "subs"
    subs.mkdir(parents=True)
    (course / "tmp").mkdir()
    shutil.copytree(ROOT / "adamcourse", tmp / "pkg" / "adamcourse", ignore=shutil.ignore_patterns("__pycache__"))
    hidden = course / "hidden"
    shutil.copytree(ROOT / "instructor", hidden, ignore=shutil.ignore_patterns("__pycache__"))
    with open(hidden / "hidden_cases.py", "a") as f:
        f.write(f"# {SECRET}\n")
    for name in _attack_names():
        shutil.copy(ATTACKS / f"{name}.ipynb", subs)
    shutil.copy(ATTACKS / "honest_book.ipynb", subs)
    (subs / "honest_ref").mkdir()
    shutil.copy(FIXTURES / "submissions" / "reference.ipynb", subs / "honest_ref" / "week3.ipynb")
    shutil.copy(FIXTURES / "submissions" / "released_stub.ipynb", subs)
    hostile = _chosen([*HOSTILE, "alice"])
    if "dev_zero" in hostile:
        (subs / "dev_zero.ipynb").symlink_to("/dev/zero")
    if "copycat" in hostile:
        (subs / "copycat.ipynb").symlink_to(subs / "honest_book.ipynb")
    if "fifo" in hostile:
        os.mkfifo(subs / "fifo.ipynb")
    if "huge" in hostile:
        with open(subs / "huge.ipynb", "wb") as f:
            f.truncate(200 * 2**20)  # sparse: no disk used
    if "alice" in hostile:
        (subs / "alice").mkdir()
        for path in (subs / "alice" / "hw.ipynb", subs / "alice.ipynb", subs / "alice-2.ipynb"):
            shutil.copy(FIXTURES / "submissions" / "released_stub.ipynb", path)
    return {"course": course, "subs": subs, "hidden": hidden, "entries": len(list(subs.iterdir()))}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacks")
    b = _build_batch(tmp)
    course = b["course"]
    package = _hashes(tmp / "pkg" / "adamcourse" / "grading")
    real_package = _hashes(ROOT / "adamcourse" / "grading")
    tests = (b["hidden"] / "hidden_cases.py").read_bytes()
    subs_before = {p.name: p.read_bytes() for p in b["subs"].glob("*.ipynb") if p.name.startswith("honest")}
    course_before = {p for p in course.rglob("*") if "tmp" not in p.relative_to(course).parts}
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.setblocking(False)
    before = set(_marked_processes())
    env = {**os.environ, "PYTHONPATH": str(tmp / "pkg"), "TMPDIR": str(course / "tmp"),
           "ADAMCOURSE_GRADER_SECRET": SECRET}
    verdict = tmp / "verdict"
    verdict.mkdir()
    start = time.perf_counter()
    with open(verdict / "grader.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", GRADER, str(b["subs"]), str(b["hidden"]), str(course),
                                 str(verdict / "rows.json")], cwd=course, env=env, stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL)
        try:
            rc = proc.wait(timeout=150)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    seconds = time.perf_counter() - start
    left = {pid: cmd for pid, cmd in _marked_processes(str(tmp)).items() if pid not in before}
    reports = {name: _hashes(course / name) for name in ("report", "gradescope")}
    time.sleep(2)
    reports_later = {name: _hashes(course / name) for name in ("report", "gradescope")}
    accepted = 0
    while True:
        try:
            listener.accept()[0].close()
            accepted += 1
        except OSError:
            break
    listener.close()
    rows = json.loads((verdict / "rows.json").read_text()) if (verdict / "rows.json").exists() else None
    yield {**b, "rc": rc, "seconds": seconds, "log": (verdict / "grader.log").read_text(errors="replace")[-3000:],
           "rows": rows, "left": left, "reports": reports, "reports_later": reports_later, "accepted": accepted,
           "package": (package, _hashes(tmp / "pkg" / "adamcourse" / "grading")),
           "real_package": (real_package, _hashes(ROOT / "adamcourse" / "grading")),
           "tests": (tests, (b["hidden"] / "hidden_cases.py").read_bytes()), "subs_before": subs_before,
           "new_files": sorted(str(p) for p in course.rglob("*") if p not in course_before
                               and not {"tmp", "report", "gradescope"} & set(p.relative_to(course).parts))}
    _kill(set(_marked_processes(str(tmp))) - before)  # whatever outlived the grader (started by this test)


def _rows(batch) -> dict[str, dict]:
    assert batch["rc"] == 0 and batch["rows"] is not None, f"the grader did not finish:\n{batch['log']}"
    return {r["student"]: r for r in batch["rows"]}


def _points(row: dict) -> dict[str, float]:
    points: dict[str, float] = {}
    for c in row["cases"]:
        points[c["exercise"]] = points.get(c["exercise"], 0.0) + c["points"]
    return points


def test_the_grader_finishes_quickly_with_one_row_per_submission(batch):
    rows = _rows(batch)
    assert batch["seconds"] < 150
    assert len(batch["rows"]) == batch["entries"] == len(rows), sorted(rows)  # unique ids, one row each
    if "alice" in _chosen(["alice"]):  # alice/, alice.ipynb and alice-2.ipynb: three rows
        assert len({r for r in rows if r.startswith("alice")}) == 3, sorted(rows)
    feedback = {p.stem for p in (batch["course"] / "report" / "feedback").glob("*.md")}
    assert feedback == set(rows)


def test_honest_students_get_full_marks_and_no_flags(batch):
    rows = _rows(batch)
    for student in ("honest_book", "honest_ref"):
        row = rows[student]
        cases = [c for c in row["cases"] if c["exercise"] in HONEST_ANSWERS]
        assert len({c["exercise"] for c in cases}) == len(HONEST_ANSWERS)
        assert all(c["passed"] for c in cases), (student, row["status"], [c for c in cases if not c["passed"]])
        assert row["flags"] == [], (student, row["flags"])
    for name, data in batch["subs_before"].items():  # no attack blanked them
        assert (batch["subs"] / name).read_bytes() == data, name


@pytest.mark.parametrize("student", [*_attack_names(), *_chosen([*HOSTILE, "alice"])])
def test_no_attack_gains_a_point(batch, student):
    rows = _rows(batch)
    stub = _points(rows["released_stub"])
    for sid in [s for s in rows if s == student or student == "alice" and s.startswith("alice")]:
        got = _points(rows[sid])
        gained = {e: p for e, p in got.items() if p > stub.get(e, 0.0)}
        if sid in FLAG_OR_NOTHING and gained:
            assert rows[sid]["flags"], (sid, gained, rows[sid]["status"])
        else:
            assert not gained, (sid, gained, rows[sid]["status"], rows[sid]["flags"])


#: The expected row of every attack (its total and whether it is flagged): the two that copy the reference
#: into adam_step earn its 8 points and a flag; every other attack earns nothing. The hostile folder entries get
#: a status that says why they were refused.
EXPECTED_ROWS = {**{name: (0.0, None) for name in _attack_names()},
                 "attack_sys_modules_unblock": (8.0, True), "attack_torch_optim_adam": (8.0, True)}
REFUSED = {"dev_zero": "symbolic link", "copycat": "symbolic link", "fifo": "FIFO", "huge": "MB"}


@pytest.mark.parametrize("student", _attack_names())
def test_each_attack_gets_its_expected_row(batch, student):
    row = _rows(batch)[student]
    total, flagged = EXPECTED_ROWS[student]
    assert sum(_points(row).values()) == total, (student, row["status"])
    if flagged is not None:
        assert bool(row["flags"]) == flagged, (student, row["flags"])
    if student == "attack_protocol_garbage":
        assert "broke the grading protocol" in row["status"], row["status"]


@pytest.mark.parametrize("entry", _chosen(list(REFUSED)))
def test_hostile_entries_are_refused_with_a_reason(batch, entry):
    row = _rows(batch)[entry]
    assert sum(_points(row).values()) == 0 and REFUSED[entry].lower() in row["status"].lower(), row["status"]


def test_no_feedback_leaks_hidden_inputs_or_the_graders_files(batch):
    numbers = _hidden_numbers(batch["hidden"])
    assert len(numbers) > 100
    course = batch["course"]
    texts = {p.name: p.read_text(errors="replace") for p in [*(course / "report" / "feedback").glob("*.md"),
                                                            *(course / "gradescope" / "gradescope").glob("*.json")]}
    for name, text in texts.items():
        leaked = sorted(n for n in numbers if n in text)
        assert not leaked, (name, leaked[:5])
        assert SECRET not in text and "HIDDEN_CASES" not in text, name
        assert "ATTACK-OK" not in text, (name, text[text.index("ATTACK-OK"):][:300])
    assert batch["accepted"] == 0  # no attack reached the test's loopback listener


def test_the_tests_and_the_package_are_unchanged(batch):
    before, after = batch["tests"]
    assert after == before
    for key in ("package", "real_package"):
        before, after = batch[key]
        assert after == before, (key, [k for k in after if after[k] != before.get(k)])


def test_nothing_written_outside_the_scratch_folders(batch):
    assert batch["new_files"] == []


def test_nothing_outlives_the_grader(batch):
    _rows(batch)
    assert batch["left"] == {}, sorted(set(batch["left"].values()))[:5]
    assert batch["reports_later"] == batch["reports"]
