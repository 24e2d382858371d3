"""The labs' data (adamcourse.data): the bundled digits, downloads against a loopback server serving tiny files in
the real formats (MNIST idx.gz, CIFAR-10 python tar.gz), the character corpus and the minibatch iterators."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import math
import pickle
import socket
import sysconfig
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from adamcourse import data

MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
               "t10k-labels-idx1-ubyte.gz")

# ---------------------------------------------------------------- tiny files in the real formats


def _idx(array: np.ndarray) -> bytes:
    """An idx file of unsigned bytes, gzipped: 00 00 08 ndim, the sizes as big-endian uint32, the data."""
    header = b"\x00\x00\x08" + bytes([array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def _tiny_mnist(rng):
    y_train, y_test = np.tile(np.arange(10), 2), np.arange(10)[rng.permutation(10)][:6]  # 20 and 6 examples
    x_train = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    arrays = (x_train, y_train, x_test, y_test)
    return dict(zip(MNIST_FILES, map(_idx, arrays))), arrays


def _tiny_cifar(rng, per_batch=4):
    """cifar-10-python.tar.gz with its folder, five training batches, the test batch and batches.meta."""
    arrays, buf = {}, io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
        for name in names:
            if name == "batches.meta":
                entry = {b"label_names": [c.encode() for c in data.CIFAR10_CLASSES], b"num_vis": 3072}
            else:
                x = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
                labels = rng.integers(0, 10, per_batch).tolist()
                arrays[name] = (x, labels)
                entry = {b"batch_label": name.encode(), b"labels": labels, b"data": x, b"filenames": []}
            payload = pickle.dumps(entry, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue(), arrays


def _md5(blob: bytes) -> str:
    return hashlib.md5(blob, usedforsecurity=False).hexdigest()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """An HTTP server on loopback (port 0) serving the folder it returns; ``stop()`` shuts it down."""
    served = tmp_path / "served"
    served.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(_QuietHandler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()

    class Server:
        folder, url = served, f"http://127.0.0.1:{httpd.server_address[1]}/"

        @staticmethod
        def stop():
            if thread.is_alive():
                httpd.shutdown()
                httpd.server_close()
                thread.join()

    yield Server
    Server.stop()


def _serve_mnist(server, rng):
    files, arrays = _tiny_mnist(rng)
    for name, blob in files.items():
        (server.folder / name).write_bytes(blob)
    return {name: _md5(blob) for name, blob in files.items()}, files, arrays


def _cache_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------- downloads


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_download_parse_and_cache(server, tmp_path, name):
    checksums, _, (x_train, y_train, x_test, y_test) = _serve_mnist(server, np.random.default_rng(0))
    root = tmp_path / "cache"
    load = functools.partial(data.load_images, name, root=root, base_url=server.url, checksums=checksums,
                             val_fraction=0.1, progress=False)
    first = load()
    assert first.name == name and len(first.classes) == 10
    assert first.classes == (data.DIGIT_CLASSES if name == "mnist" else data.FASHION_CLASSES)
    assert first.train.x.shape == (18, 1, 28, 28) and first.val.x.shape == (2, 1, 28, 28)
    assert first.test.x.shape == (6, 1, 28, 28) and first.train.x.dtype == torch.float32
    assert first.train.y.dtype == torch.int64
    torch.testing.assert_close(first.test.x[:, 0], torch.from_numpy(x_test).float() / 255)
    assert first.test.y.tolist() == y_test.tolist()
    # train and val together are the official training set, each example once
    x_all = torch.cat([first.train.x, first.val.x])[:, 0]
    keys = sorted(map(bytes, (x_all * 255).round().to(torch.uint8).numpy()))
    assert keys == sorted(map(bytes, x_train))
    assert sorted(torch.cat([first.train.y, first.val.y]).tolist()) == sorted(y_train.tolist())
    assert _cache_files(root / name) == sorted(MNIST_FILES)  # nothing else (no .part file)

    server.stop()  # the second load reads the cache, without the network
    for again in (load(), load(download=False)):
        for a, b in zip(first[:3], again[:3]):
            assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)


def test_cifar10_download_and_parse(server, tmp_path):
    blob, arrays = _tiny_cifar(np.random.default_rng(1))
    (server.folder / "cifar-10-python.tar.gz").write_bytes(blob)
    out = data.load_images("cifar10", root=tmp_path, base_url=server.url, val_fraction=0.2, progress=False,
                           checksums={"cifar-10-python.tar.gz": _md5(blob)})
    assert out.classes == data.CIFAR10_CLASSES
    assert out.train.x.shape[1:] == (3, 32, 32) and len(out.train.y) + len(out.val.y) == 20
    x_test, y_test = arrays["test_batch"]
    torch.testing.assert_close(out.test.x, torch.from_numpy(x_test).reshape(-1, 3, 32, 32).float() / 255)
    assert out.test.y.tolist() == y_test
    assert float(out.train.x.min()) >= 0.0 and float(out.train.x.max()) <= 1.0
    assert _cache_files(tmp_path / "cifar10") == ["cifar-10-python.tar.gz"]


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_bad_download_is_a_clear_error_and_caches_nothing(server, tmp_path, damage):
    checksums, files, _ = _serve_mnist(server, np.random.default_rng(2))
    name = "train-labels-idx1-ubyte.gz"
    blob = files[name]
    bad = blob[:len(blob) // 2] if damage == "truncated" else blob[:20] + bytes([blob[20] ^ 0xFF]) + blob[21:]
    (server.folder / name).write_bytes(bad)
    with pytest.raises(data.DownloadError, match=rf"corrupt or truncated download of {name}.*expected md5 "
                                                 rf"{checksums[name]}, got {_md5(bad)}"):
        data.load_images("mnist", root=tmp_path, base_url=server.url, checksums=checksums, progress=False)
    assert name not in _cache_files(tmp_path / "mnist")
    assert not any(f.endswith(".part") for f in _cache_files(tmp_path / "mnist"))


def test_truncated_gzip_with_matching_md5_is_rejected_before_caching(server, tmp_path):
    checksums, files, _ = _serve_mnist(server, np.random.default_rng(3))
    name = "t10k-images-idx3-ubyte.gz"
    cut = files[name][:-40]
    (server.folder / name).write_bytes(cut)
    checksums[name] = _md5(cut)  # the table agrees with the bad file: the format check must catch it
    with pytest.raises(data.DownloadError, match="truncated or corrupt gzip"):
        data.load_images("mnist", root=tmp_path, base_url=server.url, checksums=checksums, progress=False)
    assert name not in _cache_files(tmp_path / "mnist")
    assert not any(f.endswith(".part") for f in _cache_files(tmp_path / "mnist"))


def test_offline_and_missing_files_are_clear_errors(server, tmp_path):
    checksums, _, _ = _serve_mnist(server, np.random.default_rng(4))
    (server.folder / MNIST_FILES[0]).unlink()  # a 404
    with pytest.raises(data.DownloadError, match=r"cannot download train-images-idx3-ubyte.gz from http://127"
                                                 r".*HTTP 404.*put the files in .*mnist or use load_digits\(\)"):
        data.load_images("mnist", root=tmp_path, base_url=server.url, checksums=checksums, progress=False)
    with socket.socket() as s:  # a port nobody listens on: connection refused, as offline
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/"
    with pytest.raises(data.DownloadError, match=r"cannot download .*refused.*load_digits\(\)"):
        data.load_images("mnist", root=tmp_path, base_url=closed, checksums=checksums, progress=False)
    with pytest.raises(data.DownloadError, match="is missing and download=False"):
        data.load_images("fashion_mnist", root=tmp_path, download=False, progress=False)
    assert not any(f.endswith(".part") for f in _cache_files(tmp_path / "mnist"))


def test_a_corrupt_cached_file_is_downloaded_again(server, tmp_path):
    checksums, files, _ = _serve_mnist(server, np.random.default_rng(5))
    data.load_images("mnist", root=tmp_path, base_url=server.url, checksums=checksums, progress=False)
    cached = tmp_path / "mnist" / MNIST_FILES[1]
    cached.write_bytes(b"garbage")
    with pytest.raises(data.DownloadError, match="is corrupt"):
        data.load_images("mnist", root=tmp_path, download=False, checksums=checksums, progress=False)
    data.load_images("mnist", root=tmp_path, base_url=server.url, checksums=checksums, progress=False)
    assert cached.read_bytes() == files[MNIST_FILES[1]]


def test_published_checksums_and_sources():
    assert set(data.CHECKSUMS) == set(data.MIRRORS) == {"mnist", "fashion_mnist", "cifar10"}
    assert data.CHECKSUMS["mnist"]["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert data.CHECKSUMS["cifar10"]["cifar-10-python.tar.gz"] == "c58f30108f718f92721af3b95e74349a"
    assert all(len(md5) == 32 for table in data.CHECKSUMS.values() for md5 in table.values())


def test_default_root(monkeypatch, tmp_path):
    monkeypatch.setenv("ADAMCOURSE_DATA", str(tmp_path))
    assert data.default_root() == tmp_path
    monkeypatch.delenv("ADAMCOURSE_DATA")
    assert data.default_root() == Path.home() / ".cache" / "adamcourse"


# ---------------------------------------------------------------- digits


def test_load_digits_split():
    d = data.load_digits()
    sizes = [len(s.y) for s in d[:3]]
    assert sum(sizes) == 1797 and sizes[2] == pytest.approx(0.2 * 1797, abs=10)
    assert sizes[1] == pytest.approx(0.1 * 1797, abs=10)
    assert d.train.x.shape[1:] == (1, 8, 8) and d.train.x.dtype == torch.float32 and d.train.y.dtype == torch.int64
    assert float(d.train.x.min()) == 0.0 and float(d.train.x.max()) == 1.0
    assert d.classes == tuple("0123456789") and d.name == "digits"
    for split in d[:3]:  # stratified: every class in every split, in about the same proportion
        counts = torch.bincount(split.y, minlength=10).double()
        assert (counts / counts.sum() - 0.1).abs().max() < 0.02
    again, other = data.load_digits(), data.load_digits(seed=1)
    assert torch.equal(d.test.x, again.test.x) and not torch.equal(d.test.x, other.test.x)
    # the three splits partition the data set (compare as multisets of images)
    from sklearn.datasets import load_digits as sklearn_digits

    ref = sorted(map(bytes, (sklearn_digits().images).astype(np.uint8)))
    ours = sorted(map(bytes, (torch.cat([s.x for s in d[:3]])[:, 0] * 16).round().to(torch.uint8).numpy()))
    assert ours == ref
    assert data.load_images("digits").train.x.shape == d.train.x.shape


def test_digit_sequences():
    d = data.load_digits()
    seq = data.digit_sequences(d)
    assert seq.train.x.shape == (len(d.train.y), 8, 8) and seq.name == "digits-rows"
    assert torch.equal(seq.val.x[:, 3], d.val.x[:, 0, 3])  # time step t is pixel row t
    assert torch.equal(seq.test.y, d.test.y)
    rgb = data.ImageData(*(data.Split(torch.rand(5, 3, 4, 6), torch.zeros(5, dtype=torch.int64)),) * 3, (), "x")
    assert data.digit_sequences(rgb).train.x.shape == (5, 4, 18)  # (N, T=H, C*W)
    with pytest.raises(ValueError, match="needs images"):
        data.digit_sequences(seq)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [(dict(val_fraction=1.0), "val_fraction must be in"), (dict(test_fraction=-0.1), "test_fraction must be in"),
     (dict(val_fraction=0.5, test_fraction=0.5), "must be < 1")],
)
def test_load_digits_bad_fractions(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load_digits(**kwargs)


def test_unknown_data_set_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown data set 'imagenet'; valid names: digits, mnist, fashion_mnist, "
                                         "cifar10"):
        data.load_images("imagenet")
    with pytest.raises(ValueError, match="val_fraction"):
        data.load_images("mnist", val_fraction=2.0)


# ---------------------------------------------------------------- text


def test_default_corpus_is_the_stdlib_split_by_file():
    corpus = data.load_char_corpus(max_chars=300_000)
    train, val = corpus.decode(corpus.train), corpus.decode(corpus.val)
    assert len(train) + len(val) == 300_000 and 0 < len(val) <= 0.1 * 300_000
    assert corpus.vocab == "".join(sorted(set(train + val)))
    whole = [p.read_text(encoding="utf-8") for p in sorted(Path(sysconfig.get_path("stdlib")).glob("*.py"))]
    in_val = [text in val for text in whole]
    assert any(in_val)
    assert not any(v and text in train for text, v in zip(whole, in_val))  # no file in both splits
    assert 3.0 < corpus.unigram_bpc() < 6.0
    assert torch.equal(data.load_char_corpus(max_chars=300_000).val, corpus.val)  # deterministic by seed


def test_user_file_folder_and_round_trip(tmp_path):
    text = "the quick brown fox jumps over the lazy dog. " * 40
    path = tmp_path / "fox.txt"
    path.write_text(text, encoding="utf-8")
    one = data.load_char_corpus(path)  # a single file: split by position
    assert one.decode(one.train) + one.decode(one.val) == text
    assert len(one.val) == round(0.1 * len(text))
    assert one.decode(one.encode("lazy fox")) == "lazy fox"
    assert one.encode("dog").dtype == torch.int64 and one.vocab_size == len(set(text))
    with pytest.raises(ValueError, match="not in the vocabulary"):
        one.encode("Z")
    assert len(data.load_char_corpus(path, max_chars=100).train) + len(data.load_char_corpus(path, max_chars=100).val
                                                                       ) == 100
    folder = tmp_path / "texts"
    folder.mkdir()
    for i in range(10):
        (folder / f"{i}.txt").write_text(f"<{i}>" + "abc" * (5 + i), encoding="utf-8")
    (folder / "blob.bin").write_bytes(b"\xff\xfe\x00\x01")  # binary: skipped
    many = data.load_char_corpus(folder, val_fraction=0.2, seed=3)
    train, val = many.decode(many.train), many.decode(many.val)
    assert "\x00" not in many.vocab
    for i in range(10):  # every file whole in exactly one split
        assert (f"<{i}>" in train) != (f"<{i}>" in val)
    with pytest.raises(FileNotFoundError):
        data.load_char_corpus(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="val_fraction"):
        data.load_char_corpus(path, val_fraction=0.0)


def test_unigram_bpc_by_hand():
    corpus = data.CharCorpus(torch.tensor([0, 0, 1, 0]), torch.tensor([0, 1, 2]), "abc")
    # add-one counts on train: a 3+1, b 1+1, c 0+1, total 7
    expected = -(math.log2(4 / 7) + math.log2(2 / 7) + math.log2(1 / 7)) / 3
    assert corpus.unigram_bpc() == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- minibatches


def _epochs(loader, n):
    return [[tuple(t.clone() for t in batch) for batch in loader] for _ in range(n)]


def test_array_loader_epochs():
    x, y = torch.arange(50.0)[:, None].repeat(1, 3), torch.arange(50)
    loader = data.ArrayLoader(x, y, batch_size=16, seed=7)
    assert len(loader) == 4 and loader.num_examples == 50
    first, second = _epochs(loader, 2)
    for epoch in (first, second):
        assert [len(b[1]) for b in epoch] == [16, 16, 16, 2]
        ys = torch.cat([b[1] for b in epoch])
        assert sorted(ys.tolist()) == list(range(50))  # every example exactly once
        assert all(torch.equal(bx[:, 0], by.float()) for bx, by in epoch)  # x and y stay paired
    assert not torch.equal(torch.cat([b[1] for b in first]), torch.cat([b[1] for b in second]))
    replay = _epochs(data.ArrayLoader(x, y, batch_size=16, seed=7), 2)
    assert all(torch.equal(a[1], b[1]) for ea, eb in zip([first, second], replay) for a, b in zip(ea, eb))
    other = _epochs(data.ArrayLoader(x, y, batch_size=16, seed=8), 1)[0]
    assert not torch.equal(torch.cat([b[1] for b in other]), torch.cat([b[1] for b in first]))
    ordered = data.ArrayLoader(x, y, batch_size=16, shuffle=False)
    assert torch.equal(torch.cat([b[1] for b in ordered]), y)


def test_array_loader_drop_last_and_to():
    y = torch.arange(50)
    loader = data.ArrayLoader(y, batch_size=16, drop_last=True)
    assert len(loader) == 3 and loader.num_examples == 48
    assert [len(b[0]) for b in loader] == [16, 16, 16]
    moved = loader.to("meta")  # any device: the tensors move, the generator state comes along
    assert moved.device.type == "meta" and all(b[0].device.type == "meta" for b in moved)
    expected = [b[0] for b in data.ArrayLoader(y, batch_size=16, drop_last=True).to("cpu")]
    assert all(torch.equal(a[0], b) for a, b in zip(data.ArrayLoader(y, batch_size=16, drop_last=True), expected))
    if torch.cuda.is_available():
        assert next(iter(loader.to("cuda")))[0].is_cuda


@pytest.mark.parametrize(
    ("build", "message"),
    [(lambda: data.ArrayLoader(torch.zeros(4), batch_size=0), "batch_size must be an integer >= 1"),
     (lambda: data.ArrayLoader(torch.zeros(4), torch.zeros(5), batch_size=2), "share their first dimension"),
     (lambda: data.ArrayLoader(torch.zeros(4), batch_size=8, drop_last=True), "gives no batch"),
     (lambda: data.ArrayLoader(batch_size=2), "at least one tensor"),
     (lambda: data.CharWindows(torch.arange(10), block_size=10, batch_size=2, steps=3), "smaller than the text"),
     (lambda: data.CharWindows(torch.arange(10), block_size=4, batch_size=0, steps=3), "batch_size"),
     (lambda: data.CharWindows(torch.arange(10), block_size=4, batch_size=2, steps=0), "steps"),
     (lambda: data.CharWindows(torch.zeros(2, 5, dtype=torch.int64), block_size=2, batch_size=2, steps=1), "1-D")],
)
def test_bad_loader_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_char_windows():
    ids = torch.arange(1000)
    windows = data.CharWindows(ids, block_size=12, batch_size=5, steps=7, seed=1)
    assert len(windows) == 7 and windows.num_examples == 35
    batches = list(windows)
    assert len(batches) == 7
    for x, y in batches:
        assert x.shape == y.shape == (5, 12) and x.dtype == torch.int64
        assert torch.equal(y, x + 1)  # y is x shifted by one (the ids are positions)
        assert torch.equal(x, x[:, :1] + torch.arange(12))  # contiguous windows
        assert int(y.max()) < 1000
    assert not torch.equal(torch.cat([x for x, _ in windows]), torch.cat([x for x, _ in batches]))  # new epoch
    replay = list(data.CharWindows(ids, block_size=12, batch_size=5, steps=7, seed=1))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, replay))
    moved = data.CharWindows(ids, block_size=12, batch_size=5, steps=7, seed=1).to("meta")
    assert next(iter(moved))[0].device.type == "meta"
    text = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6])
    for x, y in data.CharWindows(text, block_size=7, batch_size=3, steps=2):
        assert torch.equal(x, text[:7].expand(3, 7)) and torch.equal(y, text[1:].expand(3, 7))
