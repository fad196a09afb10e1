"""Offline data for training examples and tests: nothing here touches the network.

- `load_digits`: the 8x8 handwritten digits bundled with scikit-learn (1797 images, 10 classes),
  when scikit-learn is installed (`pip install "fastnn[datasets]"`).
- `load_text("sonnets")`: thirteen of Shakespeare's sonnets (public domain, 1609), shipped in the
  package, for character-level language models; `CharVocab` and `char_windows` turn text into
  (input, next-character) training pairs.
- Synthetic makers, each seeded and exact: `make_moons`, `make_spirals`, `make_blobs`,
  `make_article_data` (3 features, binary label: the README example), `make_sequences` (sequence
  classification that needs memory), `make_reverse_task` (seq2seq), `make_shapes` (small images).

Arrays are float32 inputs and int64 class labels, images NCHW, sequences (N, L) or (N, L, F).
"""
from __future__ import annotations

import os
from importlib import resources

import numpy as np

__all__ = ["digits_available", "load_digits", "load_text", "available_texts", "CharVocab", "char_windows",
           "make_moons", "make_spirals", "make_blobs", "make_article_data", "make_sequences",
           "make_reverse_task", "make_shapes", "train_test_split"]


def train_test_split(*arrays: np.ndarray, test_fraction: float = 0.2, seed: int = 0):
    """Shuffle the arrays together and split them: returns (a_train, b_train, ...), (a_test, b_test, ...)."""
    if not arrays:
        raise ValueError("train_test_split: give at least one array")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"train_test_split: arrays must have the same length, got {[len(a) for a in arrays]}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"train_test_split: test_fraction must be in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(n * test_fraction)))
    test, train = order[:n_test], order[n_test:]
    return tuple(a[train] for a in arrays), tuple(a[test] for a in arrays)


# ---------------------------------------------------------------------------
# scikit-learn's digits
# ---------------------------------------------------------------------------
def digits_available() -> bool:
    try:
        import sklearn.datasets  # noqa: F401
    except ImportError:
        return False
    return True


def load_digits(test_fraction: float = 0.2, seed: int = 0, flatten: bool = False):
    """scikit-learn's bundled 8x8 digits as ((x_train, y_train), (x_test, y_test)).

    x: float32 in [0, 1], shape (N, 1, 8, 8), or (N, 64) with `flatten=True`; y: int64 in 0..9.
    Needs scikit-learn (the data ships inside it; nothing is downloaded).
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError:
        raise ImportError("fastnn.datasets.load_digits needs scikit-learn, which bundles the digits data: "
                          "pip install scikit-learn (or fastnn[datasets])") from None
    bunch = _sk_load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None]
    if flatten:
        x = x.reshape(len(x), -1)
    y = bunch.target.astype(np.int64)
    return train_test_split(x, y, test_fraction=test_fraction, seed=seed)


# ---------------------------------------------------------------------------
# text shipped in the package
# ---------------------------------------------------------------------------
_TEXTS = {"sonnets": "sonnets.txt"}


def available_texts() -> list[str]:
    return sorted(_TEXTS)


def load_text(name: str = "sonnets") -> str:
    """A text corpus shipped with fastnn (see `available_texts()`), or the contents of a file path."""
    if name in _TEXTS:
        return resources.files("fastnn").joinpath("data", _TEXTS[name]).read_text(encoding="utf-8")
    if os.path.isfile(name):
        with open(name, encoding="utf-8") as f:
            return f.read()
    raise ValueError(f"load_text: unknown corpus {name!r}; shipped: {', '.join(available_texts())}, or give a file path")


class CharVocab:
    """Characters <-> integer ids, ids in sorted character order."""

    def __init__(self, text_or_chars: str) -> None:
        self.chars = sorted(set(text_or_chars))
        if not self.chars:
            raise ValueError("CharVocab: empty text")
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        try:
            return np.array([self.index[c] for c in text], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(f"CharVocab.encode: character {exc.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in np.asarray(ids).reshape(-1))


def char_windows(text: str, seq_len: int, stride: int | None = None, vocab: CharVocab | None = None):
    """Next-character pairs: x[i] = ids[s:s+L], y[i] = ids[s+1:s+L+1] for s = 0, stride, 2*stride, ...

    Returns (x, y, vocab) with x, y int64 of shape (N, seq_len).
    """
    if seq_len < 1:
        raise ValueError(f"char_windows: seq_len must be >= 1, got {seq_len}")
    vocab = vocab or CharVocab(text)
    ids = vocab.encode(text)
    stride = stride or seq_len
    if len(ids) < seq_len + 1:
        raise ValueError(f"char_windows: text of {len(ids)} characters is too short for seq_len {seq_len}")
    starts = np.arange(0, len(ids) - seq_len, stride)
    x = np.stack([ids[s:s + seq_len] for s in starts])
    y = np.stack([ids[s + 1:s + seq_len + 1] for s in starts])
    return x, y, vocab


# ---------------------------------------------------------------------------
# synthetic makers
# ---------------------------------------------------------------------------
def make_moons(n: int = 512, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles: x (n, 2) float32, y (n,) int64 in {0, 1}."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    t = rng.uniform(0, np.pi, n)
    x = np.where(y[:, None] == 0, np.stack([np.cos(t), np.sin(t)], 1),
                 np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1))
    x = x + rng.normal(0, noise, x.shape)
    return x.astype(np.float32), y.astype(np.int64)


def make_spirals(n: int = 600, classes: int = 3, noise: float = 0.1, seed: int = 0):
    """`classes` interleaved spiral arms: x (n, 2) float32, y (n,) int64 — not linearly separable."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    r = rng.uniform(0.1, 1.0, n)
    theta = y * (2 * np.pi / classes) + r * 2.5 * np.pi
    x = np.stack([r * np.cos(theta), r * np.sin(theta)], 1) + rng.normal(0, noise * r[:, None], (n, 2))
    return x.astype(np.float32), y.astype(np.int64)


