"""MNIST loading (checksums, IDX parsing, errors) and the mini-batch iterator."""
import gzip
import re
from pathlib import Path

import numpy as np
import pytest

import convscope
from convscope.data import MNIST_MEAN, MNIST_SHA256, MNIST_STD, batches, default_root, load_mnist, num_batches
from convscope.data import mnist

DATA = Path(__file__).resolve().parents[1] / "data" / "mnist"
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def train_raw():
    return load_mnist(split="train", normalize=False)


def copy_split(src: Path, dst: Path, split: str = "test") -> dict:
    """Writable copies of a split's two files (the shipped ones are read-only)."""
    dst.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in mnist.MNIST_FILES[split]:
        (dst / name).write_bytes((src / name).read_bytes())
        paths[name] = dst / name
    return paths


def idx_bytes(magic: int, dims, data: bytes) -> bytes:
    head = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in dims)
    return gzip.compress(head + data)


def write_split(root: Path, images: bytes, labels: bytes, split: str = "test") -> None:
    root.mkdir(parents=True, exist_ok=True)
    image_name, label_name = mnist.MNIST_FILES[split]
    (root / image_name).write_bytes(images)
    (root / label_name).write_bytes(labels)


# -- the shipped files

def test_checksums_match_readme_and_files():
    readme = (DATA / "README.md").read_text()
    table = dict(re.findall(r"\| (\S+\.gz) \| \d+ \| ([0-9a-f]{64}) \|", readme))
    assert table == MNIST_SHA256
    for name, expected in MNIST_SHA256.items():
        assert mnist._sha256(DATA / name) == expected


def test_default_root_is_the_repository_folder(monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    assert default_root() == DATA


def test_shapes_dtypes_and_class_counts(train_raw):
    x, y = train_raw
    assert x.shape == (60000, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (60000,) and y.dtype == np.int64
    assert np.bincount(y, minlength=10).tolist() == TRAIN_COUNTS
    xt, yt = load_mnist(split="test", dtype=np.float64)
    assert xt.shape == (10000, 1, 28, 28) and xt.dtype == np.float64
    assert np.bincount(yt, minlength=10).tolist() == TEST_COUNTS
    assert yt[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def mean_std(x, chunk=10000):
    """Mean and std in float64, a chunk of images at a time (no full-size temporaries)."""
    total = total_sq = 0.0
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk].astype(np.float64)
        total += part.sum()
        total_sq += np.square(part).sum()
    mean = total / x.size
    return mean, (total_sq / x.size - mean ** 2) ** 0.5


def test_pixel_statistics(train_raw):
    x, _ = train_raw
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    mean, std = mean_std(x)
    assert mean * 255 == pytest.approx(33.318, abs=5e-4)
    assert mean == pytest.approx(MNIST_MEAN, abs=1e-4) and std == pytest.approx(MNIST_STD, abs=1e-4)
    xn, _ = load_mnist(split="train")  # normalize=True by default
    mean, std = mean_std(xn)
    assert mean == pytest.approx(0.0, abs=1e-3) and std == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(xn[:1000], (x[:1000] - np.float32(MNIST_MEAN)) / np.float32(MNIST_STD),
                               rtol=1e-6, atol=1e-6)
    x64, _ = load_mnist(split="test", normalize=False, dtype=np.float64)
    x32, _ = load_mnist(split="test", normalize=False)
    np.testing.assert_allclose(x64, x32, rtol=1e-7)


def test_results_are_cached_and_fresh(monkeypatch):
    load_mnist(split="test")

    def no_reading(*args):
        raise AssertionError("re-read a cached split")

    monkeypatch.setattr(mnist, "_read_idx", no_reading)
    monkeypatch.setattr(mnist, "_sha256", no_reading)
    x, y = load_mnist(split="test")
    x[...] = 7
    y[...] = 7
    x2, y2 = load_mnist(split="test")  # callers get their own arrays
    assert x2.max() < 7 and y2[:3].tolist() == [7, 2, 1]


def test_environment_variable_points_elsewhere(tmp_path, monkeypatch):
    copy_split(DATA, tmp_path / "elsewhere")
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "elsewhere"))
    assert default_root() == tmp_path / "elsewhere"
    x, y = load_mnist(split="test", normalize=False)
    assert x.shape == (10000, 1, 28, 28) and np.bincount(y).tolist() == TEST_COUNTS
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_mnist(split="train")


# -- errors

