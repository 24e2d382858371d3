"""The labs' models (adamcourse.models): output shapes, gradients reach every parameter, bad arguments."""

from __future__ import annotations

import pytest
import torch

from adamcourse import models

CASES = [
    ("SmallCNN digits", lambda: models.SmallCNN(), (2, 1, 8, 8), (2, 10)),
    ("SmallCNN MNIST", lambda: models.SmallCNN(in_channels=1, num_classes=10, width=8), (2, 1, 28, 28), (2, 10)),
    ("SmallCNN RGB dropout", lambda: models.SmallCNN(in_channels=3, num_classes=5, width=4, dropout=0.3),
     (3, 3, 32, 32), (3, 5)),
    ("KingmaBaCNN", lambda: models.KingmaBaCNN(), (2, 3, 32, 32), (2, 10)),
    ("KingmaBaCNN dropout", lambda: models.KingmaBaCNN(dropout=0.5), (2, 3, 32, 32), (2, 10)),
    ("RNNClassifier gru", lambda: models.RNNClassifier(8, 16, 10), (4, 8, 8), (4, 10)),
    ("RNNClassifier lstm 2 layers", lambda: models.RNNClassifier(8, 16, 3, cell="lstm", num_layers=2),
     (4, 5, 8), (4, 3)),
]


@pytest.mark.parametrize("name, make, in_shape, out_shape", CASES, ids=[c[0] for c in CASES])
def test_output_shape_and_gradients(name, make, in_shape, out_shape):
    torch.manual_seed(0)
    model = make()
    out = model(torch.rand(in_shape))
    assert out.shape == out_shape and out.dtype == torch.float32
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters()), "every parameter gets a gradient"


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_char_rnn_shape(cell):
    model = models.CharRNN(vocab_size=30, embed_dim=8, hidden_size=16, cell=cell, num_layers=2)
    ids = torch.randint(0, 30, (3, 7))                        # (B, T)
    assert model(ids).shape == (3, 7, 30)                     # (B, T, V)


def test_char_rnn_is_causal():
    """The logits at position t depend on ids[:, :t + 1] only: a language model may not see the future."""
    torch.manual_seed(0)
    model = models.CharRNN(vocab_size=10, embed_dim=4, hidden_size=8)
    ids = torch.randint(0, 10, (2, 6))
    changed = ids.clone()
    changed[:, 4:] = (ids[:, 4:] + 1) % 10
    torch.testing.assert_close(model(ids)[:, :4], model(changed)[:, :4])


def test_rnn_classifier_reads_the_last_state():
    """Changing only the last time step changes the logits (they come from the final hidden state)."""
    torch.manual_seed(0)
    model = models.RNNClassifier(3, 8, 2)
    x = torch.rand(1, 5, 3)
    y = x.clone()
    y[:, -1] += 1.0
    assert not torch.allclose(model(x), model(y))


def test_unknown_cell_raises():
    with pytest.raises(ValueError, match="cell must be one of"):
        models.RNNClassifier(8, 16, 10, cell="rnn")
    with pytest.raises(ValueError, match="cell must be one of"):
        models.CharRNN(10, cell="transformer")