def make_blobs(n: int = 512, classes: int = 4, features: int = 2, spread: float = 0.5, seed: int = 0):
    """Gaussian clusters around random centres in [-3, 3]^features."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-3, 3, (classes, features))
    y = rng.integers(0, classes, n)
    x = centres[y] + rng.normal(0, spread, (n, features))
    return x.astype(np.float32), y.astype(np.int64)


def make_article_data(n: int = 1024, seed: int = 0):
    """The README example's task: 3 features, label 1 where a fixed nonlinear score is positive.

    x (n, 3) float32 ~ N(0, 1); y (n, 1) float32 in {0, 1}, about half ones.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 3))
    score = 1.5 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2] + 0.3 * x[:, 0] * x[:, 2]
    return x.astype(np.float32), (score > 0).astype(np.float32)[:, None]


def make_sequences(n: int = 512, length: int = 12, features: int = 4, classes: int = 3, noise: float = 0.3,
                   seed: int = 0):
    """Sequence classification that needs memory: class c shows its pattern (a one-hot-like vector)
    in the first two steps only; the rest is noise. x (n, length, features) float32, y (n,) int64."""
    if classes > features:
        raise ValueError(f"make_sequences: classes ({classes}) must be <= features ({features})")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(0, noise, (n, length, features))
    x[np.arange(n)[:, None], np.arange(2)[None, :], y[:, None]] += 2.0
    return x.astype(np.float32), y.astype(np.int64)


def make_reverse_task(n: int = 1024, length: int = 6, vocab: int = 10, seed: int = 0):
    """Seq2seq: reverse a sequence of tokens. Token 0 is padding (unused), 1 is BOS, 2.. are symbols.

    Returns (src, tgt_in, tgt_out), int64 (n, length): tgt_out = src reversed, tgt_in = BOS then
    tgt_out shifted right (teacher forcing).
    """
    if vocab < 4:
        raise ValueError(f"make_reverse_task: vocab must be >= 4 (pad, BOS, 2 symbols), got {vocab}")
    rng = np.random.default_rng(seed)
    src = rng.integers(2, vocab, (n, length))
    tgt_out = src[:, ::-1].copy()
    tgt_in = np.concatenate([np.ones((n, 1), np.int64), tgt_out[:, :-1]], 1)
    return src.astype(np.int64), tgt_in.astype(np.int64), tgt_out.astype(np.int64)


def make_shapes(n: int = 512, size: int = 12, seed: int = 0, noise: float = 0.05):
    """Small grey images of 3 classes: 0 filled square, 1 hollow square, 2 cross (plus sign); random
    position and scale. x (n, 1, size, size) float32 in [0, 1], y (n,) int64."""
    if size < 8:
        raise ValueError(f"make_shapes: size must be >= 8, got {size}")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = np.zeros((n, 1, size, size), np.float32)
    for i in range(n):
        s = int(rng.integers(4, size // 2 + 2))
        r0, c0 = rng.integers(0, size - s + 1, 2)
        img = x[i, 0]
        if y[i] == 0:
            img[r0:r0 + s, c0:c0 + s] = 1.0
        elif y[i] == 1:
            img[r0:r0 + s, c0:c0 + s] = 1.0
            img[r0 + 1:r0 + s - 1, c0 + 1:c0 + s - 1] = 0.0
        else:
            m = s // 2
            img[r0 + m, c0:c0 + s] = 1.0
            img[r0:r0 + s, c0 + m] = 1.0
    x += rng.normal(0, noise, x.shape).astype(np.float32)
    return np.clip(x, 0.0, 1.0), y.astype(np.int64)
