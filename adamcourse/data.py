r"""The labs' data: real images and text that are always available offline, and minibatch iterators.

- :func:`load_digits`: scikit-learn's bundled 8x8 handwritten digits (1,797 real images, no network).
- :func:`load_images`: the digits, or MNIST, Fashion-MNIST and CIFAR-10 from their official sources, cached on
  disk and verified by MD5 (downloads go to a temporary file, are checked, then renamed into place).
- :func:`digit_sequences`: images read row by row, ``(N, T=H, C=C*W)``, for a recurrent classifier.
- :func:`load_char_corpus`: a character-level corpus; by default the Python standard library's own source
  files (present on every machine), split *by file* into train and validation.
- :class:`ArrayLoader` and :class:`CharWindows`: re-iterable minibatches over tensors already in memory
  (ideally on the device), with no ``DataLoader`` workers and no per-batch host work.

Example::

    >>> from adamcourse import data
    >>> digits = data.load_digits()
    >>> digits.train.x.shape, digits.classes[:3]
    (torch.Size([1258, 1, 8, 8]), ('0', '1', '2'))
    >>> batches = data.ArrayLoader(*digits.train, batch_size=64)
    >>> x, y = next(iter(batches))                    # x (64, 1, 8, 8), y (64,)
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import pickle
import sysconfig
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

# ---------------------------------------------------------------- containers


class Split(NamedTuple):
    """One split. ``x``: images ``(N, C, H, W)`` float32 in [0, 1], or sequences ``(N, T, C)``; ``y``: ``(N,)``
    int64 class labels. Tensors are on the CPU unless moved."""

    x: torch.Tensor
    y: torch.Tensor


class ImageData(NamedTuple):
    """Train, validation and test splits of one data set, its class names and its name."""

    train: Split
    val: Split
    test: Split
    classes: tuple[str, ...]
    name: str


Split.x.__doc__ = "The inputs, images ``(N, C, H, W)`` float32 in [0, 1] or sequences ``(N, T, C)``."
Split.y.__doc__ = "Class labels, ``(N,)`` int64."
ImageData.train.__doc__ = "The training split."
ImageData.val.__doc__ = "The validation split, held out from training."
ImageData.test.__doc__ = "The test split, held out from training and validation."
ImageData.classes.__doc__ = "The class names, indexed by label."
ImageData.name.__doc__ = "The data set's name, as shown in plots and tables."


class DownloadError(OSError):
    """A file could not be downloaded, or what arrived is not the published file."""


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")


def _split_indices(y: np.ndarray, fractions: list[float], seed: int) -> list[np.ndarray]:
    """Stratified, deterministic split: for each class, a seeded permutation cut at the fractions.

    Each class gives its share rounded down, and the examples left over by rounding go to the classes with the
    largest remainders, so a part holds ``round(fraction * N)`` examples even when classes are small. Returns
    one index array per fraction, then the rest; each sorted (original order).
    """
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    perms = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    cuts = np.zeros(len(classes), dtype=int)
    all_cuts = []
    for cumulative in np.cumsum(fractions):
        exact = cumulative * counts
        take = np.floor(exact).astype(int)
        short = int(round(cumulative * len(y))) - int(take.sum())
        by_remainder = np.lexsort((rng.random(len(classes)), -(exact - take)))  # largest remainder first
        take[by_remainder[:max(short, 0)]] += 1
        cuts = np.maximum(np.minimum(take, counts), cuts)
        all_cuts.append(cuts)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for k, idx in enumerate(perms):
        for part, chunk in zip(parts, np.split(idx, [c[k] for c in all_cuts]), strict=True):
            part.append(chunk)
    return [np.sort(np.concatenate(p)) for p in parts]


def _split(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> Split:
    return Split(torch.from_numpy(np.ascontiguousarray(x[idx])), torch.from_numpy(y[idx].astype(np.int64)))


# ---------------------------------------------------------------- images

DIGIT_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz")
_CIFAR_FILE = "cifar-10-python.tar.gz"

# The published MD5 of every file (the values torchvision checks: torchvision/datasets/mnist.py, cifar.py).
# A test may pass its own table as ``load_images(..., checksums={filename: md5})``.
CHECKSUMS: dict[str, dict[str, str]] = {
    "mnist": dict(zip(_MNIST_FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                     "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
                      strict=True)),
    "fashion_mnist": dict(zip(_MNIST_FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                             "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
                              strict=True)),
    "cifar10": {_CIFAR_FILE: "c58f30108f718f92721af3b95e74349a"},
}
# Official sources, tried in order. MNIST's canonical host (yann.lecun.com) is often down: the mirror first.
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    "fashion_mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
}
DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")


def load_digits(*, val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0) -> ImageData:
    """scikit-learn's bundled handwritten digits: 1,797 real 8x8 images, 10 classes, no network needed.

    ``x`` is ``(N, 1, 8, 8)`` float32 in [0, 1] (the 0..16 pixel counts divided by 16). The split is
    stratified and deterministic for a given ``seed``: ``test_fraction`` and ``val_fraction`` of each class
    (fractions of the whole set), the rest for training.
    """
    _check_fraction("val_fraction", val_fraction)
    _check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}")
    from sklearn.datasets import load_digits as sklearn_digits  # bundled with scikit-learn: no download

    bunch = sklearn_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8)
    y = bunch.target.astype(np.int64)  # (N,)
    test, val, train = _split_indices(y, [test_fraction, val_fraction], seed)
    return ImageData(_split(x, y, train), _split(x, y, val), _split(x, y, test), DIGIT_CLASSES, "digits")


def default_root() -> Path:
    """Where downloads are cached: ``$ADAMCOURSE_DATA``, else ``~/.cache/adamcourse``."""
    return Path(os.environ.get("ADAMCOURSE_DATA") or Path.home() / ".cache" / "adamcourse")


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_idx(path: Path) -> np.ndarray:
    """Parse a gzipped idx file (MNIST's format): magic ``00 00 08 ndim``, ndim big-endian uint32 sizes,
    then the uint8 data."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (EOFError, OSError, gzip.BadGzipFile) as err:
        raise DownloadError(f"truncated or corrupt gzip file {path}: {err}") from err
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise DownloadError(f"{path} is not an idx file of unsigned bytes (header {raw[:4]!r})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).copy()  # writable, for torch
    if data.size != math.prod(shape):
        raise DownloadError(f"truncated idx file {path}: header says {shape}, found {data.size} values")
    return data.reshape(shape)


def _read_cifar(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read CIFAR-10's python batches straight from the tar.gz (nothing extracted): x (N, 3, 32, 32) uint8, y (N,)."""
    wanted = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = member.name.rsplit("/", 1)[-1]
                if name in wanted and member.isfile():
                    # The batches are pickles, and unpickling can run code: we only get here after the
                    # archive's MD5 matched the published one (or the table the caller supplied).
                    batches[name] = pickle.load(tar.extractfile(member), encoding="bytes")
    except (EOFError, OSError, tarfile.TarError, pickle.UnpicklingError) as err:
        raise DownloadError(f"truncated or corrupt archive {path}: {err}") from err
    missing = [n for n in wanted if n not in batches]
    if missing:
        raise DownloadError(f"{path} lacks the CIFAR-10 batches {missing}")

    def stack(names):
        x = np.concatenate([np.asarray(batches[n][b"data"], dtype=np.uint8) for n in names])
        y = np.concatenate([np.asarray(batches[n][b"labels"], dtype=np.int64) for n in names])
        return x.reshape(-1, 3, 32, 32), y

    return (*stack(wanted[:5]), *stack(wanted[5:]))


def _validate(path: Path, filename: str) -> None:
    """Parse a downloaded file fully before it enters the cache (catches a truncated gzip or tar)."""
    if filename.endswith(".tar.gz"):
        _read_cifar(path)
    else:
        _read_idx(path)


def _download(urls: list[str], dest: Path, md5: str, *, progress: bool = True, timeout: float = 30.0) -> None:
    """Fetch the first URL that answers into ``dest``: a temporary file in the same folder, checked (MD5 and
    format), then renamed into place with ``os.replace``. On any failure the temporary file is removed."""
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    reasons = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    with urllib.request.urlopen(url, timeout=timeout) as response:
                        total = int(response.headers.get("Content-Length") or 0) or None
                        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress,
                                  leave=False) as bar:
                            for chunk in iter(lambda r=response: r.read(1 << 20), b""):
                                out.write(chunk)
                                bar.update(len(chunk))
                except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as err:
                    reason = (f"HTTP {err.code} {err.reason}" if isinstance(err, urllib.error.HTTPError)
                              else getattr(err, "reason", None) or err)
                    reasons.append(f"{url} ({reason})")
                    tmp.unlink()
                    continue
            got = _md5(tmp)
            if got != md5:
                raise DownloadError(f"corrupt or truncated download of {dest.name} from {url}: expected md5 {md5}, "
                                    f"got {got} ({tmp.stat().st_size} bytes); nothing was cached, try again")
            _validate(tmp, dest.name)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache file is an ordinary file
            os.replace(tmp, dest)
            return
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    raise DownloadError(f"cannot download {dest.name} from {'; '.join(reasons)}; put the files in {dest.parent} "
                        f"or use load_digits()")


def _fetch(name: str, files: tuple[str, ...], folder: Path, *, download: bool, base_url: str | None,
           checksums: dict[str, str] | None, progress: bool) -> list[Path]:
    """Each file from the cache when its MD5 matches, else downloaded (if allowed)."""
    table = CHECKSUMS[name] if checksums is None else checksums
    mirrors = (base_url,) if base_url is not None else MIRRORS[name]
    paths = []
    for filename in files:
        path, md5 = folder / filename, table[filename]
        if not (path.is_file() and _md5(path) == md5):
            if not download:
                state = "is corrupt (wrong md5)" if path.is_file() else "is missing"
                raise DownloadError(f"{path} {state} and download=False; put the published file there "
                                    f"(md5 {md5}) or use load_digits()")
            _download([m.rstrip("/") + "/" + filename for m in mirrors], path, md5, progress=progress)
        paths.append(path)
    return paths


def load_images(name: str = "digits", *, root: str | os.PathLike | None = None, download: bool = True,
                val_fraction: float = 0.1, seed: int = 0, base_url: str | None = None,
                checksums: dict[str, str] | None = None, progress: bool = True) -> ImageData:
    """One of ``"digits"``, ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"`` as :class:`ImageData`.

    The digits come with scikit-learn (:func:`load_digits`). The others are read from their official files
    (MNIST's idx ``.gz`` files, CIFAR-10's python ``tar.gz``), downloaded once from the official sources (or
    ``base_url``) into ``root/name/`` (``root`` defaults to :func:`default_root`) and verified against the
    published MD5 (``checksums`` replaces that table, for tests). ``x`` is ``(N, C, H, W)`` float32 in [0, 1];
    the official test set is the test split and a stratified ``val_fraction`` of the training set the
    validation split.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(DATASETS)}")
    _check_fraction("val_fraction", val_fraction)
    if name == "digits":
        return load_digits(val_fraction=val_fraction, seed=seed)
    folder = Path(root if root is not None else default_root()) / name
    files = (_CIFAR_FILE,) if name == "cifar10" else _MNIST_FILES
    paths = _fetch(name, files, folder, download=download, base_url=base_url, checksums=checksums,
                   progress=progress)
    if name == "cifar10":
        x_train, y_train, x_test, y_test = _read_cifar(paths[0])
        classes = CIFAR10_CLASSES
    else:
        x_train, y_train, x_test, y_test = (_read_idx(p) for p in paths)
        x_train, x_test = x_train[:, None], x_test[:, None]  # (N, 1, 28, 28)
        classes = DIGIT_CLASSES if name == "mnist" else FASHION_CLASSES
    val, train = _split_indices(y_train, [val_fraction], seed)

    def split(x, y, idx=None):
        x, y = (x, y) if idx is None else (x[idx], y[idx])
        return Split(torch.from_numpy(x).float().div_(255.0), torch.from_numpy(y.astype(np.int64)))

    return ImageData(split(x_train, y_train, train), split(x_train, y_train, val), split(x_test, y_test),
                     classes, name)


def digit_sequences(data: ImageData) -> ImageData:
    """Images read row by row, for a recurrent classifier: ``(N, C, H, W) -> (N, T=H, C*W)``.

    The 8x8 digits become sequences of 8 steps with 8 features each (one row of pixels a step).
    """

    def rows(split: Split) -> Split:
        n, c, h, w = split.x.shape  # (N, C, H, W)
        return Split(split.x.permute(0, 2, 1, 3).reshape(n, h, c * w).contiguous(), split.y)  # (N, T, C)

    if data.train.x.dim() != 4:
        raise ValueError(f"digit_sequences needs images (N, C, H, W), got shape {tuple(data.train.x.shape)}")
    return ImageData(rows(data.train), rows(data.val), rows(data.test), data.classes, f"{data.name}-rows")


# ---------------------------------------------------------------- text


@dataclass(frozen=True, eq=False)
class CharCorpus:
    """A character-level corpus: token ids of the train and validation text and the vocabulary.

    ``vocab`` is the sorted string of every character in the corpus; id ``i`` stands for ``vocab[i]``.
    """

    train: torch.Tensor  # (N_train,) int64
    val: torch.Tensor  # (N_val,) int64
    vocab: str
    _codes: np.ndarray = field(init=False, repr=False)  # the vocabulary's code points, sorted

    def __post_init__(self):
        object.__setattr__(self, "_codes", np.array([ord(c) for c in self.vocab], dtype=np.uint32))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> torch.Tensor:
        """``(len(text),)`` int64 ids; a character outside the vocabulary raises ``ValueError``."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        ids = np.searchsorted(self._codes, codes).clip(max=len(self._codes) - 1)
        unknown = self._codes[ids] != codes
        if unknown.any():
            chars = sorted({chr(c) for c in codes[unknown]})[:10]
            raise ValueError(f"characters not in the vocabulary: {chars!r}")
        return torch.from_numpy(ids.astype(np.int64))

    def decode(self, ids) -> str:
        """The text of a sequence of ids (tensor, array or list)."""
        ids = ids.tolist() if hasattr(ids, "tolist") else ids
        return "".join(self.vocab[i] for i in ids)

    def unigram_bpc(self) -> float:
        r"""Bits per character on ``val`` of a unigram model fitted on ``train`` (add-one smoothing):
        :math:`-\frac{1}{N}\sum_i \log_2 p(c_i)`, :math:`p(c) = (n_c + 1) / (N_{train} + V)`."""
        counts = torch.bincount(self.train.cpu(), minlength=self.vocab_size).double() + 1.0
        log_p = counts.log2() - counts.sum().log2()
        return float(-log_p[self.val.cpu()].mean())


def _read_texts(path: Path | None) -> list[tuple[str, str]]:
    """(name, text) of each file: the standard library's top-level ``.py`` files by default, else one text
    file or every non-hidden UTF-8 file under a folder (binary files skipped). Sorted by name."""
    if path is None:
        files = sorted(Path(sysconfig.get_path("stdlib")).glob("*.py"))
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not any(s.startswith(".") for s in
                                                                             p.relative_to(path).parts))
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"no such file or folder: {path}")
    texts = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if text and "\x00" not in text:
            texts.append((str(f), text))
    if not texts:
        raise ValueError(f"no UTF-8 text found in {path if path is not None else 'the standard library'}")
    return texts


