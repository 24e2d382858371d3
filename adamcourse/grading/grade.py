"""Grade a folder of submissions: the grader's side of ``adamcourse grade``.

For each student (``SUBMISSIONS/<id>/<one>.ipynb`` or ``SUBMISSIONS/<id>.ipynb``) the grader reads the
notebook once, flags what its code does (:mod:`.flags`, before any of it runs), starts the student's process
in a sandbox (:mod:`.sandbox`: bubblewrap, its own user, PID and network namespaces, a private scratch
folder, read-only Python, resource limits) and talks to it only through :mod:`.protocol`'s pipes
(:class:`.session.Session`). Every case stays here: the student's process receives one call's plain inputs
at a time and returns plain values, which the case's ``judge`` checks here. Public cases run before hidden
ones, and a hidden case's feedback is its result only.

A crash, a kill, a broken notebook or a broken protocol never stops the batch: the exercises without a result
score zero and the student's ``status`` says why (``killed: timeout``, ``crashed: signal 11``, ``invalid
notebook: ...``). Without bubblewrap, :func:`grade` refuses to run unless ``unsafe=True``
(``--unsafe-no-sandbox``), and every report says that the sandbox was off.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import sandbox
from .check import stub_message
from .flags import flags as scan_flags
from .runner import NotebookError, read_code_cells
from .session import Budget, ChildFailed, Remote, Session, StudentError
from .spec import EXERCISES, Case, CaseError, CaseResult, load_hidden
from .submissions import Submission, discover


@dataclass
class Limits:
    cell_timeout: float = 60.0          # seconds per notebook cell
    exercise_timeout: float = 30.0      # seconds for all the cases of one exercise
    notebook_timeout: float = 600.0     # wall-clock seconds for the whole child (then os.killpg)
    memory_bytes: int = 2 * 2**30       # RLIMIT_AS of the child
    file_bytes: int = 64 * 2**20        # RLIMIT_FSIZE of the child
    output_chars: int = 20_000          # stdout/stderr kept per cell or call
    max_processes: int = 64             # processes and threads of the sandbox's user (a fork bomb stops there)
    scratch_mb: int = 256               # the sandbox's private, writable disk (a tmpfs)
    run_as: str | None = None           # unsafe mode only: the unprivileged user the students' code runs as


@dataclass
class StudentResult:
    student: str
    notebook: str | None
    status: str
    runtime_s: float
    flags: list[str] = field(default_factory=list)
    cell_errors: list[dict] = field(default_factory=list)
    cases: list[CaseResult] = field(default_factory=list)
    sandbox: str = "bubblewrap"         # or "none (--unsafe-no-sandbox)": every report says which

    @property
    def total(self) -> float:
        return sum(c.points for c in self.cases)

    @property
    def max(self) -> float:
        return sum(c.max_points for c in self.cases)

    def points(self, exercise: str) -> float:
        return sum(c.points for c in self.cases if c.exercise == exercise)


# --- discovery and planning --------------------------------------------------------------------------------

@dataclass
class Plan:
    """Every case to run, in the order they run: all public cases (exercise by exercise), then all hidden ones,
    so that nothing the student's code learns from a hidden call can reach the public feedback."""

    cases: list[Case]

    @classmethod
    def build(cls, hidden_dir=None, exercises=None) -> Plan:
        hidden = load_hidden(hidden_dir) if hidden_dir else {}
        chosen = [name for name in EXERCISES if not exercises or name in exercises]
        public = [case for name in chosen for case in EXERCISES[name].cases]
        return cls(public + [case for name in chosen for case in hidden.get(name, [])])

    def exercises(self) -> list[str]:
        return list(dict.fromkeys(c.exercise for c in self.cases))


# --- running and judging one student --------------------------------------------------------------------------

_SLOTS = itertools.count()   # a different sandbox uid for each concurrent job