def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "t10k-images-idx3-ubyte.gz"))) as info:
        load_mnist(tmp_path, split="test")
    assert "CONVSCOPE_MNIST" in str(info.value) and "root=" in str(info.value)
    copy_split(DATA, tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(tmp_path, split="test")


def test_corrupted_copy_fails_the_checksum(tmp_path):
    paths = copy_split(DATA, tmp_path)
    target = paths["t10k-labels-idx1-ubyte.gz"]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    actual = mnist._sha256(target)
    expected = MNIST_SHA256["t10k-labels-idx1-ubyte.gz"]
    message = rf"t10k-labels-idx1-ubyte.gz is corrupt.*SHA-256 {actual}, expected {expected}"
    with pytest.raises(ValueError, match=message):
        load_mnist(tmp_path, split="test")
    # without verification the damaged deflate stream is still caught
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(tmp_path, split="test", verify=False)


def test_truncated_file(tmp_path):
    paths = copy_split(DATA, tmp_path)
    target = paths["t10k-images-idx3-ubyte.gz"]
    target.write_bytes(target.read_bytes()[:100_000])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz is corrupt.*SHA-256"):
        load_mnist(tmp_path, split="test")
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: not a valid gzip file"):
        load_mnist(tmp_path, split="test", verify=False)


def test_a_valid_idx_pair_loads_without_verification(tmp_path):
    pixels = np.arange(3 * 28 * 28, dtype=np.uint8).tobytes()
    write_split(tmp_path, idx_bytes(0x803, (3, 28, 28), pixels), idx_bytes(0x801, (3,), bytes([3, 1, 4])))
    x, y = load_mnist(tmp_path, split="test", normalize=False, verify=False)
    assert x.shape == (3, 1, 28, 28) and y.tolist() == [3, 1, 4]
    np.testing.assert_array_equal(x.ravel() * 255, np.frombuffer(pixels, np.uint8))
    with pytest.raises(ValueError, match="SHA-256"):  # with verification, only the originals pass
        load_mnist(tmp_path, split="test")


GOOD_LABELS = idx_bytes(0x801, (2,), bytes([0, 1]))
GOOD_IMAGES = idx_bytes(0x803, (2, 28, 28), bytes(2 * 784))
BAD_HEADERS = [
    (idx_bytes(0x802, (2, 28, 28), bytes(2 * 784)), GOOD_LABELS, "images",
     r"bad IDX magic number 0x00000802, expected 0x00000803"),
    (GOOD_IMAGES, idx_bytes(0x803, (2,), bytes(2)), "labels", r"bad IDX magic number 0x00000803, expected 0x00000801"),
    (idx_bytes(0x80D, (2, 28, 28), bytes(2 * 784)), GOOD_LABELS, "images", "bad IDX magic number 0x0000080d"),
    (gzip.compress(b"\x00\x00"), GOOD_LABELS, "images", r"truncated IDX header \(2 bytes"),
    (gzip.compress((0x803).to_bytes(4, "big") + (2).to_bytes(4, "big")), GOOD_LABELS, "images",
     r"truncated IDX header \(8 bytes, 3 dimensions need 16\)"),
    (idx_bytes(0x803, (2, 27, 28), bytes(2 * 27 * 28)), GOOD_LABELS, "images", "images are 27x28 .* expected 28x28"),
    (idx_bytes(0x803, (3, 28, 28), bytes(2 * 784)), GOOD_LABELS, "images",
     r"sizes \(3, 28, 28\) need 2352 data bytes, the file holds 1568"),
    (idx_bytes(0x803, (2, 28, 28), bytes(2 * 784 + 5)), GOOD_LABELS, "images",
     "need 1568 data bytes, the file holds more"),
    (idx_bytes(0x803, (2 ** 32 - 1, 28, 28), bytes(100)), GOOD_LABELS, "images", "the file holds 100"),
    (idx_bytes(0x803, (3, 28, 28), bytes(3 * 784)), GOOD_LABELS, "labels", "has 3 images but .* has 2 labels"),
    (GOOD_IMAGES, idx_bytes(0x801, (2,), bytes([0, 10])), "labels", "label 10 is not a digit"),
    (b"not gzip at all", GOOD_LABELS, "images", "not a valid gzip file"),
]


@pytest.mark.parametrize("images, labels, culprit, match", BAD_HEADERS,
                         ids=[str(i) for i in range(len(BAD_HEADERS))])
def test_bad_idx_files(tmp_path, images, labels, culprit, match):
    write_split(tmp_path, images, labels)
    name = "t10k-images-idx3-ubyte.gz" if culprit == "images" else "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(ValueError, match=match) as info:
        load_mnist(tmp_path, split="test", verify=False)
    assert name in str(info.value)


def test_argument_errors():
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        load_mnist(split="val")
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got int32"):
        load_mnist(split="test", dtype=np.int32)


# -- batches

def test_batches_cover_every_sample_once_per_epoch():
    n, bs = 103, 10
    images = np.arange(n * 4, dtype=np.float32).reshape(n, 1, 2, 2)
    labels = np.arange(n)
    for seed in (0, 1):
        seen = []
        for xb, yb in batches(images, labels, bs, seed=seed):
            assert len(xb) == len(yb) <= bs
            np.testing.assert_array_equal(xb, images[yb])  # images stay paired with their labels
            seen.append(yb)
        assert len(seen) == num_batches(n, bs) == 11 and len(seen[-1]) == 3
        order = np.concatenate(seen)
        assert sorted(order.tolist()) == list(range(n))
        assert order.tolist() != list(range(n))


def test_same_seed_same_order_different_seed_different_order():
    x, y = np.zeros((50, 3)), np.arange(50)

    def order(**kw):
        return np.concatenate([yb for _, yb in batches(x, y, 8, **kw)]).tolist()

    assert order(seed=5) == order(seed=5)
    assert order(seed=5) != order(seed=6)
    epochs = [order(seed=100 + epoch) for epoch in range(3)]  # seed + epoch: a new order each epoch
    assert len({tuple(e) for e in epochs}) == 3
    assert order(seed=np.random.default_rng(5)) == order(seed=5)
    convscope.manual_seed(3)
    first = order()
    convscope.manual_seed(3)
    assert order() == first  # seed=None follows the library generator


def test_unshuffled_batches_are_read_only_views_in_order():
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    got = list(batches(x, y, 4, shuffle=False))
    assert [yb.tolist() for _, yb in got] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    xb, yb = got[0]
    assert np.shares_memory(xb, x) and not xb.flags.writeable and not yb.flags.writeable
    assert x.flags.writeable  # the inputs keep their own flag


def test_limit_and_drop_last():
    x, y = np.zeros((25, 1)), np.arange(25)
    assert [len(b) for _, b in batches(x, y, 10, shuffle=False, drop_last=True)] == [10, 10]
    assert [len(b) for _, b in batches(x, y, 10, shuffle=False)] == [10, 10, 5]
    assert [len(b) for _, b in batches(x, y, 10, seed=0, limit=2)] == [10, 10]
    assert [len(b) for _, b in batches(x, y, 10, seed=0, limit=9)] == [10, 10, 5]
    assert list(batches(x, y, 10, limit=0)) == []
    assert [len(b) for _, b in batches(x, y, 5, shuffle=False, drop_last=True)] == [5] * 5
    assert list(batches(x[:3], y[:3], 10, drop_last=True)) == []
    for n in range(0, 30, 7):
        for bs in (1, 4, 10):
            for drop_last in (False, True):
                for limit in (None, 0, 2):
                    got = len(list(batches(np.zeros(n), np.zeros(n), bs, drop_last=drop_last, limit=limit, seed=1)))
                    assert got == num_batches(n, bs, drop_last, limit)


def test_batches_over_mnist():
    x, y = load_mnist(split="test")
    sizes = [(xb.shape, yb.dtype) for xb, yb in batches(x, y, 1000, seed=0)]
    assert sizes == [((1000, 1, 28, 28), np.dtype(np.int64))] * 10


@pytest.mark.parametrize("call, exc, match", [
    (lambda: batches(np.zeros(5), np.zeros(4), 2), ValueError, "differ in length: 5 vs 4"),
    (lambda: batches(np.zeros(5), np.zeros(5), 0), ValueError, "batch_size must be an int >= 1, got 0"),
    (lambda: batches(np.zeros(5), np.zeros(5), 2.0), ValueError, "batch_size must be an int >= 1, got 2.0"),
    (lambda: batches(np.zeros(5), np.zeros(5), 2, limit=-1), ValueError, "limit must be an int >= 0, got -1"),
    (lambda: batches(np.zeros(5), np.zeros(5), 2, seed=1.5), TypeError, "seed must be an int"),
    (lambda: batches(np.float64(1), np.zeros(5), 2), ValueError, "must have a sample dimension"),
    (lambda: num_batches(-1, 2), ValueError, "n must be an int >= 0, got -1"),
])
def test_batch_argument_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
