"""Grade a folder of submissions: the parent side of ``adamcourse grade``.

For each student (``SUBMISSIONS/<id>/<one>.ipynb`` or ``SUBMISSIONS/<id>.ipynb``) this writes a job folder
(``job.json``, ``cases.pkl``, ``inputs/<exercise>/<i>.npz``), runs ``python -m adamcourse.grading.runner``
in a new session with a scrubbed environment, and kills the whole process group at the notebook time limit
(``os.killpg``: grandchildren left running die too). The child applies the memory, CPU-time and file-size
limits to itself before it reads the notebook. Outputs come back as float64 ``.npy`` files read with
``allow_pickle=False`` and are judged here, in the parent, by each case's ``judge``.

A crash, a kill or a broken notebook never stops the batch: the exercises without an output score zero and
the student's ``status`` says why (``killed: timeout``, ``crashed: signal 11``, ``invalid notebook: ...``).
This is not a security sandbox: run untrusted code in a container or VM (see the README).
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .runner import STUCK_EXIT
from .spec import EXERCISES, Case, CaseResult, load_hidden

ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the adamcourse package


@dataclass
class Limits:
    cell_timeout: float = 60.0          # seconds per notebook cell
    exercise_timeout: float = 30.0      # seconds for all the cases of one exercise
    notebook_timeout: float = 600.0     # wall-clock seconds for the whole child (then os.killpg)
    memory_bytes: int = 2 * 2**30       # RLIMIT_AS of the child
    file_bytes: int = 64 * 2**20        # RLIMIT_FSIZE of the child
    output_chars: int = 20_000          # stdout/stderr kept per cell or call


@dataclass
class Submission:
    student: str
    notebook: Path | None
    problem: str | None = None          # why there is nothing to run


@dataclass
class StudentResult:
    student: str
    notebook: str | None
    status: str
    runtime_s: float
    flags: list[str] = field(default_factory=list)
    cell_errors: list[dict] = field(default_factory=list)
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(c.points for c in self.cases)

    @property
    def max(self) -> float:
        return sum(c.max_points for c in self.cases)

    def points(self, exercise: str) -> float:
        return sum(c.points for c in self.cases if c.exercise == exercise)


# --- discovery and planning --------------------------------------------------------------------------------

def _notebooks_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def discover(folder: str | Path) -> list[Submission]:
    """One submission per sub-folder (holding one notebook) or per ``.ipynb`` file directly in ``folder``; the
    student id is the folder name or the file stem. A folder holding a single notebook itself counts as one
    student (Gradescope's ``/autograder/submission``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist or is not a folder")
    subs: list[Submission] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        if entry.is_dir():
            found = _notebooks_in(entry)
            if len(found) == 1:
                subs.append(Submission(entry.name, found[0]))
            elif not found:
                subs.append(Submission(entry.name, None, "no notebook: the folder holds no .ipynb file"))
            else:
                names = ", ".join(str(p.relative_to(entry)) for p in found)
                subs.append(Submission(entry.name, None, f"several notebooks ({names}): submit exactly one"))
        elif entry.suffix == ".ipynb":
            subs.append(Submission(entry.stem, entry))
    seen: dict[str, int] = {}
    for sub in subs:  # "alice/" and "alice.ipynb" side by side: keep both, distinctly named
        n = seen.get(sub.student, 0)
        seen[sub.student] = n + 1
        if n:
            sub.student = f"{sub.student}-{n + 1}"
    return subs


@dataclass
class Plan:
    """Every case to run, by call id ``"<exercise>/<i>"``, with what the child needs, prepared once."""

    cases: dict[str, Case]
    kinds: dict[str, str]
    inputs: dict[str, bytes]
    cases_pickle: bytes

    @classmethod
    def build(cls, hidden_dir=None, exercises=None) -> Plan:
        hidden = load_hidden(hidden_dir) if hidden_dir else {}
        cases, kinds, inputs = {}, {}, {}
        for name, ex in EXERCISES.items():
            if exercises and name not in exercises:
                continue
            for i, case in enumerate([*ex.cases, *hidden.get(name, [])]):
                cid = f"{name}/{i}"
                cases[cid], kinds[cid] = case, ex.kind
                buf = io.BytesIO()
                np.savez(buf, **{k: np.asarray(v) for k, v in case.inputs().items()})
                inputs[cid] = buf.getvalue()
        return cls(cases, kinds, inputs, pickle.dumps(cases))

    def exercises(self) -> list[str]:
        return list(dict.fromkeys(c.exercise for c in self.cases.values()))


# --- running one child -------------------------------------------------------------------------------------

def _child_env(jobdir: Path, mpl_dir: Path | None) -> dict[str, str]:
    """Only what the runner needs: no tokens, proxies or credentials from the instructor's shell."""
    home = jobdir / "home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(home),
           "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
           "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8",
           # one BLAS thread: under RLIMIT_AS each extra thread's reserved stack and buffers count
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if mpl_dir is not None:
        env["MPLCONFIGDIR"] = str(mpl_dir)
    return env


_live: set[int] = set()  # process groups of running children: killed if the batch itself is interrupted


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _describe_exit(rc: int, timed_out: bool, limits: Limits) -> str | None:
    if timed_out:
        return f"killed: timeout ({limits.notebook_timeout:g} s for the notebook)"
    if rc < 0:
        sig = -rc
        if sig == signal.SIGXCPU:
            return "killed: CPU time limit"
        if sig == signal.SIGKILL:
            return "killed: signal 9 (out of memory?)"
        return f"crashed: signal {sig} ({signal.Signals(sig).name})" if sig in signal.valid_signals() \
            else f"crashed: signal {sig}"
    if rc == STUCK_EXIT:
        return "killed: the code kept running after its time limit (it caught the timeout)"
    if rc != 0:
        return f"crashed: exit code {rc}"
    return None


def run_child(sub: Submission, plan: Plan, limits: Limits, workdir: Path, mpl_dir: Path | None = None) -> dict:
    """Run the child on one notebook; return its status.json (or a stand-in) plus ``outputs`` (call id -> array
    or None), ``status`` and ``runtime_s``."""
    jobdir = Path(tempfile.mkdtemp(prefix="job-", dir=workdir))
    work = jobdir / "work"
    work.mkdir()
    notebook = work / sub.notebook.name
    shutil.copyfile(sub.notebook, notebook)
    for cid, blob in plan.inputs.items():
        target = jobdir / "inputs" / f"{cid}.npz"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
    (jobdir / "cases.pkl").write_bytes(plan.cases_pickle)
    job = {"version": 1, "notebook": str(notebook), "cases": "cases.pkl",
           "calls": [{"id": cid, "exercise": c.exercise, "kind": plan.kinds[cid]} for cid, c in plan.cases.items()],
           "cell_timeout": limits.cell_timeout, "exercise_timeout": limits.exercise_timeout,
           "output_chars": limits.output_chars,
           "limits": {"memory_bytes": limits.memory_bytes, "file_bytes": limits.file_bytes,
                      "cpu_s": int(limits.notebook_timeout) + 5}}
    (jobdir / "job.json").write_text(json.dumps(job))

    start = time.perf_counter()
    timed_out = False
    with open(jobdir / "child.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "adamcourse.grading.runner", str(jobdir)], cwd=work,
                                env=_child_env(jobdir, mpl_dir), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True)
        _live.add(proc.pid)
        try:
            rc = proc.wait(timeout=limits.notebook_timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            rc = proc.wait()
        _kill_group(proc.pid)  # whatever the notebook started and left running
        _live.discard(proc.pid)
    runtime = time.perf_counter() - start

    try:
        status = json.loads((jobdir / "status.json").read_text())
    except (OSError, ValueError):
        status = {"phase": "starting", "notebook_error": None, "flags": [], "cells": [], "calls": {},
                  "current": None, "finished": False}
    exit_problem = _describe_exit(rc, timed_out, limits)
    if exit_problem is None and not status.get("finished"):
        exit_problem = "crashed: the runner stopped before finishing"
    if exit_problem and status.get("phase") in ("starting", "reading") and not timed_out:
        tail = (jobdir / "child.log").read_bytes()[-600:].decode("utf-8", "replace").strip()
        exit_problem += f" before running the notebook{': ' + tail.splitlines()[-1] if tail else ''}"
    outputs = {}
    for cid in plan.cases:
        path = jobdir / "outputs" / f"{cid}.npy"
        try:
            outputs[cid] = np.load(path, allow_pickle=False) if path.is_file() else None
        except Exception:  # a truncated or forged file is no output
            outputs[cid] = None
    shutil.rmtree(jobdir, ignore_errors=True)
    return {**status, "outputs": outputs, "exit_problem": exit_problem, "runtime_s": runtime}


# --- judging -----------------------------------------------------------------------------------------------

def judge_student(sub: Submission, plan: Plan, limits: Limits, workdir: Path,
                  mpl_dir: Path | None = None) -> StudentResult:
    """Run and judge one submission. Never raises for anything the submission does."""
    if sub.notebook is None:
        return StudentResult(sub.student, None, sub.problem or "no notebook", 0.0,
                             cases=[c.result(False, f"not graded: {sub.problem}") for c in plan.cases.values()])
    try:
        child = run_child(sub, plan, limits, workdir, mpl_dir)
    except Exception as e:  # the grader's own failure (disk full, ...): report it on the row, go on
        return StudentResult(sub.student, str(sub.notebook), f"grader error: {type(e).__name__}: {e}", 0.0,
                             cases=[c.result(False, "not graded: grader error") for c in plan.cases.values()])
    problem = child["notebook_error"] or child["exit_problem"]
    current = child.get("current")
    results = []
    for cid, case in plan.cases.items():
        got, call = child["outputs"][cid], child.get("calls", {}).get(cid, {})
        if got is not None and not call.get("error"):
            try:
                results.append(case.judge(got))
            except Exception as e:
                results.append(case.result(False, f"could not judge the output ({type(e).__name__}: {e})"))
        elif call.get("error"):
            error = call["error"]
            if error.startswith("TypeError") and "argument" in error:  # most likely the wrong signature
                error += f"; the grader calls {EXERCISES[case.exercise].signature}"
            results.append(case.error_result(error, call.get("error_tail")))
        elif child["notebook_error"]:
            results.append(case.result(False, f"not graded: {child['notebook_error']}"))
        else:
            during = f" while running {case.exercise}" if current == cid else ""
            results.append(case.result(False, f"no result: {child['exit_problem'] or 'not run'}{during}"))
    status = problem or "ok"
    if current and child["exit_problem"] and not child["notebook_error"]:
        status += f" (during {plan.cases[current].exercise})"
    elif child.get("phase") == "cells" and child["exit_problem"]:
        cell = child.get("current_cell")
        status += f" (in code cell {cell + 1})" if isinstance(cell, int) else " (while running the notebook's cells)"
    return StudentResult(sub.student, str(sub.notebook), status, round(child["runtime_s"], 3),
                         child.get("flags", []), child.get("cells", []), results)


def _mpl_cache(workdir: Path) -> Path | None:
    """A matplotlib config folder for the batch, seeded with the instructor's font cache so that no child
    spends seconds rebuilding it."""
    target = workdir / "mplconfig"
    target.mkdir()
    try:
        import matplotlib

        for f in Path(matplotlib.get_cachedir()).glob("fontlist*.json"):
            shutil.copyfile(f, target / f.name)
    except Exception:  # matplotlib missing or no cache yet: the children build their own
        pass
    return target


def grade(submissions: str | Path, hidden_dir=None, jobs: int = 1, limits: Limits | None = None,
          exercises=None, progress=None, plan: Plan | None = None) -> list[StudentResult]:
    """Grade every submission under ``submissions``; results in discovery order. ``plan`` (from
    :meth:`Plan.build`) replaces ``hidden_dir`` and ``exercises``."""
    limits = limits or Limits()
    subs = discover(submissions)
    plan = plan or Plan.build(hidden_dir, exercises)
    with tempfile.TemporaryDirectory(prefix="adamcourse-grade-") as tmp:
        workdir = Path(tmp)
        mpl_dir = _mpl_cache(workdir)

        def one(sub: Submission) -> StudentResult:
            result = judge_student(sub, plan, limits, workdir, mpl_dir)
            if progress:
                progress(result)
            return result

        try:
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                return list(pool.map(one, subs))
        finally:  # Ctrl-C or a grader bug: leave no child running (they are in their own sessions)
            for pid in list(_live):
                _kill_group(pid)


# --- reports -----------------------------------------------------------------------------------------------

def _status_text(r: StudentResult) -> str:
    return r.status + (f"; flagged: {'; '.join(r.flags)}" if r.flags else "")


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
         "runtime_s": r.runtime_s, "total": r.total, "max": r.max, "cell_errors": r.cell_errors,
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