def load_char_corpus(path: str | os.PathLike | None = None, *, max_chars: int | None = None,
                     val_fraction: float = 0.1, seed: int = 0) -> CharCorpus:
    """A character-level corpus for a language model.

    By default the Python standard library's own top-level ``.py`` source files (about 4.7 million characters,
    on every machine with Python); or the text file, or folder of text files, at ``path``. Files are taken in
    a seeded random order up to ``max_chars`` characters (the last one cut), then split **by file**: whole files
    making up at most ``val_fraction`` of the characters (at least one file) are the validation text, the
    others the training text, so no file is in both. A single file is split by position instead (its last
    ``val_fraction`` is the validation text).
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    if max_chars is not None and max_chars < 2:
        raise ValueError(f"max_chars must be >= 2 (or None), got {max_chars!r}")
    texts = _read_texts(None if path is None else Path(path))
    order = np.random.default_rng(seed).permutation(len(texts))
    chosen, total = [], 0
    for i in order:
        text = texts[i][1]
        if max_chars is not None:
            text = text[: max_chars - total]
        chosen.append(text)
        total += len(text)
        if max_chars is not None and total >= max_chars:
            break
    if len(chosen) == 1:
        cut = len(chosen[0]) - max(1, round(val_fraction * len(chosen[0])))
        val_text, train_text = chosen[0][cut:], chosen[0][:cut]
    else:
        # Fill the validation text greedily, in the seeded order, with whole files that keep it within
        # val_fraction of the characters (at least one file; then at least one file is left for training).
        in_val, chars = [False] * len(chosen), 0
        for i, text in enumerate(chosen):
            if chars + len(text) <= val_fraction * total:
                in_val[i], chars = True, chars + len(text)
        if not any(in_val):
            in_val[min(range(len(chosen)), key=lambda i: len(chosen[i]))] = True
        val_text = "".join(t for t, v in zip(chosen, in_val, strict=True) if v)
        train_text = "".join(t for t, v in zip(chosen, in_val, strict=True) if not v)
    vocab = "".join(sorted(set(train_text) | set(val_text)))
    corpus = CharCorpus(torch.empty(0, dtype=torch.int64), torch.empty(0, dtype=torch.int64), vocab)
    return CharCorpus(corpus.encode(train_text), corpus.encode(val_text), vocab)


# ---------------------------------------------------------------- minibatches


def _check_batch_size(batch_size: int) -> None:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")


class ArrayLoader:
    """Re-iterable minibatches over tensors already in memory, ideally on the device.

    Each pass over the loader is one epoch: with ``shuffle`` a fresh permutation is drawn from a seeded CPU
    ``torch.Generator`` (so the order differs between epochs and repeats for the same seed) and moved to the
    device once; each batch is a gather on the device with a slice of it. No ``DataLoader``, no per-batch
    host work.

    >>> x, y = torch.randn(100, 3), torch.arange(100)    # x (N, ...), y (N,)
    >>> loader = ArrayLoader(x, y, batch_size=64)
    >>> [tuple(xb.shape) for xb, yb in loader]           # the last batch may be smaller
    [(64, 3), (36, 3)]
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False):
        if not tensors:
            raise ValueError("ArrayLoader needs at least one tensor")
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            raise ValueError(f"tensors must share their first dimension, got {[tuple(t.shape) for t in tensors]}")
        _check_batch_size(batch_size)
        if drop_last and batch_size > n:
            raise ValueError(f"batch_size {batch_size} > {n} examples with drop_last=True gives no batch")
        self.tensors, self.batch_size, self.shuffle, self.seed, self.drop_last = (tuple(tensors), batch_size,
                                                                                   shuffle, seed, drop_last)
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def num_examples(self) -> int:
        """Examples one epoch yields (fewer than the data with ``drop_last``)."""
        n = self.tensors[0].shape[0]
        return n - n % self.batch_size if self.drop_last else n

    @property
    def device(self) -> torch.device:
        return self.tensors[0].device

    def __len__(self) -> int:
        n = self.tensors[0].shape[0]
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n, b = self.tensors[0].shape[0], self.batch_size
        if not self.shuffle:
            for start in range(0, self.num_examples, b):
                yield tuple(t[start: start + b] for t in self.tensors)  # views, no copy
            return
        order = torch.randperm(n, generator=self.generator).to(self.device)  # (N,), one transfer an epoch
        for start in range(0, self.num_examples, b):
            idx = order[start: start + b]  # (B,) on the device
            yield tuple(t[idx] for t in self.tensors)

    def to(self, device) -> ArrayLoader:
        """The same loader (same seed and generator state) over the tensors moved to ``device``."""
        moved = ArrayLoader(*(t.to(device) for t in self.tensors), batch_size=self.batch_size,
                            shuffle=self.shuffle, seed=self.seed, drop_last=self.drop_last)
        moved.generator.set_state(self.generator.get_state())
        return moved


