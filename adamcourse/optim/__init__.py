"""Optimizers as pure functions (``adam.init``/``adam.step``) and as drop-in ``torch.optim`` classes.

>>> from adamcourse.optim import adam, Adam   # the functional core and the torch.optim.Adam drop-in
"""

from . import adagrad, adam, adamax, adamw, nadam, rmsprop, sgd
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .nadam import NAdam
from .rmsprop import RMSprop
from .sgd import SGD

#: Every functional core, by the name of its torch.optim class.
CORES = {"SGD": sgd, "Adagrad": adagrad, "RMSprop": rmsprop, "Adam": adam, "AdamW": adamw,
         "Adamax": adamax, "NAdam": nadam}

__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam", "CORES",
           "sgd", "adagrad", "rmsprop", "adam", "adamw", "adamax", "nadam"]
