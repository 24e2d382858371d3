"""The student's side of grading: ``python -m adamcourse.grading.child``, run by the grader in a sandbox.

It reads requests on the file descriptor named first on its command line and answers on the second, in
:mod:`~adamcourse.grading.protocol`'s frames:

1. ``{"op": "start", "cells": [code, ...], "limits": {...}, ...}``: apply the resource limits, run the
   notebook's code cells (each under a time limit, output captured and capped, errors recorded, magics
   handled as :mod:`~adamcourse.grading.runner` describes) and answer ``{"op": "cells", "cells": [errors]}``;
2. then one call at a time, each answered before the next arrives:
   ``{"op": "call", "name", "args", "kwargs", "budget"}`` calls the notebook's function with that call's
   plain inputs; ``{"op": "value", "name"}`` sends a variable's value; ``{"op": "drive", "driver", "name",
   "params", "inputs", "budget"}`` runs one of :mod:`~adamcourse.grading.drivers` (the exercises whose
   arguments are torch objects); ``{"op": "bye"}`` ends the process.

An answer is ``{"ok": true, "value": ...}`` or ``{"ok": false, "error": ..., "tail": ..., "stub": ...,
"timeout": ...}``. This process never sees a case, an expected value or a score: it receives one call's inputs
and returns plain values, which the grader checks and judges. Nothing here imports the judge (the case and
spec modules).
"""

from __future__ import annotations

import builtins
import os
import sys
import time

import numpy as np

from . import protocol, runner
from .drivers import DriverError

IN_FD, OUT_FD = 3, 4
DRIVERS = ("train", "device_train", "recipe")


def plain(value, depth: int = 0):
    """What the student's function returned, as values the protocol can carry: arrays (anything with
    ``__array__``, a torch tensor included), numbers, strings, None, and lists of those. Anything else raises
    ``TypeError`` naming its type."""
    if depth > protocol.MAX_DEPTH:
        raise TypeError("a value nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str, np.ndarray, np.generic)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if hasattr(value, "__array__"):
        array = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value)
        return array if array.dtype.name in protocol.DTYPES else array.astype(np.float64)
    raise TypeError(f"returned a {type(value).__name__}, which is not an array or a number")


