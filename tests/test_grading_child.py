"""The student's process (adamcourse/grading/child.py) driven over its pipes, as the grader drives it, but
outside the sandbox: what it answers, and that it holds nothing of the judge."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from adamcourse.grading import protocol
from adamcourse.grading.spec import EXERCISES

from book_build import ROOT


@pytest.fixture
def child():
    """Start a child; yield ``ask(message, seconds)``; stop it."""
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "adamcourse.grading.child", str(to_r), str(from_w)],
                            pass_fds=(to_r, from_w), env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                            cwd=ROOT, stderr=subprocess.PIPE)
    os.close(to_r)
    os.close(from_w)

    def ask(message, seconds=30):
        protocol.send(to_w, message)
        return protocol.receive(from_r, timeout=seconds)

    ask.receive = lambda seconds=30: protocol.receive(from_r, timeout=seconds)
    yield ask
    proc.kill()
    proc.wait()
    os.close(to_w)
    os.close(from_r)


CELLS = [
    "import numpy as np\nprint('hello')\nraise SystemExit(3)",
    "def adam_step(theta, g, m, v, t, lr, beta1, beta2, eps):\n    m *= 0\n    return theta * 0, m, v",
    "ema_window_answer = 100.0",
    "def stub(x):\n    raise NotImplementedError('write your solution here')",
    "placeholder = ...",
    "def slow(x):\n    while True:\n        pass",
    "import sys\nraise RuntimeError(' '.join(sorted(m for m, mod in sys.modules.items()\n"
    "                                         if mod and m.startswith('adamcourse'))))",
]


def start(ask):
    answer, seen = ask({"op": "start", "cells": CELLS, "cell_timeout": 2, "limits": {"memory_bytes": 2**31}}), []
    while answer.get("op") == "cell":
        seen.append(answer["cell"])
        answer = ask.receive()
    return answer, seen


def test_cells_run_in_order_and_their_errors_come_back(child):
    answer, seen = start(child)
    assert seen == list(range(len(CELLS)))
    errors = {e["cell"]: e for e in answer["cells"]}
    assert sorted(errors) == [0, 6]
    assert errors[0]["error"] == "SystemExit: 3" and "hello" in errors[0]["output"]
    loaded = errors[6]["error"].split(": ", 1)[1].split()
    judge = {"adamcourse.grading.spec", "adamcourse.grading.case", "adamcourse.grading.step_case",
             "adamcourse.grading.grade", "adamcourse.grading.check", "adamcourse.grading.references"}
    assert "adamcourse.grading.protocol" in loaded and not judge & set(loaded), loaded


def test_calls_take_plain_inputs_and_return_plain_values(child):
    start(child)
    case = EXERCISES["adam_step"].cases[0]
    inputs = case.inputs()
    theta, m = np.asarray(inputs["theta"], float), np.ones(3)
    answer = child({"op": "call", "name": "adam_step", "args": [theta, theta, m, m.copy(), 1, 1e-3, 0.9, 0.999, 1e-8],
                    "kwargs": {}, "budget": 5})
    assert answer["ok"] and not answer["value"][0].any()
    np.testing.assert_array_equal(answer["mutated"]["2"], np.zeros(3))   # m *= 0 is reported
    assert child({"op": "value", "name": "ema_window_answer"}) == {"ok": True, "value": 100.0}


@pytest.mark.parametrize("request_, expected", [
    ({"op": "call", "name": "stub", "args": [1]}, {"ok": False, "stub": True}),
    ({"op": "call", "name": "placeholder", "args": [1]}, {"ok": False, "stub": True, "placeholder": True}),
    ({"op": "value", "name": "placeholder"}, {"ok": False, "stub": True}),
    ({"op": "call", "name": "nowhere", "args": []}, {"ok": False, "missing": True}),
    ({"op": "call", "name": "ema_window_answer", "args": []}, {"ok": False}),
    ({"op": "call", "name": "slow", "args": [1], "budget": 0.5}, {"ok": False, "timeout": True}),
    ({"op": "drive", "driver": "shell", "name": "stub"}, {"ok": False}),
])
def test_failures_are_reported_not_raised(child, request_, expected):
    start(child)
    answer = child({"kwargs": {}, "budget": 5, **request_})
    assert {k: answer[k] for k in expected} == expected, answer
    assert child({"op": "value", "name": "ema_window_answer"})["ok"], "the child still answers"
