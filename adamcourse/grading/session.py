"""The grader's end of one student's process: start it in the sandbox, send it calls, stop it.

A :class:`Session` starts ``python -m adamcourse.grading.child`` (in bubblewrap, :mod:`.sandbox`, or with
``unsafe=True`` only under resource limits), sends the notebook's code cells, then one request at a time
over the pipes (:mod:`.protocol`), each answer awaited with a deadline. A :class:`Remote` stands for one of
the notebook's functions: calling it sends that call's arguments and returns the plain values that came
back, so a case's own ``run`` drives the student's function from here, and the case (its expected values,
its judge) never leaves this process. When the child dies, stalls or breaks the protocol, the session is
over: :class:`ChildFailed` says why, and :meth:`Session.close` kills the whole sandbox.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from . import protocol, runner, sandbox


class ChildFailed(Exception):
    """The student's process cannot answer any more (dead, stalled, or it broke the protocol)."""


class StudentError(Exception):
    """One call failed in the student's code; ``answer`` is the child's report (error, stub, timeout)."""

    def __init__(self, answer: dict):
        super().__init__(str(answer.get("error", "")))
        self.answer = answer


#: Seconds granted on top of a call's own budget before the grader gives up on the child.
SLACK = 5.0


class Session:
    """One sandboxed child. ``limits``: an :class:`adamcourse.grading.grade.Limits`."""

    def __init__(self, limits, *, unsafe: bool = False, slot: int = 0):
        self.limits, self.unsafe = limits, unsafe
        self.deadline = time.monotonic() + limits.notebook_timeout
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        argv = [sys.executable, "-m", "adamcourse.grading.child", str(to_child_r), str(from_child_w)]
        options = dict(memory_bytes=limits.memory_bytes, cpu_seconds=int(limits.notebook_timeout) + 5,
                       file_bytes=limits.file_bytes, max_processes=limits.max_processes,
                       scratch_mb=limits.scratch_mb)
        self._workdir = tempfile.mkdtemp(prefix="adamcourse-unsafe-") if unsafe else None
        self._user_uid = None
        if unsafe:
            options.pop("scratch_mb")
            command = sandbox.unsafe_command(argv, workdir=self._workdir, user=limits.run_as, **options)
            if limits.run_as:
                self._user_uid = pwd.getpwnam(limits.run_as).pw_uid
        else:
            command = sandbox.sandbox_command(argv, uid_offset=slot, **options)
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, pass_fds=(to_child_r, from_child_w),
                                     start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self.failure: str | None = None
        self.current_cell: int | None = None
        self.stderr_tail = b""    # the last few KB the child wrote to stderr (start-up errors), the rest dropped
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read(4096), b""):
            self.stderr_tail = (self.stderr_tail + chunk)[-4096:]

    def _left(self, seconds: float) -> float:
        return max(0.0, min(seconds, self.deadline - time.monotonic()))

    def ask(self, message: dict, seconds: float) -> dict:
        """Send ``message`` and wait at most ``seconds`` (and never past the notebook's deadline) for the
        answer; :class:`ChildFailed` when none comes or it is not a valid answer."""
        if self.failure:
            raise ChildFailed(self.failure)
        try:
            protocol.send(self._to_child, message)
        except protocol.ProtocolError as e:
            self.failure = self._exit_reason() if isinstance(e, protocol.PeerGone) else str(e)
            self.close()
            raise ChildFailed(self.failure) from None
        return self.listen(seconds)

    def listen(self, seconds: float) -> dict:
        """The child's next frame, within ``seconds`` (and the notebook's deadline)."""
        budget = self._left(seconds)
        try:
            answer = protocol.receive(self._from_child, timeout=budget)
        except protocol.Timeout:
            whole = budget < seconds
            self.failure = (f"killed: timeout ({self.limits.notebook_timeout:g} s for the notebook)" if whole
                            else f"killed: no answer within {seconds:g} s")
        except protocol.PeerGone:
            self.failure = self._exit_reason()
        except protocol.ProtocolError as e:
            self.failure = f"the notebook's process broke the grading protocol ({e})"
        else:
            if answer.get("stuck"):
                self.failure = "killed: the code kept running after its time limit (it caught the timeout)"
            elif not isinstance(answer.get("ok", answer.get("op")), (bool, str)):
                self.failure = "the notebook's process broke the grading protocol (a malformed answer)"
            else:
                return answer
        self.close()
        raise ChildFailed(self.failure)

    def _exit_reason(self) -> str:
        try:
            rc = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "crashed: the notebook's process closed its pipe"
        last = self.stderr_tail.decode("utf-8", "replace").strip().splitlines()[-1:]
        if rc == 1 and last and "Error" in last[0]:
            return f"crashed before running the notebook: {last[0][:300]}"
        if rc < 0 or rc >= 128:
            sig = -rc if rc < 0 else rc - 128
            if sig == signal.SIGKILL:
                return "killed: signal 9 (out of memory?)"
            if sig == signal.SIGXCPU:
                return "killed: CPU time limit"
            name = signal.Signals(sig).name if sig in signal.valid_signals() else "?"
            return f"crashed: signal {sig} ({name})"
        if rc == runner.STUCK_EXIT:
            return "killed: the code kept running after its time limit (it caught the timeout)"
        return f"crashed: exit code {rc}"

    def start(self, cells: list[str]) -> list[dict]:
        """Run the notebook's code cells; return the cells that raised. While they run, the child names each
        cell as it starts it (:attr:`current_cell`, for the status of a process that dies in one)."""
        answer = self.ask({"op": "start", "cells": cells, "cell_timeout": self.limits.cell_timeout,
                           "output_chars": self.limits.output_chars,
                           "limits": {"memory_bytes": self.limits.memory_bytes, "file_bytes": self.limits.file_bytes,
                                      "cpu_s": int(self.limits.notebook_timeout) + 5}},
                          self.limits.notebook_timeout)
        while answer.get("op") == "cell":
            cell = answer.get("cell")
            self.current_cell = cell if isinstance(cell, int) and not isinstance(cell, bool) else None
            answer = self.listen(self.limits.notebook_timeout)
        self.current_cell = None
        cells_log = answer.get("cells")
        if answer.get("op") != "cells" or not isinstance(cells_log, list):
            self.failure = "the notebook's process broke the grading protocol (no cell report)"
            self.close()
            raise ChildFailed(self.failure)
        return [_cell_error(e) for e in cells_log[:200] if isinstance(e, dict)]

    def call(self, request: dict, budget: float) -> object:
        """One request (``call``, ``value`` or ``drive``) with ``budget`` seconds; the value, or
        :class:`StudentError`."""
        answer = self.ask({**request, "budget": budget}, budget + SLACK)
        if answer.get("ok") is not True:
            raise StudentError(answer)
        return answer

    def close(self) -> None:
        """End the child and everything it started (the sandbox's PID namespace goes with it)."""
        if self.proc.poll() is None:
            try:
                protocol.send(self._to_child, {"op": "bye"})
            except (protocol.ProtocolError, OSError):
                pass
        sandbox.kill(self.proc)
        if self._user_uid is not None:    # the unsafe mode's student user: its daemons too
            sandbox.kill_user(self._user_uid)
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self._to_child = self._from_child = -1
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)


