"""Time to target for each lab: the CNN on the digits, the GRU on the digits read row by row, and the
character-level language model on the Python standard library's source.

Prints one JSON object:
``{"machine": str, "results": [{"lab", "device", "optimizer", "metric", "value", "train_s"[, "unigram_bpc"]},
...]}`` with ``lab`` one of ``"cnn"``, ``"rnn_classifier"``, ``"char_lm"``; ``metric`` ``"test_accuracy"``
(the two classifiers, on the digits' test split) or ``"val_bpc"`` (the language model, bits per character on
the validation files, next to ``unigram_bpc``, the same for a unigram model). ``train_s`` is the seconds of
training (evaluation excluded), each lab capped by ``max_time_s``. Targets on a 2-core CPU: the CNN >= 98 %
test accuracy in <= 30 s, the GRU >= 95 % in <= 60 s, the language model at least 1 bit per character below
the unigram model in <= 90 s.

Usage: ``python benchmarks/labs.py [--labs cnn rnn_classifier char_lm] [--devices cpu cuda] [--threads 1]
[--quick]`` (``--quick``: a few steps of each, to check the script, not the targets).
"""

from __future__ import annotations

import argparse
import json

import torch

from adamcourse import data, models
from adamcourse.optim import Adam
from adamcourse.runtime import describe_machine, seed_everything
from adamcourse.train import evaluate, fit

LABS = ("cnn", "rnn_classifier", "char_lm")


def train_and_val(images: data.ImageData) -> data.Split:
    """The training and validation splits together: with a fixed budget nothing is chosen on validation."""
    return data.Split(torch.cat([images.train.x, images.val.x]), torch.cat([images.train.y, images.val.y]))


def classifier(lab: str, device: str, quick: bool) -> dict:
    """The CNN (``lab="cnn"``) or the GRU (``"rnn_classifier"``) on the digits: Adam, cosine decay."""
    images = data.load_digits()
    if lab == "cnn":
        model = models.SmallCNN(width=16, dropout=0.3)
        lr, epochs, max_time_s = 3e-3, 30, 25.0
    else:
        images = data.digit_sequences(images)  # (N, T=8, C=8): one row of pixels a step
        model = models.RNNClassifier(8, 128, 10, cell="gru")
        lr, epochs, max_time_s = 1e-2, 60, 50.0
    if quick:
        epochs, max_time_s = 1, 10.0
    train = data.ArrayLoader(*train_and_val(images), batch_size=64, seed=0).to(device)
    test = data.ArrayLoader(*images.test, batch_size=1024, shuffle=False).to(device)
    optimizer = Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(train))
    history = fit(model, train, None, optimizer, epochs, device=device, scheduler=scheduler,
                  max_time_s=max_time_s, progress=False)
    _, accuracy = evaluate(model, test, device=device)
    return {"lab": lab, "device": device, "optimizer": "Adam", "metric": "test_accuracy",
            "value": round(accuracy, 4), "train_s": round(history.epoch_time[-1], 2)}


def char_lm(device: str, quick: bool) -> dict:
    """A GRU language model on the standard library's source (split by file), Adam with gradient clipping."""
    corpus = data.load_char_corpus(max_chars=200_000 if quick else 2_000_000)
    block, batch = 64, 32
    steps, epochs, max_time_s = (5, 1, 10.0) if quick else (100, 40, 60.0)
    model = models.CharRNN(corpus.vocab_size, embed_dim=64, hidden_size=256, cell="gru")
    train = data.CharWindows(corpus.train, block_size=block, batch_size=batch, steps=steps, seed=0).to(device)
    n = min((corpus.val.numel() - 1) // block, 16 if quick else 512)  # consecutive windows of the validation text
    x = corpus.val[: n * block].view(n, block)              # (n, T)
    y = corpus.val[1: n * block + 1].view(n, block)         # (n, T): the next characters
    val = data.ArrayLoader(x, y, batch_size=128, shuffle=False).to(device)
    optimizer = Adam(model.parameters(), lr=3e-3)
    history = fit(model, train, None, optimizer, epochs, device=device, metric="bpc", clip_grad_norm=1.0,
                  max_time_s=max_time_s, progress=False)
    _, bpc = evaluate(model, val, device=device, metric="bpc")
    return {"lab": "char_lm", "device": device, "optimizer": "Adam", "metric": "val_bpc", "value": round(bpc, 4),
            "train_s": round(history.epoch_time[-1], 2), "unigram_bpc": round(corpus.unigram_bpc(), 4)}



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", nargs="+", choices=LABS, default=list(LABS))
    parser.add_argument("--devices", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: these models are too small to gain from more; on the "
                             "2-core CI machine two threads took twice as long)")
    parser.add_argument("--quick", action="store_true", help="a few steps of each lab: checks the script only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    for device in args.devices:
        for lab in args.labs:
            seed_everything(0)
            results.append(char_lm(device, args.quick) if lab == "char_lm" else classifier(lab, device, args.quick))
    print(json.dumps({"machine": describe_machine(), "results": results}, indent=1))


if __name__ == "__main__":
    main()
