"""The benchmark scripts run and print the JSON they promise (tiny sizes: this checks the script, not speed)."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from book_build import ROOT


def test_optim_step_benchmark_prints_its_json():
    """--quick: two small sizes, every impl side by side with the copy bandwidth, the bandwidth model and the
    targets (the numbers are not checked: a quick run on a busy machine measures nothing)."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "optim_step.py"), "--quick", "--threads", "1",
                          "--devices", "cpu"], capture_output=True, text=True, check=True, timeout=300)
    report = json.loads(out.stdout)
    assert isinstance(report["machine"], str) and report["copy_GBps"] > 0 and report["quick"] is True
    assert report["copy"]["cpu"]["GBps"] == report["copy_GBps"] and report["bytes_per_param"] == 28
    rows = report["results"]
    impls = ("adamcourse", "adamcourse_compiled", "torch_forloop", "torch_foreach", "torch_fused")
    assert [(r["n_params"], r["impl"]) for r in rows] == [(n, impl) for n in (10_000, 100_000) for impl in impls]
    for r in rows:
        assert r["device"] == "cpu" and r["median_ms"] > 0 and r["repeats"] == 3 and r["first_steps_s"] >= 0
        assert abs(r["GBps"] - 28 * r["n_params"] / (r["median_ms"] * 1e-3) / 1e9) <= 0.01 * r["GBps"] + 0.01
        assert abs(r["fraction_of_copy"] - r["GBps"] / report["copy_GBps"]) <= 0.01 * r["fraction_of_copy"] + 1e-3
    assert [(t["device"], t["n_params"]) for t in report["targets"]] == [("cpu", 10_000), ("cpu", 100_000)]
    for t in report["targets"]:
        by = {r["impl"]: r for r in rows if r["n_params"] == t["n_params"]}
        assert t["compiled_over_fused"] == pytest.approx(
            by["adamcourse_compiled"]["median_ms"] / by["torch_fused"]["median_ms"], rel=0.01)
        assert t["met"] == {"compiled_within_1.3x_of_fused": t["compiled_over_fused"] <= 1.3,
                            "compiled_at_least_60pct_of_copy": t["compiled_fraction_of_copy"] >= 0.6,
                            "readable_within_2x_of_forloop": t["readable_over_forloop"] <= 2.0}


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


def test_memory_benchmark_measures_each_formula():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "memory.py"), "--quick"], capture_output=True,
                         text=True, check=True, timeout=300)
    report = json.loads(out.stdout)
    assert isinstance(report["machine"], str) and report["n_params"] > 10_000 and report["n_tensors"] > 2
    rows = {r["optimizer"]: r for r in report["results"]}
    assert list(rows) == ["SGD", "SGD+momentum", "Adagrad", "RMSprop", "Adam", "AMSGrad", "AdamW", "Adam8bit",
                          "Adafactor"]
    for name, r in rows.items():  # every formula is exact, step counters and per-block scales included
        assert r["state_bytes"] == r["formula_bytes"], name
        assert r["bytes_per_param"] == round(r["state_bytes"] / report["n_params"], 4), name
    textbook = {"SGD": 0, "SGD+momentum": 4, "Adagrad": 4, "RMSprop": 4, "Adam": 8, "AMSGrad": 12, "AdamW": 8}
    for name, per_param in textbook.items():
        assert rows[name]["buffers_bytes_per_param"] == per_param, name
        assert abs(rows[name]["bytes_per_param"] - per_param) < 0.01, name  # + 4 B of step per tensor
    assert rows["SGD"]["state_bytes"] == 0
    assert 2 < rows["Adam8bit"]["bytes_per_param"] < 2.1 and rows["Adam8bit"]["buffers_bytes_per_param"] == 2.0039
    assert rows["Adafactor"]["bytes_per_param"] < rows["RMSprop"]["bytes_per_param"] / 2  # factored v


def test_zero_benchmark_prints_its_json():
    """Two gloo processes with ZeroRedundancyOptimizer train as one process does, each with about half the state."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "zero.py"), "--quick"], capture_output=True,
                         text=True, check=True, timeout=300)
    report = json.loads(out.stdout)
    assert isinstance(report["machine"], str) and report["world_size"] == 2 and report["quick"] is True
    assert report["steps"] == 8 and report["n_params"] > 10_000
    assert 0 <= report["max_param_diff"] <= 1e-6
    per_rank, single = report["state_bytes_per_rank"], report["state_bytes_single"]
    assert len(per_rank) == 2 and sum(per_rank) == single > 8 * report["n_params"]
    assert report["state_fraction_per_rank"] == [round(b / single, 4) for b in per_rank]
    assert all(0.4 < f < 0.6 for f in report["state_fraction_per_rank"])
    assert report["single_s"] > 0 and report["distributed_s"] > 0
