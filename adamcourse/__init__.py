"""adamcourse: the library behind the Adam Course (optimizers, test problems, plots)."""

__version__ = "0.1.0"
