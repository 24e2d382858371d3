"""The child process of grading: ``python -m adamcourse.grading.runner JOBDIR``.

The parent (:mod:`adamcourse.grading.grade`) writes ``JOBDIR/job.json``, ``JOBDIR/cases.pkl`` (the Case objects,
by call id; never expected values) and ``JOBDIR/inputs/<id>.npz``. This process

1. applies the resource limits in ``job.json`` (address space, CPU seconds, file size) before anything else;
2. reads the notebook with nbformat (invalid JSON, not a notebook, no code: ``notebook_error`` in the status);
3. scans its code for imports of the reference and escape hatches (``flags``: deterrence, not a sandbox);
4. blocks ``adamcourse.optim`` (``sys.modules[...] = None``), then runs every code cell in one namespace, each
   in ``try/except BaseException`` under a per-cell time limit, with stdout/stderr in a capped buffer. Magics
   go through IPython's ``TransformerManager``; ``!shell`` lines and ``%%bash``-style cells are dropped;
5. for each call, looks the exercise up by name (the last definition wins), imports the modules the case
   names in ``case.modules`` (torch for a TrainCase) untimed, runs ``case.run(fn, inputs)``
   under the exercise's time budget and saves the float64 result to ``JOBDIR/outputs/<id>.npy``.

``JOBDIR/status.json`` is rewritten after every step, so a parent that finds this process killed or crashed
still knows how far it got. Nothing here judges: the parent compares the outputs.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import os
import pickle
import re
import signal
import sys
import time
import traceback
from pathlib import Path

#: Modules student code may not import while graded (the reference answers). Deterrence only: the reference
#: is public in the book, and a determined student can undo anything done in-process.
BLOCKED_MODULES = ("adamcourse.optim", "adamcourse.grading.references", "adamcourse.grading.mistakes")
#: Cell magics whose body is shell code: the whole cell is dropped.
SHELL_CELL_MAGICS = {"bash", "sh", "script", "system", "!", "perl", "ruby", "html", "javascript", "js", "svg",
                     "latex", "markdown", "writefile"}
#: Line magics that do nothing when grading.
NOOP_MAGICS = {"matplotlib", "load_ext", "reload_ext", "unload_ext", "autoreload", "aimport", "config", "pip",
               "conda", "precision", "env", "who", "whos", "lsmagic", "pwd", "cd", "ls", "pylab", "xmode",
               "pdb", "debug", "history", "reset", "store", "colors", "automagic", "autocall", "magic"}
TIMING_MAGICS = {"time", "timeit", "prun", "capture"}


_GRADING_DIR = os.path.dirname(os.path.abspath(__file__))


class TimeLimit(BaseException):
    """Raised by the alarm when a cell or an exercise runs past its limit (a BaseException, so that a student's
    ``except Exception`` does not swallow it; the alarm repeats until it gets out)."""


class NotebookError(Exception):
    """The file cannot be graded as a notebook."""


# --- limits --------------------------------------------------------------------------------------------------

#: Exit status when code keeps running after its limit (it caught TimeLimit again and again): the parent
#: reports "killed: ... ignored its time limit" instead of waiting for the notebook timeout.
STUCK_EXIT = 86
STUCK_FIRINGS = 15          # 3 s of repeats, 0.2 s apart, after the limit
_armed = False
_fired = 0
_on_stuck = None


def _on_alarm(signum, frame):
    global _fired
    if not _armed:
        return
    _fired += 1
    if _fired > STUCK_FIRINGS and _on_stuck is not None:
        _on_stuck()
    raise TimeLimit


def limited(seconds: float, fn, *args):
    """``fn(*args)`` under a wall-clock limit; raises :class:`TimeLimit`. The timer re-fires every 0.2 s until the
    exception escapes even a bare ``except:`` in a student's loop."""
    global _armed, _fired
    signal.signal(signal.SIGALRM, _on_alarm)
    _armed, _fired = True, 0
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001), 0.2)
    try:
        return fn(*args)
    finally:
        _armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)


