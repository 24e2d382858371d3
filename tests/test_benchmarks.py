"""The benchmark scripts run and print the JSON they promise (tiny sizes: this checks the script, not speed)."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from book_build import ROOT


def test_optim_step_benchmark_prints_its_json():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "optim_step.py"), "--sizes", "1000", "70000",
                          "--repeats", "2", "--devices", "cpu"], capture_output=True, text=True, check=True,
                         timeout=300)
    report = json.loads(out.stdout)
    assert isinstance(report["machine"], str) and report["copy_GBps"] > 0
    rows = report["results"]
    assert {(r["n_params"], r["impl"]) for r in rows} == {
        (n, impl) for n in (1000, 70000) for impl in ("adamcourse", "torch_forloop", "torch_foreach", "torch_fused")}
    assert all(r["device"] == "cpu" and r["median_ms"] > 0 for r in rows)


def test_grade_benchmark_prints_its_json():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "grade.py"), "--n", "4", "--jobs", "2"],
                         capture_output=True, text=True, check=True, timeout=600)
    report = json.loads(out.stdout)
    assert report["submissions"] == 4 and report["jobs"] == 2
    assert report["wall_s"] > 0 and abs(report["per_submission_s"] - report["wall_s"] / 4) < 0.01


def test_chapters_benchmark_runs_a_notebook_in_a_fresh_kernel(tmp_path):
    notebook = tmp_path / "tiny.ipynb"
    source = f"import os\nassert os.environ['ADAMCOURSE_QUICK'] == '1'\nassert os.getcwd() == {str(tmp_path)!r}"
    nbformat.write(new_notebook(cells=[new_code_cell(source)]), notebook)
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "chapters.py"), "--quick", str(notebook)],
                         capture_output=True, text=True, check=True, timeout=300)
    report = json.loads(out.stdout)
    assert report["quick"] is True
    assert [(r["notebook"], r["cells"]) for r in report["results"]] == [(str(notebook), 1)]
    assert report["results"][0]["seconds"] > 0


def test_labs_benchmark_prints_its_json():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "labs.py"), "--quick", "--devices", "cpu"],
                         capture_output=True, text=True, check=True, timeout=300)
    report = json.loads(out.stdout)
    rows = report["results"]
    assert isinstance(report["machine"], str)
    assert [r["lab"] for r in rows] == ["cnn", "rnn_classifier", "char_lm"]
    assert [r["metric"] for r in rows] == ["test_accuracy", "test_accuracy", "val_bpc"]
    assert all(r["device"] == "cpu" and r["train_s"] > 0 and r["optimizer"] for r in rows)
    assert all(0 <= r["value"] <= 1 for r in rows[:2]) and 0 < rows[2]["value"] and rows[2]["unigram_bpc"] > 0
    assert "unigram_bpc" not in rows[0] and "unigram_bpc" not in rows[1]