def _hidden_view(result: CaseResult, said: str | None = None) -> CaseResult:
    """A hidden case's result with nothing the student's code produced: its points, pass or fail, and
    ``said``, what the grader itself knows of the failure ("not answered yet", a time limit, a missing name,
    a dead process), never an error message, a traceback, a hint or a number from the student's side."""
    message = "passed" if result.passed else (said or "failed")
    return dataclasses.replace(result, message=message, hint=None, error_tail=None)


def _grader_words(answer: dict, result: CaseResult) -> str:
    """What the grader itself can say of a failed hidden call: its own message (``result``'s, from
    :func:`_failed_call`) for an unanswered, timed-out or missing exercise, never the student's error text."""
    if answer.get("stub") or answer.get("timeout") or answer.get("missing"):
        return result.message
    return "failed: the code raised an error"


def _failed_call(case: Case, error: StudentError, limits: Limits) -> CaseResult:
    answer = error.answer
    if answer.get("stub"):
        return case.error_result(stub_message(case.exercise, placeholder=bool(answer.get("placeholder"))))
    if answer.get("timeout"):
        return case.error_result(f"time limit of {limits.exercise_timeout:g} s for {case.exercise} exceeded")
    if answer.get("missing"):
        return case.error_result(f"{getattr(case, 'variable', '') or case.exercise} is not defined in the notebook")
    message = str(answer.get("error", "raised an error"))[:1000]
    if answer.get("case_error"):
        return case.error_result(message)
    if message.startswith("TypeError") and "argument" in message:  # most likely the wrong signature
        message += f"; the grader calls {EXERCISES[case.exercise].signature}"
    return case.error_result(message, str(answer.get("tail") or "")[:2000] or None)


def run_case(case: Case, session: Session, budget: Budget) -> np.ndarray:
    """What the student's code gives for ``case``, as the float64 array the case judges. The case stays here:
    the student's process receives only the plain inputs of each call."""
    kind = EXERCISES[case.exercise].kind
    name = getattr(case, "variable", "") or case.exercise
    if kind == "value":
        answer = budget.spend(session.call, {"op": "value", "name": name})
        return case.run(answer.get("value"))
    driver = getattr(case, "driver", None)
    if driver is None:
        return case.run(Remote(session, name, budget), case.inputs())
    answer = budget.spend(session.call, {"op": "drive", "driver": driver, "name": name, "params": case.params(),
                                         "inputs": case.inputs(), "modules": list(getattr(case, "modules", ()))})
    if driver == "recipe":  # trained here, in a fresh process that no student code touched
        return _train_recipe(case, answer.get("value"))
    return np.asarray(answer.get("value"), dtype=np.float64)


def _train_recipe(case, recipe) -> np.ndarray:
    if not isinstance(recipe, dict):
        raise CaseError("the recipe could not be read")
    job = json.dumps({"recipe": recipe, "seed": case.seed, "batch_size": case.batch_size})
    done = subprocess.run([sys.executable, "-m", "adamcourse.grading.harness"], input=job, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "ADAMCOURSE_PROGRESS": "0"})
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        raise CaseError(f"the recipe could not be trained ({done.stderr.strip().splitlines()[-1:]})") from None
    if not answer.get("ok"):
        raise CaseError(f"the recipe cannot be trained: {answer.get('error')}")
    return np.asarray(answer["value"], dtype=np.float64)


def judge_student(sub: Submission, plan: Plan, limits: Limits, unsafe: bool = False) -> StudentResult:
    """Run and judge one submission. Never raises: whatever happens is this student's status."""
    if sub.notebook is None:
        return StudentResult(sub.student, sub.path or sub.entry, sub.problem or "no notebook", 0.0,
                             cases=[c.result(False, f"not graded: {sub.problem}") for c in plan.cases])
    start = time.perf_counter()
    try:
        result = _judge(sub, plan, limits, unsafe)
    except Exception as e:  # the grader's own failure (disk full, ...): this student's row says so
        result = StudentResult(sub.student, sub.path, f"grader error: {type(e).__name__}: {e}", 0.0,
                               cases=[c.result(False, "not graded: grader error") for c in plan.cases])
    result.runtime_s = round(time.perf_counter() - start, 3)
    return result


