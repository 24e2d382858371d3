"""Grading kit: students ``check`` their answers in the notebook; instructors release and grade.

>>> from adamcourse.grading import check    # then, in a notebook: check("adam_step", adam_step)
"""

from .check import check
from .spec import EXERCISES

__all__ = ["check", "EXERCISES"]
