"""The benchmark scripts run and print the JSON they promise (tiny sizes: this checks the script, not speed)."""

from __future__ import annotations

import json
import subprocess
import sys

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
