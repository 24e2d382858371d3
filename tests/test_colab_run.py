"""The reader notebooks run as a student on Colab runs them: a fresh environment with only what Colab has
(benchmarks/colab_run.py builds it: torch, numpy, matplotlib, ipykernel, ipywidgets 7, ..., no adamcourse),
"Run all" from the top, the first cell installing this checkout (``ADAMCOURSE_INSTALL=git+file://...``,
offline). One Foundations chapter and one lab, in quick mode; then an unreachable source, which must stop the
notebook at its install cell with the message that says what to do."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from book_build import ROOT

_spec = importlib.util.spec_from_file_location("colab_run", ROOT / "benchmarks" / "colab_run.py")
colab_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(colab_run)

pytestmark = pytest.mark.skipif(not (ROOT / ".git").exists(), reason="git+file:// needs a git checkout")


@pytest.fixture(scope="module")
def notebooks(built_book: Path) -> Path:
    return built_book.parent / "notebooks"


def outputs(cell) -> str:
    return "".join(o.get("text", "") if o.output_type == "stream" else
                   "\n".join(o.get("traceback", [])) if o.output_type == "error" else
                   o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", []))


def test_a_chapter_and_a_lab_run_top_to_bottom_in_a_colab_like_environment(notebooks, tmp_path):
    python = colab_run.colab_environment(tmp_path)
    before = colab_run.probe(python)
    assert before["adamcourse"] is None and before["ipywidgets"].startswith("7."), before
    for k, name in enumerate(colab_run.DEFAULT):
        nb, error, seconds = colab_run.run_all(python, notebooks / name, tmp_path,
                                               ADAMCOURSE_INSTALL=f"git+file://{ROOT}", ADAMCOURSE_QUICK="1")
        assert not error, f"{name}: {error[-3000:]}"
        install = outputs(next(c for c in nb.cells if c.cell_type == "code"))
        assert ("Installing adamcourse from git+file://" in install) == (k == 0), install
        assert all("execution_count" in c and c.execution_count for c in nb.cells if c.cell_type == "code")
        print(f"{name}: {seconds:.0f} s")
    after = colab_run.probe(python)
    assert after["adamcourse"].startswith(str(python.parent.parent)), "installed into the Colab-like environment"
    assert after["torch"] == before["torch"] and after["numpy"] == before["numpy"], "torch and numpy untouched"


def test_an_unreachable_source_stops_the_notebook_at_its_install_cell(notebooks, tmp_path):
    python = colab_run.colab_environment(tmp_path)
    source = "git+https://example.invalid/adam-course.git"
    nb, error, _ = colab_run.run_all(python, notebooks / colab_run.DEFAULT[0], tmp_path, ADAMCOURSE_INSTALL=source)
    code = [c for c in nb.cells if c.cell_type == "code"]
    shown = outputs(code[0])
    assert f"InstallError: could not install adamcourse from\n    {source}" in shown
    assert "ADAMCOURSE_INSTALL" in shown and "Traceback" not in shown
    assert "InstallError" in error and all(not c.get("outputs") for c in code[1:]), "Run all stops there"
