"""Optimizers as pure functions (``adam.init``/``adam.step``) and as drop-in ``torch.optim`` classes.

>>> from adamcourse.optim import adam, Adam   # the functional core and the torch.optim.Adam drop-in
"""

from . import adafactor, adagrad, adam, adam8bit, adamax, adamw, nadam, radam, rmsprop, sgd
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam
from .adam8bit import Adam8bit
from .adamax import Adamax
from .adamw import AdamW
from .nadam import NAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

#: Every functional core, by the name of its class (torch.optim's name; Adam8bit has no torch.optim twin).
CORES = {"SGD": sgd, "Adagrad": adagrad, "RMSprop": rmsprop, "Adam": adam, "AdamW": adamw,
         "Adamax": adamax, "NAdam": nadam, "RAdam": radam, "Adafactor": adafactor,
         "Adam8bit": adam8bit}

__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adafactor", "Adam8bit",
           "CORES",
           "sgd", "adagrad", "rmsprop", "adam", "adamw", "adamax", "nadam", "radam", "adafactor", "adam8bit"]
