"""``tools/clean_notebooks.py`` (``make clean-notebooks``): it strips what Colab and Jupyter save into a notebook
and keeps the cells. That every chapter is committed clean is checked in tests/test_book.py."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "clean_notebooks.py"
_spec = importlib.util.spec_from_file_location("clean_notebooks", SCRIPT)
clean_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(clean_notebooks)

WIDGET_STATE = {"application/vnd.jupyter.widget-state+json": {
    "version_major": 2, "version_minor": 0,
    "state": {"f00d": {"model_name": "FloatSliderModel", "model_module": "@jupyter-widgets/controls",
                       "model_module_version": "2.0.0", "state": {"value": 0.3}}}}}


def colab_notebook() -> dict:
    """A notebook as Colab saves it after a run: outputs, counts, widget state and Colab's metadata."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.update({
        "colab": {"provenance": [], "toc_visible": True}, "accelerator": "GPU", "gpuClass": "standard",
        "widgets": WIDGET_STATE, "kernelspec": {"name": "python3", "display_name": "Python 3"},
        "language_info": {"name": "python"}})
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A chapter", metadata={"id": "md0"}),
        nbformat.v4.new_code_cell(
            "import adamcourse\nprint(1)", execution_count=1,
            metadata={"tags": ["hide-input"], "id": "a1", "outputId": "b2", "colab": {"base_uri": "https://x/"},
                      "executionInfo": {"status": "ok", "elapsed": 12}, "jupyter": {"source_hidden": True}},
            outputs=[nbformat.v4.new_output("stream", text="1\n")]),
        nbformat.v4.new_code_cell(
            "explorer()", execution_count=2, metadata={"tags": ["remove-cell"], "colab": {"height": 300}},
            outputs=[nbformat.v4.new_output("display_data", data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "f00d", "version_major": 2,
                                                             "version_minor": 0}, "text/plain": "Slider"})]),
        nbformat.v4.new_code_cell("x = 1"),  # already clean
    ]
    return json.loads(nbformat.writes(nb))


def write(path: Path, nb: dict) -> Path:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True, cwd=ROOT)


def test_a_colab_notebook_is_cleaned_and_its_cells_kept(tmp_path):
    before = colab_notebook()
    path = write(tmp_path / "colab.ipynb", before)
    found = clean_notebooks.problems(before)
    for key in ("metadata.widgets", "metadata.colab", "metadata.accelerator", "metadata.gpuClass",
                "cell 0 (markdown, '# A chapter'): metadata.id", "cell 1 (code, 'import adamcourse'): outputs (1)",
                "cell 1 (code, 'import adamcourse'): execution_count=1", "cell 2 (code, 'explorer()'): outputs (1)"):
        assert key in found, f"problems() misses {key!r}: {found}"
    assert {f.rsplit(": ", 1)[1] for f in found if f.startswith("cell 1")} == {
        "outputs (1)", "execution_count=1", "metadata.colab", "metadata.executionInfo", "metadata.outputId",
        "metadata.id"}
    assert not any(f.startswith("cell 3") for f in found), "a clean cell is reported"

    result = run(path)
    assert result.returncode == 0, result.stderr
    assert f"cleaned: {path}" in result.stdout and "metadata.widgets" in result.stdout
    after = json.loads(path.read_text(encoding="utf-8"))
    nbformat.validate(nbformat.from_dict(after))
    assert clean_notebooks.problems(after) == []
    assert after["metadata"] == {"kernelspec": before["metadata"]["kernelspec"],
                                 "language_info": before["metadata"]["language_info"]}
    assert [(c["id"], c["cell_type"], c["source"]) for c in after["cells"]] == [
        (c["id"], c["cell_type"], c["source"]) for c in before["cells"]]
    assert [c["metadata"] for c in after["cells"]] == [
        {}, {"tags": ["hide-input"], "jupyter": {"source_hidden": True}}, {"tags": ["remove-cell"]}, {}]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in after["cells"] if c["cell_type"] == "code")


def test_cleaning_twice_changes_nothing_and_clean_chapters_stay_byte_identical(tmp_path):
    path = write(tmp_path / "colab.ipynb", colab_notebook())
    assert run(path).returncode == 0
    once = path.read_bytes()
    second = run(path)
    assert second.returncode == 0 and second.stdout == "", second.stdout
    assert path.read_bytes() == once

    chapters = [p for p in clean_notebooks.book_notebooks() if not clean_notebooks.problems(clean_notebooks.load(p))]
    assert chapters, "no clean chapter to compare (tests/test_book.py says which are unclean)"
    copies = [shutil.copy(p, tmp_path / f"{i}-{p.name}") for i, p in enumerate(chapters)]
    assert run(*copies).returncode == 0
    for chapter, copy in zip(chapters, copies):
        assert Path(copy).read_bytes() == chapter.read_bytes(), f"cleaning rewrote the clean {chapter.name}"


@pytest.mark.parametrize("kernelspec", [{"name": "ir", "display_name": "R", "language": "R"}, None],
                         ids=["R kernel", "none"])
def test_a_kernel_other_than_python3_is_rejected_and_replaced(tmp_path, kernelspec):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    if kernelspec:
        nb.metadata["kernelspec"] = kernelspec
    path = write(tmp_path / "k.ipynb", json.loads(nbformat.writes(nb)))
    assert [f for f in clean_notebooks.problems(clean_notebooks.load(path)) if f.startswith("metadata.kernelspec")]
    assert run(path).returncode == 0
    assert clean_notebooks.load(path)["metadata"]["kernelspec"] == clean_notebooks.KERNELSPEC


def test_check_names_the_notebook_and_key_and_changes_nothing(tmp_path):
    path = write(tmp_path / "colab.ipynb", colab_notebook())
    text = path.read_bytes()
    result = run("--check", path)
    assert result.returncode == 1
    assert f"unclean: {path}" in result.stdout
    assert "cell 1 (code, 'import adamcourse'): metadata.executionInfo" in result.stdout
    assert path.read_bytes() == text


@pytest.mark.parametrize("content", ['{"cells": []}', "not json", None], ids=["no nbformat", "not json", "missing"])
def test_a_file_that_is_not_a_notebook_is_refused_by_name(tmp_path, content):
    path = tmp_path / "bad.ipynb"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run(path)
    assert result.returncode == 2 and f"{path}:" in result.stderr, result.stderr
    assert content is None or path.read_text(encoding="utf-8") == content