def apply_rlimits(limits: dict) -> None:
    """Soft and hard limits for this process and its children: ``memory_bytes`` (RLIMIT_AS), ``cpu_s``
    (RLIMIT_CPU), ``file_bytes`` (RLIMIT_FSIZE; a write past it fails with OSError instead of killing us)."""
    import resource

    for key, res in (("memory_bytes", resource.RLIMIT_AS), ("cpu_s", resource.RLIMIT_CPU),
                     ("file_bytes", resource.RLIMIT_FSIZE)):
        value = limits.get(key)
        if value:
            hard = resource.getrlimit(res)[1]
            value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
            resource.setrlimit(res, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


# --- output capture ------------------------------------------------------------------------------------------

class CappedText(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters and only counts the rest."""

    def __init__(self, limit: int):
        self.limit, self.parts, self.kept, self.total = limit, [], 0, 0

    def writable(self) -> bool:
        return True

    def write(self, s) -> int:
        s = str(s)
        self.total += len(s)
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(s[:room])
            self.kept += min(room, len(s))
        return len(s)

    def text(self) -> str:
        more = self.total - self.kept
        return "".join(self.parts) + (f"\n[... {more} more characters not kept]" if more > 0 else "")


# --- reading and preparing the notebook ----------------------------------------------------------------------

def read_code_cells(path: str | Path) -> list[str]:
    """The code cells' sources, in order. Raises :class:`NotebookError` with a one-line reason."""
    import nbformat

    path = Path(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise NotebookError("empty notebook: the file is empty")
    try:
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as e:
        raise NotebookError(f"invalid notebook: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
        raise NotebookError("invalid notebook: valid JSON but not a Jupyter notebook (no 'cells' list)")
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as e:  # nbformat raises several types on malformed notebooks
        raise NotebookError(f"invalid notebook: {type(e).__name__}: {str(e)[:200]}") from None
    cells = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            cells.append("".join(src) if isinstance(src, list) else str(src))
    if not any(c.strip() for c in cells):
        raise NotebookError("empty notebook: no code cells")
    return cells


def prepare(source: str, transformer=None) -> str | None:
    """Python source for one cell: ``!`` lines become ``pass``, shell cell magics drop the cell (None), and
    IPython's TransformerManager rewrites the remaining magics into ``get_ipython()`` calls."""
    first = source.lstrip().split("\n", 1)[0]
    if first.startswith("%%"):
        name = first[2:].split(" ", 1)[0].strip()
        if name in SHELL_CELL_MAGICS:
            return None
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append(line[: len(line) - len(stripped)] + "pass" if stripped.startswith("!") else line)
    source = "\n".join(lines) + "\n"
    if transformer is None:
        from IPython.core.inputtransformer2 import TransformerManager

        transformer = TransformerManager()
    try:
        return transformer.transform_cell(source)
    except Exception:  # the transformer chokes on some invalid code; let compile() report it
        return source


def scan(sources: list[str | None]) -> list[str]:
    """Flags for code that imports the reference or reaches for escape hatches (reported, not enforced)."""
    flags: list[str] = []

    def flag(msg: str, k: int) -> None:
        text = f"{msg} (code cell {k + 1})"
        if text not in flags:
            flags.append(text)

    for k, src in enumerate(sources):
        if not src:
            continue
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                if name == "adamcourse.optim" or name.startswith("adamcourse.optim.") or \
                        name.startswith(("adamcourse.grading.references", "adamcourse.grading.mistakes")):
                    flag(f"imports {name.split('.', 2)[0]}.{name.split('.')[1]} (the reference)"
                         if name.startswith("adamcourse.optim") else f"imports {name}", k)
                elif name.split(".")[0] in ("importlib", "ctypes"):
                    flag(f"imports {name.split('.')[0]}", k)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id in ("exec", "eval", "__import__"):
                flag(f"calls {node.func.id}()", k)
            if isinstance(node, ast.Attribute) and node.attr == "modules" and \
                    isinstance(node.value, ast.Name) and node.value.id == "sys":
                flag("uses sys.modules", k)
    return flags


# --- the IPython stand-in ------------------------------------------------------------------------------------

class GradingShell:
    """What ``get_ipython()`` returns while grading: enough for ``%time``, ``%%capture``, ``%matplotlib`` and
    friends. Unknown magics raise, as IPython does."""

    def __init__(self, ns: dict):
        self.user_ns = ns

    def _run(self, code: str) -> None:
        exec(compile(code, "<magic>", "exec"), self.user_ns)

    def run_line_magic(self, name, line, _stack_depth=1):
        if name in TIMING_MAGICS:
            self._run(re.sub(r"^(\s*-[a-zA-Z]\s*\S*)*\s*", "", line) if name == "timeit" else line)
        elif name not in NOOP_MAGICS:
            raise RuntimeError(f"%{name} is not available when grading")

    def run_cell_magic(self, name, line, cell):
        if name in TIMING_MAGICS:
            self._run(cell)
        elif name not in NOOP_MAGICS:
            raise RuntimeError(f"%%{name} is not available when grading")

    def system(self, cmd):
        return None

    def getoutput(self, cmd, split=True):
        return []

    def run_cell(self, *args, **kwargs):
        raise RuntimeError("run_cell is not available when grading")


def _display(*objs, **kwargs):
    for obj in objs:
        print(repr(obj))


# --- the run ---------------------------------------------------------------------------------------------------

def error_tail(exc: BaseException, limit: int = 2000) -> str:
    """The last lines of a traceback, showing only the student's frames (not the grader's)."""
    if isinstance(exc, TimeLimit):
        return "TimeLimit: ran past its time limit"
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if not f.filename.startswith(_GRADING_DIR)]
        text = "".join(["Traceback (most recent call last):\n", *traceback.format_list(frames),
                        *traceback.format_exception_only(type(exc), exc)])
    except BaseException:
        text = f"{type(exc).__name__}: <unprintable>"
    lines = text.rstrip().splitlines()[-15:]
    return "\n".join(lines)[-limit:]


def one_line(exc: BaseException) -> str:
    if isinstance(exc, TimeLimit):
        return "time limit exceeded"
    try:
        msg = str(exc)
    except BaseException:
        msg = "<unprintable>"
    if type(exc).__name__ == "CaseError":  # already written for the student
        return msg[:1000]
    return f"{type(exc).__name__}: {msg}"[:300] if msg else type(exc).__name__


class Status:
    """``JOBDIR/status.json``, rewritten atomically on every :meth:`save`."""

    def __init__(self, jobdir: Path):
        self.path = jobdir / "status.json"
        self.data = {"version": 1, "phase": "starting", "notebook_error": None, "flags": [], "cells": [],
                     "calls": {}, "current": None, "current_cell": None, "finished": False}

    def save(self, **changes) -> None:
        self.data.update(changes)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        os.replace(tmp, self.path)


def load_inputs(path: Path) -> dict:
    """The npz the parent wrote, as a dict; 0-d arrays become Python scalars (what ``Case.inputs`` returns)."""
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        return {k: (z[k].item() if z[k].ndim == 0 else z[k]) for k in z.files}


def block_reference() -> None:
    for name in BLOCKED_MODULES:
        sys.modules[name] = None  # `import adamcourse.optim` now raises ImportError
    import adamcourse

    for attr in ("optim",):
        if hasattr(adamcourse, attr):
            delattr(adamcourse, attr)
    grading = sys.modules.get("adamcourse.grading")
    for attr in ("references", "mistakes"):
        if grading is not None and hasattr(grading, attr):
            delattr(grading, attr)


def run_job(jobdir: Path) -> int:
    job = json.loads((jobdir / "job.json").read_text())
    apply_rlimits(job.get("limits", {}))
    status = Status(jobdir)
    status.save(phase="reading")
    import numpy as np

    from .check import raised_by_stub, stub_message

    with open(jobdir / job.get("cases", "cases.pkl"), "rb") as f:
        cases = pickle.load(f)  # written by the parent, before any student code ran
    notebook = Path(job["notebook"])
    try:
        cells = read_code_cells(notebook)
    except NotebookError as e:
        status.save(phase="done", notebook_error=str(e), finished=True)
        return 0
    except OSError as e:
        status.save(phase="done", notebook_error=f"cannot read the notebook: {e}", finished=True)
        return 0

    from IPython.core.inputtransformer2 import TransformerManager

    transformer = TransformerManager()
    sources = [prepare(c, transformer) for c in cells]
    status.save(phase="cells", flags=scan(sources))

    cell_limit = float(job.get("cell_timeout", 60))
    exercise_limit = float(job.get("exercise_timeout", 30))
    output_limit = int(job.get("output_chars", 20_000))
    ns = {"__name__": "__main__", "__builtins__": builtins}
    shell = GradingShell(ns)
    ns["get_ipython"] = lambda: shell
    ns["display"] = _display
    real_out, real_err = sys.stdout, sys.stderr

    def stuck():
        status.save(stuck=True)
        os._exit(STUCK_EXIT)

    global _on_stuck
    _on_stuck = stuck
    sys.argv = [notebook.name]
    os.chdir(notebook.parent)
    block_reference()

    cell_log = []
    for k, src in enumerate(sources):
        if src is None or not src.strip():
            continue
        status.save(current_cell=k)  # if the process dies here, the parent can say in which cell
        out = CappedText(output_limit)
        sys.stdout = sys.stderr = out
        start = time.perf_counter()
        error = tail = None
        try:
            code = compile(src, f"<cell {k}>", "exec")
            limited(cell_limit, exec, code, ns)
        except BaseException as e:  # SystemExit and KeyboardInterrupt included: the notebook goes on
            error, tail = (f"time limit of {cell_limit:g} s exceeded" if isinstance(e, TimeLimit) else one_line(e),
                           error_tail(e))
        finally:
            sys.stdout, sys.stderr = real_out, real_err
        if error:
            cell_log.append({"cell": k, "error": error, "error_tail": tail, "seconds": time.perf_counter() - start,
                             "output": out.text()[-1000:]})
            status.save(cells=cell_log)

    status.save(phase="calls", cells=cell_log, current_cell=None)
    out_dir = jobdir / "outputs"
    spent: dict[str, float] = {}
    calls = status.data["calls"]
    for call in job["calls"]:
        cid, exercise = call["id"], call["exercise"]
        status.save(current=cid)
        remaining = exercise_limit - spent.get(exercise, 0.0)
        result = {}
        name = getattr(cases.get(cid), "variable", "") or exercise  # a ValueCase names its variable
        obj = ns.get(name, _MISSING)
        if obj is _MISSING:
            result["error"] = f"{name} is not defined in the notebook"
        elif call.get("kind", "function") == "function" and obj is Ellipsis:
            result["error"] = stub_message(name, placeholder=True)
        elif call.get("kind", "function") == "function" and not callable(obj):
            result["error"] = f"{name} is not a function (it is of type {type(obj).__name__})"
        elif remaining <= 0:
            result["error"] = f"not run: {exercise} used up its time limit of {exercise_limit:g} s"
        else:
            out = CappedText(output_limit)
            sys.stdout = sys.stderr = out
            start = time.perf_counter()
            try:
                case = cases[cid]
                inputs = load_inputs(jobdir / "inputs" / f"{cid}.npz")
                for module in getattr(case, "modules", ()):  # torch for a TrainCase: seconds to import, so
                    __import__(module)                        # outside the exercise's time limit
                got = limited(remaining, case.run, obj, inputs)
                got = np.ascontiguousarray(np.asarray(got, dtype=np.float64))
                target = out_dir / f"{cid}.npy"
                target.parent.mkdir(parents=True, exist_ok=True)
                np.save(target, got, allow_pickle=False)
            except BaseException as e:
                stub = raised_by_stub(e, obj)  # the released stub: "not answered yet", no traceback
                result["error"] = (stub_message(exercise) if stub else
                                   f"time limit of {exercise_limit:g} s for {exercise} exceeded"
                                   if isinstance(e, TimeLimit) else one_line(e))
                if type(e).__name__ != "CaseError" and not stub:
                    result["error_tail"] = error_tail(e)
            finally:
                sys.stdout, sys.stderr = real_out, real_err
                spent[exercise] = spent.get(exercise, 0.0) + time.perf_counter() - start
        if result:
            calls[cid] = result
            status.save(calls=calls)
    status.save(phase="done", current=None, finished=True)
    return 0


_MISSING = object()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m adamcourse.grading.runner JOBDIR", file=sys.stderr)
        return 2
    code = run_job(Path(argv[0]).resolve())
    sys.stdout.flush()
    os._exit(code)  # skip atexit handlers and finalizers the student's code may have registered


if __name__ == "__main__":
    main()
