"""The ``adamcourse`` command: ``release``, ``grade``, ``gradescope`` and ``validate``.

::

    adamcourse release SRC --out DIR
    adamcourse grade SUBMISSIONS --out REPORT [--tests instructor/] [--jobs N] [--format csv|gradescope]
                     [--timeout S] [--cell-timeout S] [--exercise-timeout S] [--memory-mb MB]
                     [--unsafe-no-sandbox [--run-as USER]]
    adamcourse gradescope --tests instructor/ --out autograder.zip
    adamcourse validate [--tests instructor/]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

#: Student-signature exercise names whose references can be imported in a validation notebook.
_UNBLOCK = ("import sys\n"
            "for _name in ('adamcourse.optim', 'adamcourse.grading.references', 'adamcourse.grading.mistakes'):\n"
            "    sys.modules.pop(_name, None)  # the grader blocks the reference; validation is the instructor's\n"
            "from adamcourse.grading.references import REFERENCES\n")


def validation_notebooks(plan) -> tuple[dict, dict]:
    """A notebook that answers every exercise with the reference (functions imported from
    :mod:`adamcourse.grading.references`, values from the cases) and a stub notebook that answers nothing."""
    import nbformat.v4 as v4

    from .spec import ValueCase

    ref, stub = [_UNBLOCK], []
    from .spec import EXERCISES

    for case in plan.cases:
        name = case.exercise
        if EXERCISES[name].kind == "function":
            line = f"{name} = REFERENCES[{name!r}]\n"
            stub_line = f"def {name}(*args):\n    raise NotImplementedError('write your solution here')\n"
        elif isinstance(case, ValueCase):
            line, stub_line = f"{case.variable} = {case.expected_value!r}\n", f"{case.variable} = None\n"
        else:
            continue
        if line not in ref:
            ref.append(line)
            stub.append(stub_line)
    return (v4.new_notebook(cells=[v4.new_code_cell("".join(ref))]),
            v4.new_notebook(cells=[v4.new_code_cell("".join(stub))]))


def _limits(args):
    from .grade import Limits

    return Limits(cell_timeout=args.cell_timeout, exercise_timeout=args.exercise_timeout,
                  notebook_timeout=args.timeout, memory_bytes=args.memory_mb * 2**20, run_as=args.run_as)


def _plan(args, command: str):
    """The cases to run, hidden ones from ``--tests`` included; None (after a message) if they cannot load."""
    from .grade import Plan

    try:
        return Plan.build(args.tests)
    except Exception as e:  # an instructor file that does not import, a bad case, a missing folder
        print(f"adamcourse {command}: error: cannot load the tests from {args.tests}: {type(e).__name__}: {e}",
              file=sys.stderr)
        return None


def cmd_release(args) -> int:
    from .release import ReleaseError, release

    try:
        written = release(args.src, args.out)
    except (FileNotFoundError, ValueError, ReleaseError) as e:
        print(f"adamcourse release: error: {e}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    print(f"released {len(written)} notebook{'s' * (len(written) != 1)} into {args.out}", file=sys.stderr)
    return 0


def cmd_grade(args) -> int:
    from .grade import SandboxMissing, grade, write_reports

    plan = _plan(args, "grade")
    if plan is None:
        return 2

    def progress(r):
        print(f"{r.student}: {r.total:g}/{r.max:g} ({r.status}, {r.runtime_s:.1f} s)", file=sys.stderr)

    try:
        results = grade(args.submissions, jobs=args.jobs, limits=_limits(args), progress=progress, plan=plan,
                        unsafe=args.unsafe_no_sandbox)
    except (FileNotFoundError, SandboxMissing) as e:
        print(f"adamcourse grade: error: {e}", file=sys.stderr)
        return 2
    if not results:
        print(f"adamcourse grade: error: no submissions found in {args.submissions} "
              "(expected <student>/<notebook>.ipynb folders or <student>.ipynb files)", file=sys.stderr)
        return 2
    written = write_reports(results, args.out, args.format)
    print(f"graded {len(results)} submission{'s' * (len(results) != 1)}; reports: "
          f"{', '.join(str(p) for p in written[:3])}{', ...' if len(written) > 3 else ''}", file=sys.stderr)
    return 0


def cmd_gradescope(args) -> int:
    from .gradescope import build

    try:
        out = build(args.tests, args.out, args.timeout, args.exercise_timeout)
    except FileNotFoundError as e:
        print(f"adamcourse gradescope: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}: upload it as the assignment's autograder (Gradescope: Configure Autograder, zip file)",
          file=sys.stderr)
    return 0


def cmd_validate(args) -> int:
    import nbformat

    from .grade import SandboxMissing, grade

    plan = _plan(args, "validate")
    if plan is None:
        return 2
    ref, stub = validation_notebooks(plan)
    with tempfile.TemporaryDirectory(prefix="adamcourse-validate-") as tmp:
        nbformat.write(ref, Path(tmp) / "reference.ipynb")
        nbformat.write(stub, Path(tmp) / "stub.ipynb")
        try:
            results = {r.student: r for r in grade(tmp, jobs=2, limits=_limits(args), plan=plan,
                                                   unsafe=args.unsafe_no_sandbox)}
        except SandboxMissing as e:
            print(f"adamcourse validate: error: {e}", file=sys.stderr)
            return 2
    problems = []
    for c in results["reference"].cases:
        if not c.passed:
            problems.append(f"reference fails {c.exercise}: {c.case}{' (hidden)' * c.hidden}: {c.message}")
    for c in results["stub"].cases:
        if c.passed or c.points:
            problems.append(f"stub passes {c.exercise}: {c.case}{' (hidden)' * c.hidden}")
    n_hidden = sum(c.hidden for c in plan.cases)
    for line in problems:
        print(line, file=sys.stderr)
    ref_r, stub_r = results["reference"], results["stub"]
    print(f"reference: {ref_r.total:g}/{ref_r.max:g} ({ref_r.status}); stub: {stub_r.total:g}/{stub_r.max:g} "
          f"({stub_r.status}); {len(plan.cases)} cases, {n_hidden} hidden")
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adamcourse", description="The Adam Course's grading kit.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="strip solutions from instructor notebooks")
    p.add_argument("src", help="a notebook or a folder of notebooks")
    p.add_argument("--out", required=True, help="where to write the student notebooks")
    p.set_defaults(func=cmd_release)

    def limits(p):
        p.add_argument("--tests", help="folder of hidden test files (*.py defining HIDDEN_CASES)")
        p.add_argument("--timeout", type=float, default=600.0, help="seconds per notebook (default 600)")
        p.add_argument("--cell-timeout", type=float, default=60.0, help="seconds per cell (default 60)")
        p.add_argument("--exercise-timeout", type=float, default=30.0,
                       help="seconds for all the cases of one exercise (default 30)")
        p.add_argument("--memory-mb", type=int, default=2048, help="address-space limit per notebook (MB)")
        p.add_argument("--run-as", metavar="USER",
                       help="with --unsafe-no-sandbox, as root: run the students' code as this unprivileged "
                            "user (it cannot read the tests or write the reports)")
        p.add_argument("--unsafe-no-sandbox", action="store_true",
                       help="run the students' code without bubblewrap (resource limits only; every report "
                            "says so). Only for code you trust")

    p = sub.add_parser("grade", help="grade a folder of submissions")
    p.add_argument("submissions", help="folder of <student>/<notebook>.ipynb or <student>.ipynb")
    p.add_argument("--out", required=True, help="report folder (scores.csv, results.json, feedback/)")
    p.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    p.add_argument("--format", choices=("csv", "gradescope"), default="csv",
                   help="gradescope: also write Gradescope's results.json")
    limits(p)
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("gradescope", help="write a Gradescope autograder zip (setup.sh, run_autograder, tests)")
    p.add_argument("--tests", required=True, help="folder of hidden test files (*.py defining HIDDEN_CASES)")
    p.add_argument("--out", required=True, help="the zip to write (autograder.zip)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per notebook (default 600)")
    p.add_argument("--exercise-timeout", type=float, default=30.0,
                   help="seconds for all the cases of one exercise (default 30)")
    p.set_defaults(func=cmd_gradescope)

    p = sub.add_parser("validate", help="check that the reference scores full marks and a stub zero")
    limits(p)
    p.set_defaults(func=cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "jobs", 1) < 1:
        print("adamcourse grade: error: --jobs must be at least 1", file=sys.stderr)
        return 2
    if getattr(args, "run_as", None) and not args.unsafe_no_sandbox:
        print("adamcourse: error: --run-as goes with --unsafe-no-sandbox (the sandbox has its own users)",
              file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
