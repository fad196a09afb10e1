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
