"""Grading kit: students ``check`` their answers in the notebook; instructors release and grade.

>>> from adamcourse.grading import check    # then, in a notebook: check("adam_step", adam_step)

``check`` and ``EXERCISES`` are loaded on first use, so that the student's side of grading
(:mod:`adamcourse.grading.child`), which imports this package, loads none of the judge.
"""

__all__ = ["check", "EXERCISES"]


def __getattr__(name):
    if name == "check":
        from .check import check
        globals()["check"] = check   # importing .check bound the submodule to this name: the function wins
        return check
    if name == "EXERCISES":
        from .spec import EXERCISES
        globals()["EXERCISES"] = EXERCISES
        return EXERCISES
    raise AttributeError(f"module 'adamcourse.grading' has no attribute {name!r}")
