"""Wall time of each chapter and lab, executed top to bottom in a fresh kernel, as a student would run it.

Prints one JSON object:
``{"machine": str, "quick": bool, "results": [{"notebook": str, "seconds": float, "cells": int}, ...]}``.
Each notebook runs in its own new kernel (nbclient, the executor the book build uses), from its own folder,
with ``ADAMCOURSE_QUICK`` set as asked; the time includes the kernel's start and its imports.

Usage: ``python benchmarks/chapters.py [--quick] [notebooks ...]`` (default: every notebook under book/).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from adamcourse.runtime import describe_machine

ROOT = Path(__file__).resolve().parents[1]



def run(path: Path, quick: bool, timeout: float) -> dict:
    nb = nbformat.read(path, as_version=4)
    os.environ["ADAMCOURSE_QUICK"] = "1" if quick else "0"  # the kernel inherits the environment
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return {"notebook": str(name), "seconds": round(time.perf_counter() - start, 2),
            "cells": sum(c.cell_type == "code" for c in nb.cells)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every .ipynb under book/")
    parser.add_argument("--quick", action="store_true", help="set ADAMCOURSE_QUICK=1 (the tests' settings)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per cell")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "book").rglob("*.ipynb"))
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    results = [run(p, args.quick, args.timeout) for p in paths]
    print(json.dumps({"machine": describe_machine(), "quick": args.quick, "results": results}, indent=1))


if __name__ == "__main__":
    main()
