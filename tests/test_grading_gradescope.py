"""The Gradescope autograder (`adamcourse gradescope`), run here the way Gradescope runs it: as root, on
/autograder/submission, into /autograder/results (a temporary AUTOGRADER_ROOT). Both paths are exercised:
bubblewrap's sandbox, and the fallback where the notebook runs as an unprivileged user (`nobody` here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from adamcourse.grading import sandbox
from adamcourse.grading.cli import main as cli_main

from book_build import ROOT

SUBMISSIONS = ROOT / "tests" / "fixtures" / "grading" / "submissions"
PROBE = """{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null, "source": [
"import glob, os\\n",
"root = os.environ.get('PROBE_ROOT', '/autograder')\\n",
"for path in glob.glob(root + '/source/tests/*.py') + [root + '/source/tests/hidden_cases.py']:\\n",
"    try:\\n        open(path).read(); print('READ', path)\\n    except OSError as e:\\n        print('DENIED', e)\\n",
"try:\\n    open(root + '/results/results.json', 'w').write('{}'); print('WROTE')\\n",
"except OSError as e:\\n    raise RuntimeError('results: ' + type(e).__name__)\\n"]}],
"metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
"nbformat": 4, "nbformat_minor": 5}"""


@pytest.fixture
def autograder(tmp_path):
    zip_path = tmp_path / "autograder.zip"
    assert cli_main(["gradescope", "--tests", str(ROOT / "instructor"), "--out", str(zip_path), "--timeout", "60",
                     "--exercise-timeout", "10"]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(root / "source")
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in z.infolist()}
    assert modes["run_autograder"] & 0o100 and modes["setup.sh"] & 0o100, "the scripts are executable"
    for name in ("run_autograder", "setup.sh"):
        (root / "source" / name).chmod(0o755)
    assert (root / "source" / "package" / "pyproject.toml").is_file()
    assert (root / "source" / "tests" / "hidden_cases.py").is_file()
    os.chmod(root / "source" / "tests", 0o700)          # what setup.sh does
    (root / "submission").mkdir()
    return root


def _reachable_by_nobody(tmp_path: Path) -> bool:
    """Whether this interpreter runs as the user nobody, the way the grader starts it."""
    workdir = tmp_path / "probe"
    workdir.mkdir()
    command = sandbox.unsafe_command([str(ROOT / ".venv" / "bin" / "python"), "-c", "import numpy"], workdir=workdir,
                                     memory_bytes=2**31, cpu_seconds=30, max_processes=64, file_bytes=2**24,
                                     user="nobody")
    return subprocess.run(command, capture_output=True).returncode == 0


def run(root: Path, **env) -> subprocess.CompletedProcess:
    venv = ROOT / ".venv" / "bin"
    return subprocess.run([str(root / "source" / "run_autograder")], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "AUTOGRADER_ROOT": str(root), "ADAMCOURSE_BIN": str(venv / "adamcourse"),
                               **env})


@pytest.mark.skipif(os.geteuid() != 0, reason="Gradescope runs the autograder as root; this test needs root")
@pytest.mark.parametrize("mode", ["sandbox", "student user"])
def test_run_autograder_grades_the_submission_and_guards_the_tests_and_results(autograder, tmp_path, mode):
    if mode == "sandbox" and sandbox.available() is None:
        pytest.skip("bubblewrap is not available here") if not os.environ.get("CI") else pytest.fail("no bwrap")
    if mode == "student user" and not _reachable_by_nobody(tmp_path):
        pytest.skip(f"this interpreter ({ROOT / '.venv/bin/python'}) lies where the user nobody cannot run it "
                    "(under /root); on Gradescope setup.sh installs it in /opt/adamcourse")
    shutil.copy(SUBMISSIONS / "no_bias_correction.ipynb", autograder / "submission" / "hw.ipynb")
    (autograder / "submission" / "probe.ipynb").write_text(PROBE)
    # one notebook per submission on Gradescope: grade the student's, then the probe in a second run
    (autograder / "submission" / "probe.ipynb").rename(tmp_path / "probe.ipynb")
    env = {"ADAMCOURSE_NO_BWRAP": "1", "ADAMCOURSE_STUDENT_USER": "nobody"} if mode == "student user" else {}
    done = run(autograder, **env)
    assert done.returncode == 0, done.stderr
    results = json.loads((autograder / "results" / "results.json").read_text())
    assert results["score"] == 40 and any(t["visibility"] == "after_published" for t in results["tests"])
    assert ("sandbox: none" in results["output"]) == (mode == "student user"), results["output"]
    # the probe: it may neither read the hidden tests nor write the results
    (autograder / "submission" / "hw.ipynb").unlink()
    shutil.copy(tmp_path / "probe.ipynb", autograder / "submission" / "probe.ipynb")
    done = run(autograder, PROBE_ROOT=str(autograder), **env)
    assert done.returncode == 0, done.stderr
    report = json.loads((autograder / "results" / "adamcourse_results.json").read_text())["students"][0]
    assert report["cell_errors"] and "results: PermissionError" in report["cell_errors"][0]["error"] \
        or "FileNotFoundError" in report["cell_errors"][0]["error"], report["cell_errors"]
    assert "READ" not in report["cell_errors"][0]["output"]
    assert json.loads((autograder / "results" / "results.json").read_text())["score"] == 0
