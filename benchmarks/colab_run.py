"""Run the reader notebooks as Colab would: a fresh environment with only what Colab has, "Run all".

The environment: a new virtual environment that sees, through a ``.pth`` file, only the distributions Colab
ships that the course touches (torch, numpy, scipy, matplotlib, scikit-learn, tqdm, nbformat, IPython,
ipykernel, pip, setuptools and everything they require), ipywidgets 7.7.1 (``.venv/ipywidgets7``, what Colab
has shipped) and no ``adamcourse``; its own kernel. Each notebook of ``_build/notebooks/`` (``make notebooks``)
is executed top to bottom by nbclient, stopping at the first error as "Run all" does, with
``ADAMCOURSE_INSTALL`` pointed at this checkout (``git+file://``; pip runs offline, ``--no-index``). The first
notebook's first code cell installs the library; the later ones find it. torch and numpy must be the same
files before and after.

Prints one JSON object::

    {"machine": str, "source": str, "torch_unchanged": bool, "numpy_unchanged": bool,
     "results": [{"notebook": str, "seconds": float, "install_seconds": float | null, "error": str}, ...]}

``install_seconds`` is the first code cell's wall time when it installed the library. Usage:
``python benchmarks/colab_run.py [--source REQ] [NOTEBOOK ...]`` (paths under ``_build/notebooks/``;
default: one Foundations chapter and one lab). ``tests/test_colab_run.py`` runs the same functions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
from importlib import metadata
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "_build" / "notebooks"
WIDGETS7 = ROOT / ".venv" / "ipywidgets7"
DEFAULT = ["foundations/gradient-descent.ipynb", "labs/cnn.ipynb"]
#: What Colab ships and the course touches (their requirements are added): no adamcourse, no Jupyter Book.
COLAB_HAS = ["torch", "numpy", "scipy", "matplotlib", "scikit-learn", "tqdm", "nbformat", "ipython", "ipykernel",
             "pip", "setuptools", "PyYAML"]


def _closure(names: list[str]) -> set[str]:
    """The installed distributions ``names`` need, recursively (markers for extras are skipped)."""
    seen, todo = set(), list(names)
    while todo:
        name = re.split(r"[\s\[<>=!~;(]", todo.pop(), maxsplit=1)[0]
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(key)
        todo += [r for r in dist.requires or [] if "extra ==" not in r]
    return seen


def colab_environment(folder: Path) -> Path:
    """Create the Colab-like environment under ``folder``; return its python."""
    base = Path(sysconfig.get_paths()["purelib"])
    shim = folder / "colab-site-packages"
    shim.mkdir(parents=True)
    keep = _closure(COLAB_HAS)
    for dist in metadata.distributions():
        if dist.metadata["Name"].lower().replace("_", "-") not in keep:
            continue
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            entry = base / top
            if entry.exists() and not (shim / top).exists() and top != "__pycache__" and not top.endswith(".pth"):
                (shim / top).symlink_to(entry)
    env = folder / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", env], check=True)
    python = env / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "colab.pth").write_text(f"{WIDGETS7}\n{shim}\n")   # ipywidgets 7 first
    spec = env / "share" / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "colab-like", "language": "python"}))
    return python


def environment(python: Path, **extra: str) -> dict[str, str]:
    """Variables for a kernel of ``python``'s environment: offline pip, none of this session's paths."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "PIP_", "JUPYTER", "VIRTUAL_ENV", "ADAMCOURSE"))}
    return env | {"PYTHONNOUSERSITE": "1", "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",
                  "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_CONFIG_FILE": os.devnull,
                  "JUPYTER_PATH": str(python.parent.parent / "share" / "jupyter"),
                  "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"} | extra


PROBE = """\
import importlib.metadata as md, importlib.util, json, numpy, torch
spec = importlib.util.find_spec("adamcourse")
print(json.dumps({"adamcourse": spec and spec.origin, "torch": [md.version("torch"), torch.__file__],
                  "numpy": [md.version("numpy"), numpy.__file__],
                  "ipywidgets": md.version("ipywidgets")}))
"""


def probe(python: Path) -> dict:
    """Where adamcourse, torch and numpy come from in ``python``'s environment, and which ipywidgets."""
    out = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, env=environment(python),
                         cwd=python.parent, check=True)
    return json.loads(out.stdout)


def run_all(python: Path, notebook: Path, workdir: Path, **env: str) -> tuple[nbformat.NotebookNode, str, float]:
    """Execute ``notebook`` in a kernel of ``python``'s environment, from ``workdir``, stopping at the first
    error; return the executed notebook, the error ("" when every cell ran) and the wall time."""
    nb = nbformat.read(notebook, as_version=4)
    saved, kernel_env = dict(os.environ), environment(python, **env)
    os.environ.clear()
    os.environ.update(kernel_env)                        # the kernel inherits this process's environment
    start, error = time.perf_counter(), ""
    try:
        NotebookClient(nb, kernel_name="python3", timeout=900, record_timing=True,
                       resources={"metadata": {"path": str(workdir)}}).execute()
    except CellExecutionError as e:
        error = str(e)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb, error, time.perf_counter() - start


def cell_seconds(cell) -> float | None:
    """A cell's execution time from nbclient's timing metadata."""
    timing = cell.metadata.get("execution", {})
    if "shell.execute_reply" not in timing or "iopub.execute_input" not in timing:
        return None
    from datetime import datetime
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(timing["shell.execute_reply"]) - parse(timing["iopub.execute_input"])).total_seconds()


def main(argv: list[str] | None = None) -> int:
    from adamcourse.runtime import describe_machine

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", default=DEFAULT)
    parser.add_argument("--source", default=f"git+file://{ROOT}", help="ADAMCOURSE_INSTALL (default: this checkout)")
    parser.add_argument("--quick", action="store_true", help="ADAMCOURSE_QUICK=1 (the chapters' small settings)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        python = colab_environment(Path(tmp))
        before = probe(python)
        results = []
        for name in args.notebooks:
            nb, error, seconds = run_all(python, NOTEBOOKS / name, Path(tmp), ADAMCOURSE_INSTALL=args.source,
                                         ADAMCOURSE_QUICK="1" if args.quick else "0")
            first = next(c for c in nb.cells if c.cell_type == "code")
            installed = any("Installing adamcourse from" in o.get("text", "") for o in first.outputs)
            results.append({"notebook": name, "seconds": round(seconds, 1), "error": error[-2000:],
                            "install_seconds": round(cell_seconds(first), 1) if installed else None})
        after = probe(python)
    print(json.dumps({"machine": describe_machine(), "source": args.source, "quick": args.quick,
                      "ipywidgets": before["ipywidgets"],
                      "torch_unchanged": after["torch"] == before["torch"],
                      "numpy_unchanged": after["numpy"] == before["numpy"], "results": results}, indent=1))
    return 0 if all(not r["error"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
