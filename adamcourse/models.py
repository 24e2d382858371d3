"""The labs' models: two CNNs for images, a recurrent classifier and a character-level language model.

Shapes: ``B`` batch, ``C`` channels, ``H x W`` image, ``T`` time steps, ``V`` vocabulary, ``K`` classes.

>>> import torch
>>> from adamcourse.models import SmallCNN
>>> SmallCNN()(torch.zeros(2, 1, 8, 8)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

import torch
from torch import nn

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def _cell(cell: str) -> type[nn.RNNBase]:
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    return CELLS[cell]


class SmallCNN(nn.Module):
    """Three 3x3 conv + batch-norm + ReLU layers with two 2x2 max-pools, then a two-layer classifier; for 8x8
    digits and 28x28 MNIST.

    Any image of at least 4x4 pixels works: the features are average-pooled to 2x2 before the classifier (a
    no-op for 8x8 inputs). ``dropout`` is applied before each of the two linear layers.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 32, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(2 * width)
        self.pool = nn.MaxPool2d(2)
        self.squeeze = nn.AdaptiveAvgPool2d(2)
        self.drop = nn.Dropout(dropout)
        self.fc1 = nn.Linear(2 * width * 2 * 2, 4 * width)
        self.fc2 = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` -> class logits ``(B, K)``."""
        x = torch.relu(self.bn1(self.conv1(x)))             # (B, w, H, W)
        x = self.pool(torch.relu(self.bn2(self.conv2(x))))  # (B, w, H/2, W/2)
        x = self.pool(torch.relu(self.bn3(self.conv3(x))))  # (B, 2w, H/4, W/4)
        x = self.drop(self.squeeze(x).flatten(1))           # (B, 2w * 2 * 2)
        x = self.drop(torch.relu(self.fc1(x)))              # (B, 4w)
        return self.fc2(x)                                  # (B, K)


class KingmaBaCNN(nn.Module):
    """The CIFAR-10 network of Kingma & Ba (2015, section 6.3): three stages of 5x5 convolution (64, 64, 128
    channels) + ReLU + 3x3 max-pool with stride 2, then a fully connected layer of 1000 ReLUs.

    ``dropout`` is applied to the input and to the fully connected layer, as in the paper's dropout runs.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.conv1 = nn.Conv2d(in_channels, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 64, 5, padding=2)
        self.conv3 = nn.Conv2d(64, 128, 5, padding=2)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.squeeze = nn.AdaptiveAvgPool2d(4)
        self.fc1 = nn.Linear(128 * 4 * 4, 1000)
        self.fc2 = nn.Linear(1000, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, 32, 32)`` -> class logits ``(B, K)``."""
        x = self.drop(x)                            # (B, C, 32, 32)
        x = self.pool(torch.relu(self.conv1(x)))    # (B, 64, 16, 16)
        x = self.pool(torch.relu(self.conv2(x)))    # (B, 64, 8, 8)
        x = self.pool(torch.relu(self.conv3(x)))    # (B, 128, 4, 4)
        x = self.squeeze(x).flatten(1)              # (B, 2048); a no-op reshape for 32x32 inputs
        x = self.drop(torch.relu(self.fc1(x)))      # (B, 1000)
        return self.fc2(x)                          # (B, K)


class RNNClassifier(nn.Module):
    """A GRU or LSTM that reads a sequence and classifies it from its last hidden state."""

    def __init__(self, input_size: int, hidden_size: int, num_classes: int, cell: str = "gru",
                 num_layers: int = 1):
        super().__init__()
        self.rnn = _cell(cell)(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Sequences ``(B, T, C)`` -> class logits ``(B, K)``."""
        out, _ = self.rnn(x)         # x (B, T, C) -> out (B, T, hidden), the top layer's states
        return self.head(out[:, -1])  # (B, K) from the state after the last step


class CharRNN(nn.Module):
    """A character-level language model: embedding, GRU or LSTM, and a linear read-out of the next character."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 256, cell: str = "gru",
                 num_layers: int = 1):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = _cell(cell)(embed_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Character ids ``(B, T)`` -> logits of the next character ``(B, T, V)``."""
        x = self.embed(ids)    # ids (B, T) -> (B, T, E)
        out, _ = self.rnn(x)   # (B, T, hidden)
        return self.head(out)  # (B, T, V): logits of the character after each position