def _cell_error(entry: dict) -> dict:
    """A cell error from the child, reduced to bounded plain fields."""
    cell = entry.get("cell")
    return {"cell": cell if isinstance(cell, int) and not isinstance(cell, bool) and 0 <= cell < 10**6 else -1,
            "error": str(entry.get("error", ""))[:500], "error_tail": str(entry.get("error_tail") or "")[:2000],
            "output": str(entry.get("output", ""))[:1000]}


class Budget:
    """The seconds left to one exercise, across all its calls."""

    def __init__(self, seconds: float):
        self.left = seconds

    def spend(self, call, request: dict):
        """``call(request, seconds_left)``, charging its wall time."""
        if self.left <= 0:
            raise StudentError({"ok": False, "timeout": True})
        start = time.monotonic()
        try:
            return call(request, self.left)
        finally:
            self.left -= time.monotonic() - start


class Remote:
    """The notebook's function ``name``, called over the session: what a case's ``run`` receives in place of
    the function. Array arguments that the call changed in place are changed here too (so the case's
    mutation check sees it)."""

    def __init__(self, session: Session, name: str, budget: Budget):
        self.session, self.__name__, self.budget = session, name, budget

    def __call__(self, *args, **kwargs):
        answer = self.budget.spend(self.session.call, {"op": "call", "name": self.__name__, "args": list(args),
                                                        "kwargs": kwargs})
        mutated = answer.get("mutated") or {}
        if isinstance(mutated, dict):
            for key, new in mutated.items():
                k = int(key) if str(key).isdigit() else -1
                if 0 <= k < len(args) and isinstance(args[k], np.ndarray) and isinstance(new, np.ndarray) \
                        and new.shape == args[k].shape:
                    np.copyto(args[k], new.astype(args[k].dtype, copy=False))
        return answer.get("value")
