"""Grading kit: students ``check`` their answers in the notebook; instructors release and grade.

>>> from adamcourse.grading import check    # then, in a notebook: check("adam_step", adam_step)

``check`` and ``EXERCISES`` are loaded on first use, so that the student's side of grading
(:mod:`adamcourse.grading.child`), which imports this package, loads none of the judge.
"""

import importlib
import sys
import types

__all__ = ["check", "EXERCISES"]


class _Package(types.ModuleType):
    """This package, whose ``check`` attribute is always the function: importing the submodule of the same
    name (``adamcourse.grading.check``) would otherwise bind the module to it, whoever imported it first."""

    @property
    def check(self):
        return importlib.import_module(f"{__name__}.check").check

    @check.setter
    def check(self, value):   # the import system binds the submodule here: the function stays
        pass


def __getattr__(name):
    if name == "EXERCISES":
        from .spec import EXERCISES
        globals()["EXERCISES"] = EXERCISES
        return EXERCISES
    raise AttributeError(f"module 'adamcourse.grading' has no attribute {name!r}")


sys.modules[__name__].__class__ = _Package
