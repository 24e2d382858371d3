"""The grading child's parts in-process (preparing cells, the scan, time limits, capped output) and one job
run end to end as the parent runs it."""

from __future__ import annotations

import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from adamcourse.grading import runner


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
    with pytest.raises(runner.NotebookError, match=reason):
        runner.read_code_cells(content)   # the grader reads the bytes it holds


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