def _judge(sub: Submission, plan: Plan, limits: Limits, unsafe: bool) -> StudentResult:
    try:
        cells = read_code_cells(sub.notebook)
    except (NotebookError, OSError) as e:
        problem = str(e) if isinstance(e, NotebookError) else f"cannot read the notebook: {e}"
        return StudentResult(sub.student, sub.path, problem, 0.0,
                             cases=[c.result(False, f"not graded: {problem}") for c in plan.cases])
    flags = scan_flags(cells, plan.exercises())
    session = Session(limits, unsafe=unsafe, slot=next(_SLOTS) % 1000)
    results, status, cell_errors = [], "ok", []
    try:
        try:
            cell_errors = session.start(cells)
        except ChildFailed as e:
            cell = session.current_cell
            status = f"{e} (in code cell {cell + 1})" if cell is not None else f"{e} (while starting the notebook)"
        budgets: dict[str, Budget] = {}
        for case in plan.cases:
            if session.failure:
                results.append(case.result(False, f"no result: {session.failure}"))   # the grader's words
                continue
            budget = budgets.setdefault(case.exercise, Budget(limits.exercise_timeout))
            said = None
            try:
                with np.errstate(all="ignore"):
                    got = run_case(case, session, budget)
                result = case.judge(got)
            except StudentError as e:
                result = _failed_call(case, e, limits)
                said = _grader_words(e.answer, result)
            except ChildFailed as e:
                status = f"{e} (during {case.exercise})"
                result = case.result(False, f"no result: {e}")
                said = result.message
            except CaseError as e:
                result = case.error_result(str(e)[:1000])
            except Exception as e:  # a value the case could not use: the student's result, not a grader crash
                result = case.result(False, f"could not judge the output ({type(e).__name__}: {str(e)[:200]})")
            results.append(_hidden_view(result, said) if case.hidden else result)
    finally:
        session.close()
    return StudentResult(sub.student, sub.path, status, 0.0, flags, cell_errors, results,
                         sandbox="none (--unsafe-no-sandbox)" if unsafe else "bubblewrap")


class SandboxMissing(RuntimeError):
    """bubblewrap is not there and ``unsafe`` was not asked for."""


def grade(submissions: str | Path, hidden_dir=None, jobs: int = 1, limits: Limits | None = None,
          exercises=None, progress=None, plan: Plan | None = None, unsafe: bool = False) -> list[StudentResult]:
    """Grade every submission under ``submissions``; results in discovery order. ``plan`` (from
    :meth:`Plan.build`) replaces ``hidden_dir`` and ``exercises``. Without bubblewrap this raises
    :class:`SandboxMissing` unless ``unsafe=True`` (the student's code then runs unconfined, under resource
    limits only)."""
    if not unsafe and sandbox.available() is None:
        raise SandboxMissing("bubblewrap (`bwrap`) is not installed or cannot create namespaces here, so the "
                             "students' code cannot be sandboxed. Install it (Debian/Ubuntu: apt-get install "
                             "bubblewrap), or pass --unsafe-no-sandbox to grade without a sandbox.")
    limits = limits or Limits()
    subs = discover(submissions)
    plan = plan or Plan.build(hidden_dir, exercises)

    def one(sub: Submission) -> StudentResult:
        result = judge_student(sub, plan, limits, unsafe)
        if progress:
            progress(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, subs))


# --- reports -----------------------------------------------------------------------------------------------

def _status_text(r: StudentResult) -> str:
    return (r.status + (f"; flagged: {'; '.join(r.flags)}" if r.flags else "")
            + ("" if r.sandbox == "bubblewrap" else f"; sandbox: {r.sandbox}"))


def _num(x: float) -> str:
    return f"{x:g}"


