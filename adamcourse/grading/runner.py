"""The student's side of grading, the parts :mod:`adamcourse.grading.child` builds on.

* resource limits (:func:`apply_rlimits`: address space, CPU seconds, file size) and time limits that a bare
  ``except:`` cannot swallow (:func:`limited`: the alarm re-fires until the exception escapes, and after
  ``STUCK_FIRINGS`` the child gives up);
* reading a notebook's code cells (:func:`read_code_cells`, also used by the grader) and preparing each for
  ``exec`` (:func:`prepare`): ``!shell`` lines become ``pass``, shell cell magics drop the cell, other magics go
  through IPython's ``TransformerManager`` to :class:`GradingShell`;
* output capped per cell (:class:`CappedText`), tracebacks showing only the student's frames
  (:func:`error_tail`), and blocking the reference modules (:func:`block_reference`: deterrence only, the
  grader's flags (:mod:`adamcourse.grading.flags`) are what count).

Nothing here judges, and nothing here imports the judge.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import sys
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

def read_code_cells(source: str | Path | bytes) -> list[str]:
    """The code cells' sources, in order, from a notebook file or its bytes. Raises :class:`NotebookError`
    with a one-line reason."""
    import nbformat

    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
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


def raised_by_stub(exc: BaseException, fn) -> bool:
    """Whether ``exc`` is a NotImplementedError raised in the body of ``fn`` itself (the released stub: "not
    answered yet"), not in something it calls (a library raising NotImplementedError is an error)."""
    tb = exc.__traceback__ if isinstance(exc, NotImplementedError) else None
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code is getattr(fn, "__code__", None)


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
