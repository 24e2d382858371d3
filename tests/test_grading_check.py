"""adamcourse.grading.check: the student's one-line check in a notebook."""

from __future__ import annotations

import time

import numpy as np
import pytest

from adamcourse.grading import EXERCISES, check
from adamcourse.grading import references as ref
from adamcourse.grading.check import HIDDEN_NOTE, CheckReport


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
    assert "not answered yet" in str(check("ema_window_answer", ...))


def test_unknown_name_and_not_a_function():
    with pytest.raises(KeyError, match="unknown exercise 'adam'.*Valid names: .*adam_step.*ema_window_answer"):
        check("adam", ref.adam_step)
    with pytest.raises(TypeError, match="needs the function itself"):
        check("adam_step", 3.0)


def test_stub_exception_and_mutation():
    def stub(theta, g, v, lr, alpha, eps):
        raise NotImplementedError

    assert "not implemented yet" in str(check("rmsprop_step", stub))

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
