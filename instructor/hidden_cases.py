"""Example hidden cases: what a course keeps out of the student's reach (not in the wheel).

``adamcourse grade SUBMISSIONS --tests instructor/`` and ``adamcourse validate --tests instructor/`` import
every ``*.py`` here that defines ``HIDDEN_CASES``. Students see these cases by name and result only.
"""

from adamcourse.grading.clip_case import ClipCase
from adamcourse.grading.recipe_case import RecipeCase
from adamcourse.grading.step_case import StepCase
from adamcourse.grading.train_case import DeviceTrainCase

_ADAMS = ("adam_step", "amsgrad_step", "adamw_step", "radam_step")

HIDDEN_CASES = [
    # float32-like scale: small parameters and gradients, a relative tolerance that still catches eps errors
    *(StepCase(ex, "float32-sized values (1e-3 scale)", shape=(5,), steps=6, seed=101, scale=1e-3, atol=1e-15)
      for ex in _ADAMS + ("rmsprop_step", "adagrad_step")),
    # large gradients: overflow-free, and bias correction dominates the first steps
    *(StepCase(ex, "large gradients (1e4 scale)", shape=(2, 2), steps=5, seed=102, scale=1e4)
      for ex in _ADAMS + ("rmsprop_step", "adagrad_step", "sgd_momentum_step")),
    # zero gradients from a mid-run (non-zero) state, then one more step: the state decays or stays as it should,
    # and returning the inputs unchanged fails (Adagrad's state does not move under zero gradients: the last step)
    *(StepCase(ex, "zero gradients from a non-zero state, then one step", shape=(3,), steps=4, zero_steps=3,
               seed=103, start_t=5, atol=1e-12)
      for ex in _ADAMS + ("rmsprop_step", "adagrad_step", "sgd_momentum_step")),
    # a long run from a late start: t enters the bias correction correctly
    *(StepCase(ex, "long run from t=50", shape=(4,), steps=60, seed=104, start_t=50, rtol=1e-6)
      for ex in _ADAMS),
    StepCase("sgd_momentum_step", "long run, no momentum", shape=(4,), steps=40, seed=105,
             hyper={"momentum": 0.0}),
    # the labs: the device-aware step with SGD under autocast, and the recipe on another split of the digits
    DeviceTrainCase("device_train_step", "40 SGD steps, lr 0.05, bf16 autocast", optimizer="sgd", lr=0.05,
                    steps=40, seed=7, amp=True, rtol=1e-4, atol=1e-6),
    RecipeCase("training_recipe", "SmallCNN on the digits, seed 1", seed=1),
    ClipCase("clip_grad_norm", "all-zero gradients (no 0/0)", scale=0.0, seed=8),
    ClipCase("clip_grad_norm", "a 0-d array among them, large norm", shapes=((), (5,), (2, 2)), scale=100.0,
             max_norm=0.5, seed=9),
]