class CharWindows:
    """Re-iterable random windows of a token stream for a language model (nanoGPT's ``get_batch``).

    Each pass yields ``steps`` batches ``(x, y)``: ``x`` ``(B, T)`` ids of random windows of ``block_size``
    tokens, ``y`` ``(B, T)`` the next token of each position (``x`` shifted by one). The window starts are
    drawn once an epoch from a seeded CPU generator and moved to the device in one transfer.

    >>> windows = CharWindows(torch.arange(100), block_size=8, batch_size=4, steps=10)
    >>> x, y = next(iter(windows))                       # x (4, 8), y (4, 8)
    >>> bool((y == x + 1).all()), len(windows)
    (True, 10)
    """

    def __init__(self, ids: torch.Tensor, *, block_size: int, batch_size: int, steps: int, seed: int = 0):
        if ids.dim() != 1:
            raise ValueError(f"ids must be a 1-D tensor of token ids, got shape {tuple(ids.shape)}")
        if not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"block_size must be an integer >= 1, got {block_size!r}")
        if block_size >= ids.numel():
            raise ValueError(f"block_size {block_size} must be smaller than the text ({ids.numel()} tokens)")
        _check_batch_size(batch_size)
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
        self.ids, self.block_size, self.batch_size, self.steps, self.seed = ids, block_size, batch_size, steps, seed
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def num_examples(self) -> int:
        """Windows one epoch yields (``steps * batch_size``)."""
        return self.steps * self.batch_size

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        T = self.block_size
        starts = torch.randint(self.ids.numel() - T, (self.steps, self.batch_size), generator=self.generator)
        offsets = torch.arange(T + 1)
        windows = (starts[..., None] + offsets).to(self.ids.device)  # (steps, B, T + 1) positions
        for pos in windows:
            chunk = self.ids[pos]  # (B, T + 1)
            yield chunk[:, :-1], chunk[:, 1:]  # x (B, T), y (B, T)

    def to(self, device) -> CharWindows:
        """The same windows (same seed and generator state) over the ids moved to ``device``."""
        moved = CharWindows(self.ids.to(device), block_size=self.block_size, batch_size=self.batch_size,
                            steps=self.steps, seed=self.seed)
        moved.generator.set_state(self.generator.get_state())
        return moved
