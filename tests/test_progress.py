"""Progress bars (adamcourse.runtime.show_progress): shown where a person watches a notebook, one per run or per
sweep, and never in the tests, a script or the executed chapters of the book build."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import types

import nbformat
import pytest
import torch
import tqdm.auto
import tqdm.std

from adamcourse import runtime
from adamcourse.runtime import PROGRESS_ENV, no_progress, show_progress
from adamcourse.sweep import run_sweep
from adamcourse.train import fit

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def tiny_run(name, lr, seed):
    """One small training run, with fit's default progress."""
    torch.manual_seed(seed)
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    model = torch.nn.Linear(4, 3)
    return fit(model, [(x[:16], y[:16]), (x[16:], y[16:])], [(x, y)], torch.optim.SGD(model.parameters(), lr=lr),
               epochs=2, device="cpu")


@pytest.fixture
def bars(monkeypatch):
    """Every bar that fit and run_sweep create through ``tqdm.auto.tqdm``, drawn as text into a buffer."""
    made = []

    class Recorded(tqdm.std.tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["file"] = io.StringIO()
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorded)
    return made


def fake_kernel(monkeypatch, parent):
    """Make ``IPython.get_ipython()`` an ipykernel-like shell whose current request is ``parent``."""
    import IPython

    kernel = types.SimpleNamespace(get_parent=lambda channel=None: parent)
    monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace(kernel=kernel))


# ---------------------------------------------------------------- the one decision


def test_off_under_pytest_and_in_plain_python(monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    assert show_progress() is False
    env = {k: v for k, v in os.environ.items() if k != PROGRESS_ENV}
    code = "from adamcourse.runtime import show_progress; print(show_progress())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("setting", "expected"), [("1", True), ("true", True), ("On", True), ("0", False),
                                                   ("false", False), ("off", False)])
def test_the_environment_decides(monkeypatch, setting, expected):
    fake_kernel(monkeypatch, {"content": {"allow_stdin": not expected}})  # the opposite of what it says
    monkeypatch.setenv(PROGRESS_ENV, setting)
    assert show_progress() is expected


def test_a_bad_setting_raises(monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "sometimes")
    with pytest.raises(ValueError, match="ADAMCOURSE_PROGRESS must be one of .* got 'sometimes'"):
        show_progress()


@pytest.mark.parametrize(("parent", "expected"), [
    ({"content": {"code": "fit(...)", "allow_stdin": True}}, True),    # JupyterLab, Notebook, Colab, VS Code
    ({"content": {"code": "fit(...)", "allow_stdin": False}}, False),  # nbclient, nbval, papermill
    ({"content": {"code": "fit(...)"}}, False),
    ({}, False),                                                        # no request yet
])
def test_in_a_kernel_only_a_front_end_that_can_answer_input_watches(monkeypatch, parent, expected):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    fake_kernel(monkeypatch, parent)
    assert show_progress() is expected


def test_a_terminal_ipython_is_not_a_kernel(monkeypatch):
    import IPython

    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace())  # no .kernel
    assert show_progress() is False
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert show_progress() is False


def test_no_progress_holds_back_even_a_forced_setting(monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "1")
    with no_progress():
        assert show_progress() is False
        with no_progress():
            assert show_progress() is False
        assert show_progress() is False
    assert show_progress() is True


# ---------------------------------------------------------------- fit and run_sweep follow it


def test_fit_asks_show_progress_and_flags_still_force(monkeypatch, capfd, bars):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    tiny_run("SGD", 0.1, 0)
    assert bars == []
    monkeypatch.setenv(PROGRESS_ENV, "1")
    tiny_run("SGD", 0.1, 0)
    assert len(bars) == 1 and bars[0].total == 4 and bars[0].n == 4 and "SGD" in bars[0].fp.getvalue()
    monkeypatch.setattr(runtime, "_front_end_is_watching", lambda: pytest.fail("asked although told"))
    monkeypatch.setenv(PROGRESS_ENV, "0")
    model = torch.nn.Linear(4, 3)
    fit(model, [(torch.randn(8, 4), torch.randint(0, 3, (8,)))], None, torch.optim.SGD(model.parameters(), lr=0.1),
        device="cpu", progress=True)
    assert len(bars) == 2
    out = capfd.readouterr()
    assert out.out == "" and out.err == ""


def test_fit_in_a_silent_context_writes_nothing(monkeypatch, capfd):
    """The real ``tqdm.auto``: under pytest, with the setting unset, not a byte on stdout or stderr."""
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    tiny_run("SGD", 0.1, 0)
    out = capfd.readouterr()
    assert out.out == "" and out.err == ""


