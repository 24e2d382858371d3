"""``adamcourse gradescope --tests DIR --out autograder.zip``: an autograder that Gradescope runs as it is.

The zip holds ``setup.sh`` (run once when Gradescope builds the image: Python, bubblewrap, the course
library, an unprivileged ``student`` user, the hidden tests readable by root only), ``run_autograder`` (run
for each submission, as root: ``adamcourse grade`` on ``/autograder/submission`` into
``/autograder/results``, Gradescope's format) and ``source/``: the package and the tests.

What holds in the container depends on it. Where bubblewrap can create its namespaces, the notebook runs in
the full sandbox, as on any machine (``GUARANTEES["sandbox"]`` of :mod:`.sandbox`). Where it cannot
(Gradescope's containers have usually refused unprivileged user namespaces), ``run_autograder`` falls back to
``--unsafe-no-sandbox --run-as student``: the student's code runs as the unprivileged ``student`` user, which
cannot read the tests (mode 700, root's) or write the results folder (root's), under the same resource
limits, and everything it started is killed at the end; but it shares the container's network, process list
and file system view (what ``student`` may read), which the sandbox would hide. The README says the same.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip bubblewrap util-linux \\
  > /dev/null
python3 -m venv /opt/adamcourse
/opt/adamcourse/bin/pip install --quiet /autograder/source/package
# the students' code runs as this user when bubblewrap cannot start in the container
id student > /dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin student
chown -R root:root /autograder/source/tests
chmod -R go-rwx /autograder/source/tests
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission, as root. The hidden tests and the results are root's only; the
# student's notebook runs in bubblewrap's sandbox, or, where the container forbids it, as the user `student`.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
ADAMCOURSE="${ADAMCOURSE_BIN:-/opt/adamcourse/bin/adamcourse}"
PYTHON="$(dirname "$ADAMCOURSE")/python"
mkdir -p "$ROOT/results"
chmod 700 "$ROOT/results" "$ROOT/submission"
GRADE=("$ADAMCOURSE" grade "$ROOT/submission" --out "$ROOT/results" --format gradescope
       --tests "$ROOT/source/tests" --timeout @TIMEOUT@ --exercise-timeout @EXERCISE_TIMEOUT@)
if [ -z "${ADAMCOURSE_NO_BWRAP:-}" ] && "$PYTHON" -c \\
    "import sys; from adamcourse.grading import sandbox; sys.exit(sandbox.available() is None)"; then
  "${GRADE[@]}"
else
  echo "bubblewrap cannot start here: the notebook runs as the user ${ADAMCOURSE_STUDENT_USER:-student}" >&2
  "${GRADE[@]}" --unsafe-no-sandbox --run-as "${ADAMCOURSE_STUDENT_USER:-student}"
fi
"""


def _package_source() -> Path:
    """The checkout the package comes from (it must hold pyproject.toml: the zip installs it with pip)."""
    import adamcourse

    root = Path(adamcourse.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise FileNotFoundError(f"{root} has no pyproject.toml: build the autograder from a checkout of the course")
    return root


def build(tests: str | Path, out: str | Path, timeout: float = 600, exercise_timeout: float = 30) -> Path:
    """Write the autograder zip to ``out``; return its path. ``tests``: the hidden tests folder."""
    tests, out = Path(tests), Path(out)
    if not tests.is_dir() or not any(tests.glob("*.py")):
        raise FileNotFoundError(f"{tests} is not a folder of hidden test files (*.py defining HIDDEN_CASES)")
    root = _package_source()
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        (stage / "setup.sh").write_text(SETUP)
        (stage / "run_autograder").write_text(RUN.replace("@TIMEOUT@", f"{timeout:g}")
                                               .replace("@EXERCISE_TIMEOUT@", f"{exercise_timeout:g}"))
        for script in ("setup.sh", "run_autograder"):
            (stage / script).chmod(0o755)
        package = stage / "package"
        package.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(root / name, package / name)
        shutil.copytree(root / "adamcourse", package / "adamcourse",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shutil.copytree(tests, stage / "tests", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(stage.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo(str(path.relative_to(stage)))
                    info.external_attr = (stat.S_IFREG | path.stat().st_mode & 0o777) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    z.writestr(info, path.read_bytes())
    return out
