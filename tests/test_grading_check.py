"""adamcourse.grading.check: the student's one-line check in a notebook."""

from __future__ import annotations

import time

import numpy as np
import pytest

from adamcourse.grading import EXERCISES, check
from adamcourse.grading import references as ref
from adamcourse.grading.check import HIDDEN_NOTE, NOT_ANSWERED, CheckReport


@pytest.mark.parametrize("name", [n for n, ex in EXERCISES.items() if ex.kind == "function"])
def test_reference_passes(name):
    report = check(name, getattr(ref, name))
    assert isinstance(report, CheckReport) and report.passed
    text = str(report)
    n = len(EXERCISES[name].cases)
    assert text.endswith(f"{n}/{n} public cases passed. Hidden cases run at grading time.")
    assert repr(report) == text
    for case in EXERCISES[name].cases:
        assert f"[PASS] {case.name}" in text and case.name in report._repr_html_()


def test_failure_report_text_and_html():
    def adam_step(theta, g, m, v, t, lr, beta1, beta2, eps):  # no bias correction
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        return theta - lr * m / (np.sqrt(v) + eps), m, v

    report = check("adam_step", adam_step)
    assert not report.passed
    text = str(report)
    assert "[FAIL] first step" in text and "hint: no bias correction" in text
    assert "max abs error" in text and "0/4 public cases passed. " + HIDDEN_NOTE in text
    page = report._repr_html_()
    assert page.startswith("<div>") and "<table" in page and "no bias correction" in page
    assert "first step" in page and HIDDEN_NOTE in page and "#fce8e6" in page  # red rows
    assert len(page) < 20_000


def test_value_answers():
    assert check("ema_window_answer", 100).passed
    assert "1/1 public cases passed" in str(check("adam_first_step_answer", 0.0999999995))
    report = check("rmsprop_first_step_answer", 0.1)
    assert not report.passed and "wrong sign" in str(report)



def test_unknown_name_and_not_a_function():
    with pytest.raises(KeyError, match="unknown exercise 'adam'.*Valid names: .*adam_step.*ema_window_answer"):
        check("adam", ref.adam_step)
    with pytest.raises(TypeError, match="needs the function itself"):
        check("adam_step", 3.0)


def test_stub_exception_and_mutation():
    def crashes(theta, g, v, lr, alpha, eps):
        return theta - lr * g / (np.sqrt(v) + eps) + undefined_name  # noqa: F821

    report = check("rmsprop_step", crashes)
    assert "raised NameError" in report.results[0].message and "undefined_name" in report.results[0].error_tail

    def in_place(theta, g, v, lr, alpha, eps):
        v *= alpha
        v += (1 - alpha) * g * g
        return theta - lr * g / (np.sqrt(v) + eps), v

    report = check("rmsprop_step", in_place)
    assert all(r.hint == "mutates its inputs" for r in report.results)
    assert "rmsprop_step mutates its inputs (v)" in str(report)


def test_endless_loop_times_out():
    def adam_step(theta, g, m, v, t, lr, beta1, beta2, eps):
        while True:
            pass

    start = time.monotonic()
    report = check("adam_step", adam_step, timeout=0.1)
    assert time.monotonic() - start < 5
    assert all(not r.passed and "timed out after 0.1 s" in r.message for r in report.results)

    def swallows(theta, g, m, v, t, lr, beta1, beta2, eps):  # `except Exception` cannot catch the timeout
        while True:
            try:
                time.sleep(0.01)
            except Exception:
                pass

    assert "timed out" in check("adam_step", swallows, timeout=0.1).results[0].message
    assert check("adam_step", ref.adam_step, timeout=0.1).passed  # the timer is off again afterwards


def _assert_not_answered(report: CheckReport, name: str) -> None:
    """Every case and the summary say "not answered yet", in the text and in the HTML; nothing raised."""
    n = len(EXERCISES[name].cases)
    assert not report.passed and report.unanswered == {c.name for c in EXERCISES[name].cases}
    assert report.summary == f"{name} is {NOT_ANSWERED}: 0/{n} public cases passed. {HIDDEN_NOTE}"
    text, page = str(report), report._repr_html_()
    for r in report.results:
        assert f"[TODO] {r.case}" in text and NOT_ANSWERED in r.message and r.error_tail is None
    assert text.count(NOT_ANSWERED) == n + 1  # each case's message, and the summary
    assert page.count(NOT_ANSWERED) == 2 * n + 1  # each case's result and message, and the summary
    assert "[FAIL]" not in text and "#fce8e6" not in page  # not shown as failures


@pytest.mark.parametrize("name", [n for n, ex in EXERCISES.items() if ex.kind == "value"])
@pytest.mark.parametrize("value", [..., None])
def test_a_value_left_as_released_is_not_answered_yet(name, value):
    report = check(name, value)
    _assert_not_answered(report, name)
    assert f"(it is {value!r})".replace("Ellipsis", "...") in report.results[0].message


@pytest.mark.parametrize("name", [n for n, ex in EXERCISES.items() if ex.kind == "function"])
def test_a_function_left_as_released_is_not_answered_yet(name):
    def stub(*args):
        raise NotImplementedError("write your solution here")

    _assert_not_answered(check(name, stub), name)
    _assert_not_answered(check(name, ...), name)  # a function exercise still bound to the placeholder


def test_a_not_implemented_error_from_deeper_down_is_an_error():
    def unsupported(v):  # as a library raises it: not the student's stub
        raise NotImplementedError("sparse gradients")

    def rmsprop_step(theta, g, v, lr, alpha, eps):
        return theta, unsupported(v)

    report = check("rmsprop_step", rmsprop_step)
    assert not report.unanswered and NOT_ANSWERED not in str(report)
    assert all("raised NotImplementedError: sparse gradients" in r.message for r in report.results)


def test_a_partly_answered_function_counts_its_unanswered_cases():
    def rmsprop_step(theta, g, v, lr, alpha, eps):
        if np.ndim(theta) > 1:
            raise NotImplementedError("2-D arrays")
        return ref.rmsprop_step(theta, g, v, lr, alpha, eps)

    report = check("rmsprop_step", rmsprop_step)
    todo = [r.case for r in report.results if not r.passed]
    assert todo and report.unanswered == set(todo) and len(todo) < len(report.results)
    assert f"({len(todo)} {NOT_ANSWERED})" in report.summary
    assert not report.summary.startswith("rmsprop_step is")


def test_the_package_check_is_the_function_whatever_was_imported_first():
    """``from adamcourse.grading import check`` gives the function even after the submodule of the same name
    was imported (which binds the module to the package's attribute), in a fresh interpreter."""
    import subprocess
    import sys

    code = ("from adamcourse.grading.check import NOT_ANSWERED\n"
            "from adamcourse.grading import check\n"
            "import adamcourse.grading as g\n"
            "assert callable(check) and g.check is check, type(check)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