class Child:
    """The notebook's namespace and the loop that answers the grader."""

    def __init__(self, start: dict):
        self.cell_limit = float(start.get("cell_timeout", 60))
        self.output_limit = int(start.get("output_chars", 20_000))
        self.ns = {"__name__": "__main__", "__builtins__": builtins}
        shell = runner.GradingShell(self.ns)
        self.ns["get_ipython"] = lambda: shell
        self.ns["display"] = runner._display

    def _captured(self, seconds: float, fn, *args):
        out, real = runner.CappedText(self.output_limit), (sys.stdout, sys.stderr)
        sys.stdout = sys.stderr = out
        try:
            return runner.limited(seconds, fn, *args), out
        finally:
            sys.stdout, sys.stderr = real

    def run_cells(self, cells: list, progress=None) -> list[dict]:
        """Run every code cell; ``progress(k)`` is called before cell ``k`` (the grader then knows where a
        process that dies stopped)."""
        from IPython.core.inputtransformer2 import TransformerManager

        transformer, log = TransformerManager(), []
        for k, source in enumerate(cells):
            code = runner.prepare(str(source), transformer)
            if not code or not code.strip():
                continue
            if progress:
                progress(k)
            start, out = time.perf_counter(), runner.CappedText(self.output_limit)
            real = sys.stdout, sys.stderr
            sys.stdout = sys.stderr = out
            error = tail = None
            try:
                runner.limited(self.cell_limit, exec, compile(code, f"<cell {k}>", "exec"), self.ns)
            except BaseException as e:  # SystemExit and KeyboardInterrupt included: the notebook goes on
                error = (f"time limit of {self.cell_limit:g} s exceeded" if isinstance(e, runner.TimeLimit)
                         else runner.one_line(e))
                tail = runner.error_tail(e)
            finally:
                sys.stdout, sys.stderr = real
            if error:
                log.append({"cell": k, "error": error, "error_tail": tail,
                            "seconds": round(time.perf_counter() - start, 3), "output": out.text()[-1000:]})
        return log

    def answer(self, request: dict) -> dict:
        op, name = request.get("op"), str(request.get("name", ""))
        obj = self.ns.get(name, _MISSING)
        if obj is _MISSING:
            return {"ok": False, "error": f"{name} is not defined in the notebook", "missing": True}
        if op == "value":
            if obj is Ellipsis:
                return {"ok": False, "stub": True}
            try:
                return {"ok": True, "value": plain(obj)}
            except TypeError as e:
                return {"ok": False, "error": f"{name} is not a number: it {e}"}
        if obj is Ellipsis:
            return {"ok": False, "stub": True, "placeholder": True}
        if not callable(obj):
            return {"ok": False, "error": f"{name} is not a function (it is of type {type(obj).__name__})"}
        budget = float(request.get("budget", 30))
        if op == "call":
            args, kwargs = list(request.get("args", [])), dict(request.get("kwargs", {}))
            before = {k: a.copy() for k, a in enumerate(args) if isinstance(a, np.ndarray)}
            def call():
                return obj(*args, **kwargs)
        elif op == "drive" and request.get("driver") in DRIVERS:
            from . import drivers

            driver = {"train": drivers.train, "device_train": drivers.device_train,
                      "recipe": drivers.capture_recipe}[request["driver"]]
            for module in request.get("modules", ()):   # torch: seconds to import, not the exercise's time
                __import__(str(module))
            before = {}
            params, inputs = dict(request.get("params", {})), dict(request.get("inputs", {}))

            def call():
                return driver(obj, name, params, inputs)
        else:
            return {"ok": False, "error": f"unknown request {op!r}"}
        try:
            value, _ = self._captured(budget, call)
            value = plain(value)
        except runner.TimeLimit:
            return {"ok": False, "timeout": True}
        except DriverError as e:
            return {"ok": False, "error": str(e), "case_error": True}
        except BaseException as e:
            if runner.raised_by_stub(e, obj):
                return {"ok": False, "stub": True}
            return {"ok": False, "error": runner.one_line(e), "tail": runner.error_tail(e)}
        mutated = {str(k): a for k, a in enumerate(args) if k in before and
                   (a.shape != before[k].shape or not np.array_equal(a, before[k], equal_nan=True))} \
            if op == "call" else {}
        return {"ok": True, "value": value, "mutated": mutated}


_MISSING = object()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    in_fd, out_fd = (int(argv[0]), int(argv[1])) if len(argv) == 2 else (IN_FD, OUT_FD)
    start = protocol.receive(in_fd)
    runner.apply_rlimits(start.get("limits", {}))

    def stuck():  # the code caught its time limit again and again: say so, and stop
        try:
            protocol.send(out_fd, {"ok": False, "stuck": True})
        finally:
            os._exit(runner.STUCK_EXIT)

    runner._on_stuck = stuck
    sys.argv = ["notebook.ipynb"]
    runner.block_reference()
    child = Child(start)
    cells = child.run_cells(list(start.get("cells", [])), lambda k: protocol.send(out_fd, {"op": "cell", "cell": k}))
    protocol.send(out_fd, {"op": "cells", "cells": cells})
    while True:
        request = protocol.receive(in_fd)
        if request.get("op") == "bye":
            break
        try:
            answer = child.answer(request)
            protocol.send(out_fd, answer)
        except protocol.ProtocolError as e:   # a value the protocol cannot carry
            protocol.send(out_fd, {"ok": False, "error": f"the result cannot be graded: {e}"})
    sys.stdout.flush()
    os._exit(0)   # skip atexit handlers and finalizers the student's code may have registered


if __name__ == "__main__":
    main()
