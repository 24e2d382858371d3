"""The student's one-line check in a notebook: ``check("adam_step", adam_step)``.

Runs the public cases of one exercise in-process, each under a time limit (``signal.setitimer`` when called
from the main thread on POSIX; no limit elsewhere), and returns a :class:`CheckReport` that Jupyter shows as a
small table (text elsewhere). Hidden cases run only at grading time. An exercise still as
``adamcourse release`` left it (a function that raises ``NotImplementedError``, a value that is ``...``) is
reported as "not answered yet", not as an error.
"""

from __future__ import annotations

import html
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass

from .runner import raised_by_stub
from .spec import CaseError, CaseResult, Exercise, get_exercise

HIDDEN_NOTE = "Hidden cases run at grading time."
NOT_ANSWERED = "not answered yet"


def stub_message(name: str, placeholder: bool = False) -> str:
    """What a case says (in check and in the grader's feedback) about a function exercise left as released: a
    function that raises NotImplementedError, or (``placeholder``) the name still bound to ``...``."""
    if placeholder:
        return f"{name} is {NOT_ANSWERED} (it is ...): define the function"
    return f"{name} is {NOT_ANSWERED}: it raises NotImplementedError (replace that line with your code)"


class CaseTimeout(BaseException):
    """Raised by the alarm inside a case that ran too long (a BaseException: ``except Exception`` in the
    student's code does not swallow it)."""


@contextmanager
def time_limit(seconds: float | None):
    """Raise :class:`CaseTimeout` in the main thread after ``seconds``; without SIGALRM, off the main thread,
    or with ``seconds`` None, no limit."""
    usable = (seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise CaseTimeout(f"timed out after {seconds:g} s")

    outer, start = signal.getitimer(signal.ITIMER_REAL)[0], time.monotonic()  # an enclosing timer, if any
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds if not outer else min(seconds, outer))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # give the enclosing timer what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3))


@dataclass
class CheckReport:
    """What :func:`check` returns: one result per public case; Jupyter shows it as a table, ``print`` as text."""

    exercise: Exercise
    results: list[CaseResult]
    unanswered: frozenset[str] = frozenset()  # names of the cases that found the exercise not answered yet

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def summary(self) -> str:
        n, k, total = sum(r.passed for r in self.results), len(self.unanswered), len(self.results)
        counts = f"{n}/{total} public cases passed" + (f" ({k} {NOT_ANSWERED})" if 0 < k < total else "")
        prefix = f"{self.exercise.name} is {NOT_ANSWERED}: " if 0 < k == total else ""
        return f"{prefix}{counts}. {HIDDEN_NOTE}"

    def _label(self, r: CaseResult) -> str:
        return "PASS" if r.passed else "TODO" if r.case in self.unanswered else "FAIL"

    def __str__(self) -> str:
        lines = [f"check {self.exercise.signature}"]
        for r in self.results:
            lines.append(f"  [{self._label(r)}] {r.case}")
            if not r.passed:
                lines += [f"         {line}" for line in r.message.splitlines()]
                if r.hint:
                    lines.append(f"         hint: {r.hint}")
                if r.error_tail:
                    lines += [f"         | {line}" for line in r.error_tail.splitlines()]
        lines.append(self.summary)
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        e = html.escape
        rows = []
        for r in self.results:
            label = self._label(r)
            color = {"PASS": "#e6f4ea", "TODO": "#f1f3f4", "FAIL": "#fce8e6"}[label]
            mark = {"PASS": "&#10003; pass", "TODO": f"&#8230; {NOT_ANSWERED}", "FAIL": "&#10007; fail"}[label]
            detail = "" if r.passed else e(r.message)
            if r.error_tail and not r.passed:
                detail += f"\n{e(r.error_tail)}"
            hint = e(r.hint) if r.hint else ""
            rows.append(f'<tr style="background:{color}"><td>{e(r.case)}</td><td><b>{mark}</b></td>'
                        f'<td style="white-space:pre-wrap;font-family:monospace;text-align:left">{detail}</td>'
                        f"<td>{hint}</td></tr>")
        color = "#137333" if self.passed else "#5f6368" if self.unanswered else "#c5221f"
        return (f'<div><code>{e(self.exercise.signature)}</code><table style="border-collapse:collapse">'
                "<tr><th>case</th><th>result</th><th>message</th><th>hint</th></tr>"
                f'{"".join(rows)}</table><p style="color:{color}"><b>{e(self.summary)}</b></p></div>')


def check(name: str, fn_or_value, *, timeout: float | None = 5.0) -> CheckReport:
    """Run the public cases of exercise ``name`` on ``fn_or_value`` (the student's function, or the value of a
    numeric answer), each case limited to ``timeout`` seconds. An answer left as released (``...``, or a
    function that raises NotImplementedError) gives a report saying "not answered yet". Unknown names raise
    ``KeyError`` listing the valid ones."""
    exercise = get_exercise(name)
    if exercise.kind == "function" and not callable(fn_or_value) and fn_or_value is not Ellipsis:
        raise TypeError(f"check({name!r}, ...) needs the function itself, e.g. check({name!r}, {name}); "
                        f"got {type(fn_or_value).__name__}")
    results, unanswered = [], set()
    for case in exercise.cases:
        result, answered = _run_case(case, exercise, fn_or_value, timeout)
        results.append(result)
        if not answered:
            unanswered.add(case.name)
    return CheckReport(exercise, results, frozenset(unanswered))


def _run_case(case, exercise: Exercise, fn_or_value, timeout) -> tuple[CaseResult, bool]:
    """The case's result, and whether the exercise is answered (False: still as released)."""
    if exercise.kind == "function" and fn_or_value is Ellipsis:
        return case.error_result(stub_message(exercise.name, placeholder=True)), False
    answered = not (exercise.kind == "value" and (fn_or_value is Ellipsis or fn_or_value is None))
    try:  # (a value left as ... or None fails in ValueCase.run, with its own "not answered yet" message)
        inputs = case.inputs()
        if timeout is not None:  # a case that trains a model asks for more (RecipeCase.time_limit)
            timeout = max(timeout, getattr(case, "time_limit", 0.0))
        with time_limit(timeout):
            got = case.run(fn_or_value, inputs)
    except CaseTimeout as e:
        return case.error_result(f"{exercise.name} {e} (an endless loop?)"), answered
    except Exception as e:
        if raised_by_stub(e, fn_or_value):
            return case.error_result(stub_message(exercise.name)), False
        if isinstance(e, CaseError):
            return case.error_result(str(e)), answered
        tail = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-3:]).rstrip()
        return case.error_result(f"{exercise.name} raised {type(e).__name__}: {e}", tail), answered
    return case.judge(got), answered
