"""The model zoo learns: each model trains a few seconds on a small real or synthetic task and must
cut its loss and beat chance by a wide margin. Digits tests need scikit-learn (skipped without)."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import datasets, keras, models
from fastnn.keras.losses import SparseCategoricalCrossentropy

needs_digits = pytest.mark.skipif(not datasets.digits_available(), reason="scikit-learn (bundles the digits) not installed")


@pytest.fixture(autouse=True)
def _seed():
    fastnn.manual_seed(0)


def _fit(model, x, y, val, epochs, lr=3e-3, batch_size=32):
    model.compile(keras.optimizers.Adam(lr), SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    before = model.evaluate(val[0], val[1], verbose=0, return_dict=True)
    h = model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_data=val, verbose=0, seed=0).history
    return before, h


@pytest.fixture(scope="module")
def digits():
    if not datasets.digits_available():
        pytest.skip("scikit-learn (bundles the digits) not installed")
    return datasets.load_digits(seed=0)


@needs_digits
def test_mlp_on_digits(digits):
    (x, y), (xv, yv) = digits
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    before, h = _fit(models.MLP(64, 10, (64,)), flat(x), y, (flat(xv), yv), epochs=3)
    assert h["val_loss"][-1] < 0.4 * before["loss"]
    assert h["val_accuracy"][-1] > 0.85  # chance 0.1


@needs_digits
def test_lenet_on_digits(digits):
    (x, y), (xv, yv) = digits
    before, h = _fit(models.LeNet(1, 10, image_size=8), x, y, (xv, yv), epochs=2)
    assert h["val_loss"][-1] < 0.5 * before["loss"]
    assert h["val_accuracy"][-1] > 0.7


@needs_digits
def test_resnet_on_digits(digits):
    (x, y), (xv, yv) = digits
    model = models.ResNet(1, 10, widths=(8, 16))
    before, h = _fit(model, x[:640], y[:640], (xv, yv), epochs=2)
    assert h["val_loss"][-1] < 0.85 * before["loss"]
    assert h["val_accuracy"][-1] > 0.4
    assert "BasicBlock" in repr(model) and "(None, 10)" in model.summary(print_fn=None)


def test_cnns_on_shapes_without_sklearn():
    x, y = datasets.make_shapes(384, size=8, seed=0)
    before, h = _fit(models.LeNet(1, 3, image_size=8, channels=(4, 8)), x, y, (x[:128], y[:128]), epochs=6, lr=1e-2)
    assert h["loss"][-1] < 0.5 * before["loss"] and h["accuracy"][-1] > 0.8  # chance 1/3


@pytest.mark.parametrize("cls", [models.LSTMClassifier, models.GRUClassifier])
def test_recurrent_classifiers_remember_the_first_steps(cls):
    x, y = datasets.make_sequences(512, length=8, features=4, classes=3, seed=0)
    xv, yv = datasets.make_sequences(256, length=8, features=4, classes=3, seed=1)
    before, h = _fit(cls(4, 16, 3), x, y, (xv, yv), epochs=5, lr=1e-2)
    assert h["val_loss"][-1] < 0.5 * before["loss"]
    assert h["val_accuracy"][-1] > 0.8  # chance 1/3; the class shows only in steps 0-1 of 8


def test_recurrent_classifier_on_token_ids():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 6, (384, 6))
    y = (ids[:, 0] >= 3).astype(np.int64)  # the first token decides
    _, h = _fit(models.GRUClassifier(8, 16, 2, vocab_size=6), ids, y, (ids[:128], y[:128]), epochs=5, lr=1e-2)
    assert h["val_accuracy"][-1] > 0.9


def test_transformer_classifier():
    x, y = datasets.make_sequences(512, length=8, features=4, classes=3, seed=0)
    xv, yv = datasets.make_sequences(256, length=8, features=4, classes=3, seed=1)
    model = models.TransformerClassifier(3, input_size=4, d_model=16, nhead=2, num_layers=1, dim_feedforward=32, max_len=8)
    before, h = _fit(model, x, y, (xv, yv), epochs=3)
    assert h["val_loss"][-1] < 0.5 * before["loss"] and h["val_accuracy"][-1] > 0.8


def test_seq2seq_learns_to_reverse():
    src, tgt_in, tgt_out = datasets.make_reverse_task(768, length=4, vocab=8, seed=0)
    model = models.Seq2SeqTransformer(8, 8, d_model=16, nhead=2, num_layers=1, dim_feedforward=32, max_len=8)
    before, h = _fit(model, [src[:640], tgt_in[:640]], tgt_out[:640], ([src[640:], tgt_in[640:]], tgt_out[640:]), epochs=4)
    assert h["val_loss"][-1] < 0.3 * before["loss"]
    out = model.generate(src[640:], length=4)  # greedy, no teacher forcing
    assert out.shape == (128, 4)
    assert (out == tgt_out[640:]).mean() > 0.7  # chance 1/6 per token


def test_char_gpt_learns_the_sonnets_and_samples():
    x, y, vocab = datasets.char_windows(datasets.load_text("sonnets")[:2400], seq_len=16, stride=6)
    model = models.CharGPT(len(vocab), block_size=16, d_model=32, nhead=2, num_layers=1)
    before, h = _fit(model, x, y, (x[::8], y[::8]), epochs=2, lr=1e-2, batch_size=16)
    assert before["loss"] > 0.85 * np.log(len(vocab))  # untrained: about uniform
    assert h["val_loss"][-1] < before["loss"] - 0.8  # nats per character
    assert h["val_accuracy"][-1] > 0.25  # next character; uniform chance ~0.02
    ids = model.generate(vocab.encode("When "), 20, temperature=0.8, top_k=5, seed=0)
    assert ids.shape == (25,) and vocab.decode(ids).startswith("When ")
    np.testing.assert_array_equal(ids, model.generate(vocab.encode("When "), 20, temperature=0.8, top_k=5, seed=0))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        model.generate(vocab.encode("a"), 1, temperature=0)


def test_dcgan_moves_generated_images_toward_the_data():
    x, _ = datasets.make_shapes(512, size=8, seed=0)
    gan = models.DCGAN(latent_dim=16, channels=1, image_size=8, width=8, seed=0)
    gan.compile()
    before = gan.sample(256)
    h = gan.fit(x, epochs=3, batch_size=32, verbose=0).history
    after = gan.sample(256)
    assert set(h) == {"d_loss", "g_loss"} and all(np.isfinite(h["d_loss"] + h["g_loss"]))
    assert after.shape == (256, 1, 8, 8) and after.min() >= 0 and after.max() <= 1
    err = lambda s: np.abs(s.mean(0) - x.mean(0)).mean()  # noqa: E731  (distance of the mean images)
    assert err(after) < 0.9 * err(before)
    assert "generator (Generator)" in gan.summary(print_fn=None)
    with pytest.raises(ValueError, match="power of two"):
        models.DCGAN(image_size=12)
