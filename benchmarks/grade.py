"""Wall-clock time to grade a class: N submissions (right, wrong and hostile) with the hidden cases.

The submissions are copies of the grading fixtures (tests/fixtures/grading/submissions), cycled in a fixed mix:
about half correct, a quarter with ordinary mistakes, a quarter hostile (loops, crashes, a memory bomb, a
process left running). Prints one JSON object:
``{"submissions": int, "jobs": int, "wall_s": float, "per_submission_s": float}``.

Usage: ``python benchmarks/grade.py [--n 50] [--jobs 2] [--cell-timeout 3] [--exercise-timeout 3] [--timeout 20]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from adamcourse.grading.grade import Limits, grade

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "grading" / "submissions"

# 20 entries: 10 right, 5 wrong, 5 hostile; cycled to N submissions.
MIX = ["reference", "folder_student/week3", "duplicated_cell", "magics_and_shell", "exception_first_cell",
       "reference", "sys_exit", "reference", "huge_output", "reference",
       "no_bias_correction", "missing_function", "wrong_shape", "nan", "mutates_inputs",
       "loop_in_adam_step", "os_exit", "segfault", "memory_bomb", "child_left_running"]


def make_class(folder: Path, n: int) -> None:
    for i in range(n):
        name = MIX[i % len(MIX)]
        shutil.copyfile(FIXTURES / f"{name}.ipynb", folder / f"student{i:03d}.ipynb")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="submissions (default 50)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cell-timeout", type=float, default=3.0)
    parser.add_argument("--exercise-timeout", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per notebook")
    args = parser.parse_args()
    limits = Limits(cell_timeout=args.cell_timeout, exercise_timeout=args.exercise_timeout,
                    notebook_timeout=args.timeout)
    with tempfile.TemporaryDirectory(prefix="adamcourse-bench-") as tmp:
        make_class(Path(tmp), args.n)
        start = time.perf_counter()
        results = grade(tmp, hidden_dir=ROOT / "instructor", jobs=args.jobs, limits=limits)
        wall = time.perf_counter() - start
    assert len(results) == args.n
    print(json.dumps({"submissions": args.n, "jobs": args.jobs, "wall_s": round(wall, 2),
                      "per_submission_s": round(wall / args.n, 3)}))


if __name__ == "__main__":
    main()
