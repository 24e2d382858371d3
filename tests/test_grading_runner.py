"""The grading child's parts in-process (preparing cells, the scan, time limits, capped output) and one job
run end to end as the parent runs it."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from adamcourse.grading import runner
from adamcourse.grading.spec import EXERCISES

from book_build import ROOT


def test_prepare_rewrites_magics_and_drops_shell():
    assert runner.prepare("%time x = 1\n") == "get_ipython().run_line_magic('time', 'x = 1')\n"
    assert runner.prepare("if True:\n    !ls\nx = 1\n") == "if True:\n    pass\nx = 1\n"
    assert runner.prepare("%%bash\nrm -rf /\n") is None
    assert runner.prepare("  %%writefile x.py\nprint(1)\n") is None
    assert "run_cell_magic('time'" in runner.prepare("%%time\nx = 1\n")


def test_the_shell_stand_in_runs_timing_magics_and_ignores_setup_ones():
    ns = {}
    shell = runner.GradingShell(ns)
    shell.run_line_magic("time", "x = 2")
    shell.run_line_magic("timeit", "-n 1 -r 1 y = x + 1")
    shell.run_cell_magic("capture", "", "z = y * 2")
    shell.run_line_magic("matplotlib", "inline")
    assert (ns["x"], ns["y"], ns["z"]) == (2, 3, 6)
    assert shell.getoutput("ls") == [] and shell.system("ls") is None
    with pytest.raises(RuntimeError, match="not available when grading"):
        shell.run_line_magic("load", "secret.py")


def test_scan_flags_the_reference_and_escape_hatches():
    flags = runner.scan(["import numpy as np", "from adamcourse.optim import adam", None,
                         "import ctypes, importlib.util\nexec('1')\nimport sys\nsys.modules['x'] = None",
                         "from adamcourse import optim", "def f(:"])
    assert flags == ["imports adamcourse.optim (the reference) (code cell 2)", "imports ctypes (code cell 4)",
                     "imports importlib (code cell 4)", "calls exec() (code cell 4)", "uses sys.modules (code cell 4)",
                     "imports adamcourse.optim (the reference) (code cell 5)"]


@pytest.mark.parametrize("content, reason", [
    (b"", "empty notebook: the file is empty"),
    (b"{oops", "invalid notebook: not valid JSON"),
    (b'{"a": 1}', "invalid notebook: valid JSON but not a Jupyter notebook"),
    (nbformat.writes(new_notebook()).encode(), "empty notebook: no code cells"),
])
def test_unreadable_notebooks_say_why(tmp_path, content, reason):
    path = tmp_path / "x.ipynb"
    path.write_bytes(content)
    with pytest.raises(runner.NotebookError, match=reason):
        runner.read_code_cells(path)


def test_read_code_cells_keeps_order_and_skips_markdown(tmp_path):
    nb = new_notebook(cells=[new_code_cell("a = 1"), nbformat.v4.new_markdown_cell("# hi"), new_code_cell("b = 2")])
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert runner.read_code_cells(tmp_path / "x.ipynb") == ["a = 1", "b = 2"]


def test_capped_text_keeps_the_head_and_counts_the_rest():
    out = runner.CappedText(10)
    print("x" * 25, file=out)
    assert out.total == 26 and out.text().startswith("x" * 10) and "16 more characters" in out.text()


def test_time_limit_escapes_a_bare_except():
    def stubborn():
        for _ in range(3):       # the first alarm is swallowed; a repeat gets out of the handler
            try:
                time.sleep(5)
            except BaseException:
                time.sleep(5)

    start = time.perf_counter()
    with pytest.raises(runner.TimeLimit):
        runner.limited(0.2, stubborn)
    assert time.perf_counter() - start < 2
    assert runner.limited(1.0, lambda a: a + 1, 1) == 2  # and a quick call returns normally, timer off


def test_error_tail_hides_the_graders_frames():
    try:
        runner.limited(1.0, exec, compile("def f():\n    1 / 0\nf()", "<cell 3>", "exec"), {})
    except ZeroDivisionError as e:
        tail = runner.error_tail(e)
    assert "<cell 3>" in tail and "ZeroDivisionError" in tail and "grading/runner.py" not in tail


def _job(tmp_path, sources, names=("adam_step", "ema_window_answer")):
    nb = tmp_path / "work" / "nb.ipynb"
    nb.parent.mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources]), nb)
    cases, calls = {}, []
    for name in names:
        ex = EXERCISES[name]
        cid = f"{name}/0"
        cases[cid] = ex.cases[0]
        (tmp_path / "inputs" / name).mkdir(parents=True)
        np.savez(tmp_path / "inputs" / f"{cid}.npz", **{k: np.asarray(v) for k, v in ex.cases[0].inputs().items()})
        calls.append({"id": cid, "exercise": name, "kind": ex.kind})
    (tmp_path / "cases.pkl").write_bytes(pickle.dumps(cases))
    (tmp_path / "job.json").write_text(json.dumps({"notebook": str(nb), "calls": calls, "cell_timeout": 2,
                                                   "exercise_timeout": 2, "limits": {"memory_bytes": 2**30}}))
    proc = subprocess.run([sys.executable, "-m", "adamcourse.grading.runner", str(tmp_path)], cwd=nb.parent,
                          capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
    return proc, json.loads((tmp_path / "status.json").read_text())


def test_a_job_end_to_end(tmp_path):
    proc, status = _job(tmp_path, [
        "import numpy as np\nprint('hello')\nraise SystemExit(3)",
        "def adam_step(theta, g, m, v, t, lr, beta1, beta2, eps):\n    return theta * 0, m, v",
        "ema_window_answer = 100.0",
        "import adamcourse.optim",
    ])
    assert proc.returncode == 0, proc.stderr
    assert status["finished"] and status["phase"] == "done" and status["calls"] == {}
    assert [c["cell"] for c in status["cells"]] == [0, 3]
    assert status["cells"][0]["error"] == "SystemExit: 3" and "hello" in status["cells"][0]["output"]
    assert "halted" in status["cells"][1]["error"]  # the reference is blocked
    assert status["flags"] == ["imports adamcourse.optim (the reference) (code cell 4)"]
    got = np.load(tmp_path / "outputs" / "adam_step" / "0.npy", allow_pickle=False)
    assert got.shape == (1, 3, 3) and got.dtype == np.float64 and not got[0, 0].any()
    assert np.load(tmp_path / "outputs" / "ema_window_answer" / "0.npy") == 100.0


def test_a_job_reports_call_errors_by_id(tmp_path):
    proc, status = _job(tmp_path, ["adam_step = 3\nema_window_answer = 'many'"])
    assert proc.returncode == 0, proc.stderr
    assert status["calls"]["adam_step/0"]["error"] == "adam_step is not a function (it is of type int)"
    assert "must be a number" in status["calls"]["ema_window_answer/0"]["error"]
    assert not (tmp_path / "outputs").exists()
