r"""A bag-of-words logistic regression whose word frequencies follow Zipf's law: Kingma & Ba's Figure 1
setting (IMDB reviews as 10,000-word bags of words) in miniature, with a known optimum.

Word :math:`j = 1, \dots, d` (ranked by frequency) occurs in a document with probability
:math:`p_j = \min(1, c\, j^{-s})`, :math:`c` chosen so that a document holds ``words_per_doc`` words on average:
a few words are in most documents and most words are in almost none, so that most coordinates of a minibatch
gradient are exactly zero. The labels come from a logistic model with weights :math:`w^{\mathrm{true}}`, and
the objective is the mean logistic loss plus :math:`\tfrac{\lambda}{2}\lVert w\rVert^2`,

.. math::

    f(w) = \frac1n \sum_{i=1}^n \log\bigl(1 + e^{-\tilde y_i x_i^\top w}\bigr) + \frac{\lambda}{2}\lVert w\rVert^2,
    \qquad \tilde y_i = 2 y_i - 1 \in \{-1, 1\},

whose minimiser :math:`w^\star` :func:`zipf_bag_of_words` computes with L-BFGS.
:meth:`BagOfWords.group_loss` splits the loss of a run by words: the loss that the learned weights of one
group of words (the frequent, the rare) add when the other weights are at the optimum.

>>> from adamcourse.bow import zipf_bag_of_words
>>> bow = zipf_bag_of_words(n_docs=500, vocab=100, seed=0)
>>> bow.X.shape, bool(bow.frequency[0] > 0.5 > 0.05 > bow.frequency[-1])
((500, 100), True)
>>> bool(abs(bow.f(bow.w_star) - bow.f_min) < 1e-12 and abs(bow.grad(bow.w_star)).max() < 1e-6)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["BagOfWords", "zipf_bag_of_words"]


@dataclass(frozen=True)
class BagOfWords:
    """The data (``X`` ``(n, d)`` of 0/1 word indicators, ``y`` ``(n,)`` of 0/1 labels), ``l2`` (:math:`\\lambda`),
    ``w_true`` (the weights that drew the labels), ``frequency`` (the share of documents holding each word,
    measured), ``w_star`` and ``f_min`` (the minimiser of :meth:`f` and its value)."""

    X: np.ndarray
    y: np.ndarray
    l2: float
    w_true: np.ndarray
    frequency: np.ndarray
    w_star: np.ndarray
    f_min: float

    @property
    def dim(self) -> int:
        return self.X.shape[1]

    def f(self, w: np.ndarray) -> np.ndarray:
        """The objective at ``w`` of shape ``(..., d)``: one value per leading index."""
        margins = (2 * self.y - 1) * np.einsum("nd,...d->...n", self.X, w)
        return np.logaddexp(0.0, -margins).mean(axis=-1) + 0.5 * self.l2 * (w * w).sum(axis=-1)

    def grad(self, w: np.ndarray) -> np.ndarray:
        """The full-batch gradient at ``w`` of shape ``(..., d)``."""
        w = np.asarray(w, dtype=np.float64)
        return self.minibatch_grad(w, np.broadcast_to(np.arange(len(self.y)), w.shape[:-1] + (len(self.y),)))

    def minibatch_grad(self, w: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The gradient of the loss over the documents ``rows`` (plus the L2 term) at ``w``.

        ``w`` ``(d,)`` with ``rows`` ``(B,)``, or a grid: ``w`` ``(K, d)`` with ``rows`` ``(K, B)``, one minibatch
        per member."""
        w = np.asarray(w, dtype=np.float64)
        rows = np.asarray(rows)
        if rows.shape[:-1] != w.shape[:-1]:
            raise ValueError(f"rows {rows.shape} needs one minibatch per row of w {w.shape}")
        X, s = self.X[rows], 2 * self.y[rows] - 1                     # (..., B, d), (..., B)
        margins = s * np.einsum("...bd,...d->...b", X, w)
        weights = -s / (1 + np.exp(margins))                          # d loss / d (x^T w)
        return np.einsum("...bd,...b->...d", X, weights) / rows.shape[-1] + self.l2 * w

    def group_loss(self, w: np.ndarray, group) -> np.ndarray:
        """:math:`f(w^\\star_{G \\leftarrow w}) - f^\\star`: the loss added by the weights of the words ``group``
        (indices or a slice) taken from ``w`` (shape ``(..., d)``), all other weights at the optimum."""
        mixed = np.broadcast_to(self.w_star, np.shape(w)).copy()
        mixed[..., group] = np.asarray(w)[..., group]
        return self.f(mixed) - self.f_min


def zipf_bag_of_words(n_docs: int = 2000, vocab: int = 500, *, exponent: float = 1.1, words_per_doc: float = 20.0,
                      l2: float = 1e-3, seed: int = 0) -> BagOfWords:
    r"""Draw a :class:`BagOfWords`: ``n_docs`` documents over ``vocab`` words, word :math:`j` present with
    probability :math:`\min(1, c\,j^{-s})` (:math:`s` = ``exponent``, about ``words_per_doc`` words per document),
    labels from :math:`w^{\mathrm{true}}_j \sim \mathcal N(0, 1)`, and the optimum of the L2-regularised loss
    (``l2`` :math:`> 0` keeps it finite when a rare word separates the data)."""
    for name, value, low in (("n_docs", n_docs, 2), ("vocab", vocab, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not (exponent > 0 and math.isfinite(exponent)):
        raise ValueError(f"exponent must be a finite number > 0, got {exponent!r}")
    if not 0 < words_per_doc < vocab:
        raise ValueError(f"words_per_doc must lie in (0, vocab = {vocab}), got {words_per_doc!r}")
    if not (l2 > 0 and math.isfinite(l2)):
        raise ValueError(f"l2 must be a finite number > 0, got {l2!r}")
    from scipy.optimize import brentq, minimize

    rng = np.random.default_rng(seed)
    ranks = np.arange(1, vocab + 1, dtype=np.float64)
    c = brentq(lambda c: np.minimum(1.0, c * ranks**-exponent).sum() - words_per_doc, 1e-9, 1e9)
    p = np.minimum(1.0, c * ranks**-exponent)
    X = (rng.random((n_docs, vocab)) < p).astype(np.float64)
    w_true = rng.standard_normal(vocab)
    y = (rng.random(n_docs) < 1 / (1 + np.exp(-X @ w_true))).astype(np.float64)
    X.flags.writeable = y.flags.writeable = False
    draft = BagOfWords(X, y, l2, w_true, X.mean(axis=0), np.zeros(vocab), 0.0)
    fit = minimize(lambda w: (draft.f(w), draft.grad(w)), np.zeros(vocab), jac=True, method="L-BFGS-B",
                   options={"maxiter": 10_000, "gtol": 1e-10, "ftol": 1e-15})
    return BagOfWords(X, y, l2, w_true, X.mean(axis=0), fit.x, float(draft.f(fit.x)))