def test_run_sweep_draws_one_bar_over_all_its_runs(monkeypatch, bars):
    monkeypatch.setenv(PROGRESS_ENV, "1")  # every fit would draw a bar of its own if the sweep let it
    grids = {"SGD": (1e-3, 1e-2), "Adam": (1e-3, 1e-2, 1e-1)}
    descriptions = []

    def run(name, lr, seed):
        descriptions.append(bars[0].desc)  # tqdm appends ": "
        return tiny_run(name, lr, seed)

    sweep = run_sweep(run, grids, seeds=(0, 1))
    assert len(bars) == 1, [b.desc for b in bars]
    assert bars[0].total == bars[0].n == len(sweep.scores) == 10
    assert descriptions[0] == "SGD, lr 0.001, seed 0: " and descriptions[-1] == "Adam, lr 0.1, seed 1: "
    assert not bars[0].leave and "SGD, lr 0.001, seed 0:   0%" in bars[0].fp.getvalue()  # drawn, then removed


def test_run_sweep_bar_grows_with_the_extension(monkeypatch, bars):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    lines = []
    sweep = run_sweep(lambda name, lr, seed: -abs(lr - 1.0), {"SGD": (1e-2, 3e-2)}, seeds=(0, 1, 2), extend=True,
                      progress=True, log=lines.append)
    assert len(sweep.lrs("SGD")) > 2  # extended
    assert len(bars) == 1 and bars[0].total == bars[0].n == len(sweep.scores)
    assert len(lines) == 1 and lines[0].startswith("SGD: lr 0.01 0.03 0.1")


def test_run_sweep_without_progress_draws_nothing(monkeypatch, bars):
    monkeypatch.setenv(PROGRESS_ENV, "1")
    run_sweep(tiny_run, {"SGD": (0.1,)}, seeds=(0,), progress=False)
    assert bars == []
    monkeypatch.delenv(PROGRESS_ENV)
    run_sweep(tiny_run, {"SGD": (0.1,)}, seeds=(0,))
    assert bars == []


# ---------------------------------------------------------------- executed as the book build executes a chapter


NOTEBOOK_CELLS = [
    "import torch\nfrom adamcourse.sweep import run_sweep\nfrom adamcourse.train import fit\n\n"
    "def run(name, lr, seed):\n"
    "    torch.manual_seed(seed)\n"
    "    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))\n"
    "    model = torch.nn.Linear(4, 3)\n"
    "    return fit(model, [(x, y)] * 3, [(x, y)], torch.optim.SGD(model.parameters(), lr=lr), epochs=2,\n"
    "               device='cpu')",
    "history = run('SGD', 0.1, 0)",
    "def scored(name, lr, seed):\n"
    "    run(name, lr, seed)\n"
    "    return -abs(lr - 1.0)  # best at lr = 1: the grid grows to 0.3, 1 and 3\n\n"
    "sweep = run_sweep(scored, {'SGD': [0.01, 0.1]}, seeds=[0, 1], extend=True)\n"
    "print(len(sweep.scores), 'runs')",
]


def _execute(front_end: bool) -> nbformat.NotebookNode:
    """Execute a small notebook as the book build does (myst-nb's cache mode calls jupyter-cache's
    ``single_nb_execution``, which runs nbclient), or, with ``front_end``, as a person's front end does, which
    differs in one thing: its execute requests allow ``input()``."""
    from jupyter_cache.executors.utils import single_nb_execution
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK_CELLS])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if not front_end:
        result = single_nb_execution(nb, cwd=None, timeout=120, allow_errors=False)
        assert result.err is None, result.exc_string
        return result.nb

    class FrontEnd(NotebookClient):
        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            kc.allow_stdin = True
            return kc

    FrontEnd(nb, timeout=120, kernel_name="python3").execute()
    return nb


def _bars(cell) -> list[str]:
    """The progress bars among a cell's outputs: widget views, and text bars on stderr."""
    found = []
    for out in cell.outputs:
        if WIDGET_VIEW in out.get("data", {}):
            found.append(out["data"]["text/plain"])
        elif out.output_type == "stream" and out.name == "stderr":
            found.append(out.text)
    return found


def test_no_bar_in_a_chapter_executed_as_the_build_does(monkeypatch):
    """Even without ``ADAMCOURSE_PROGRESS=0`` (``jupyter-book build`` run by hand): no widget, nothing on stderr."""
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    nb = _execute(front_end=False)
    assert [_bars(cell) for cell in nb.cells] == [[], [], []]
    assert [out.get("text") for out in nb.cells[2].outputs] == ["10 runs\n"]


def test_a_front_end_gets_one_bar_per_run_and_one_per_sweep(monkeypatch):
    """The control of the test above: the same notebook from a front end that can answer ``input()``."""
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    nb = _execute(front_end=True)
    assert [len(_bars(cell)) for cell in nb.cells] == [0, 1, 1]
    assert all(WIDGET_VIEW in out.get("data", {}) for cell in nb.cells[1:] for out in cell.outputs[:1])
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    progress = [s["state"] for s in state.values() if s["model_name"] in ("IntProgressModel", "FloatProgressModel")]
    # fit: 2 epochs x 3 steps; the sweep: 10 runs, its bar grown from 4 as the grid was extended
    assert sorted((p["max"], p["value"]) for p in progress) == [(6, 6), (10, 10)], json.dumps(progress)[:500]