def write_reports(results: list[StudentResult], out: str | Path, fmt: str = "csv") -> list[Path]:
    """``scores.csv``, ``results.json`` and ``feedback/<student>.md`` under ``out``; with ``fmt="gradescope"``
    also Gradescope's results format (see :func:`gradescope_json`). Returns the files written."""
    out = Path(out)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    exercises = list(dict.fromkeys(c.exercise for r in results for c in r.cases))
    written = []

    path = out / "scores.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", *exercises, "total", "max", "status", "runtime_s"])
        for r in results:
            w.writerow([r.student, *(_num(r.points(e)) for e in exercises), _num(r.total), _num(r.max),
                        _status_text(r), f"{r.runtime_s:.2f}"])
    written.append(path)

    report = {"version": 1, "students": [
        {"student": r.student, "notebook": r.notebook, "status": r.status, "flags": r.flags,
         "runtime_s": r.runtime_s, "sandbox": r.sandbox, "total": r.total, "max": r.max, "cell_errors": r.cell_errors,
         "cases": [asdict(c) for c in r.cases]} for r in results]}
    path = out / ("adamcourse_results.json" if fmt == "gradescope" else "results.json")
    path.write_text(json.dumps(report, indent=1))
    written.append(path)

    for r in results:
        path = out / "feedback" / f"{r.student}.md"
        path.write_text(feedback_markdown(r))
        written.append(path)

    if fmt == "gradescope":
        if len(results) == 1:
            path = out / "results.json"
            path.write_text(json.dumps(gradescope_json(results[0]), indent=1))
            written.append(path)
        else:
            (out / "gradescope").mkdir(exist_ok=True)
            for r in results:
                path = out / "gradescope" / f"{r.student}.json"
                path.write_text(json.dumps(gradescope_json(r), indent=1))
                written.append(path)
    return written


def _public_text(c: CaseResult) -> str:
    text = c.message + (f"\nHint: this looks like a known mistake: {c.hint}." if c.hint else "")
    if c.error_tail:
        text += "\n" + c.error_tail
    return text


def gradescope_json(r: StudentResult) -> dict:
    """Gradescope's ``results.json`` for one student: public cases ``visible``, hidden ``after_published``;
    a hidden case's output is its result only."""
    tests = []
    for c in r.cases:
        tests.append({"name": f"{c.exercise}: {c.case}" + (" (hidden)" if c.hidden else ""),
                      "score": c.points, "max_score": c.max_points,
                      "output": ("passed" if c.passed else "failed") if c.hidden else _public_text(c),
                      "visibility": "after_published" if c.hidden else "visible"})
    return {"score": r.total, "output": f"Status: {_status_text(r)}", "tests": tests}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def feedback_markdown(r: StudentResult) -> str:
    """The student's feedback: public cases in full, hidden cases by name and result only."""
    lines = [f"# Feedback for {r.student}", "", f"**Score: {_num(r.total)} / {_num(r.max)}**", "",
             f"Status: {_status_text(r)}", ""]
    if r.cell_errors:
        lines += ["## Cells that raised", ""]
        for e in r.cell_errors:
            lines += [f"- code cell {e['cell'] + 1}: {e['error']}"]
        lines.append("")
    for exercise in dict.fromkeys(c.exercise for c in r.cases):
        cases = [c for c in r.cases if c.exercise == exercise]
        lines += [f"## {exercise}: {_num(sum(c.points for c in cases))} / {_num(sum(c.max_points for c in cases))}",
                  "", "| case | result | points | details |", "|---|---|---|---|"]
        for c in cases:
            result = "passed" if c.passed else "failed"
            details = "hidden case" if c.hidden else _cell(c.message + (f" Hint: {c.hint}." if c.hint else ""))
            name = c.case + (" (hidden)" if c.hidden else "")
            lines.append(f"| {_cell(name)} | {result} | {_num(c.points)} / {_num(c.max_points)} | {details} |")
        tails = [c for c in cases if c.error_tail and not c.hidden and not c.passed]
        if tails:
            lines += ["", "```", tails[0].error_tail, "```"]
        lines.append("")
    return "\n".join(lines)
