"""fastnn.keras: the article's example, Sequential / functional models, fit / evaluate / predict,
losses against NumPy formulas, metrics, callbacks, progress output and errors."""
from __future__ import annotations

import io

import numpy as np
import pytest

import fastnn
from fastnn import datasets, keras, nn
from fastnn.keras import callbacks, layers, losses, metrics


@pytest.fixture(autouse=True)
def _seed():
    fastnn.manual_seed(0)


def article_model():
    inputs = keras.Input(shape=(3,))
    hidden = keras.layers.Dense(units=2, activation="relu")(inputs)
    outputs = keras.layers.Dense(units=1, activation="sigmoid")(hidden)
    return keras.Model(inputs=inputs, outputs=outputs)


def test_article_example_learns():
    x_train, y_train = datasets.make_article_data(4096, seed=0)
    model = article_model()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    h = history.history
    assert list(h) == ["loss", "accuracy"] and history.epoch == list(range(10))
    assert h["loss"][-1] < 0.8 * h["loss"][0]
    assert h["accuracy"][-1] > 0.85  # chance is ~0.5
    loss, acc = model.evaluate(x_train, y_train, verbose=0)
    assert acc > 0.85 and loss < h["loss"][0]


def test_sequential_mlp_on_spirals_with_validation():
    x, y = datasets.make_spirals(900, classes=3, noise=0.05, seed=0)
    model = keras.Sequential([keras.Input((2,)), layers.Dense(64, activation="relu"),
                              layers.Dense(64, activation="relu"), layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", ["accuracy"])
    h = model.fit(x, y, epochs=25, batch_size=64, validation_split=0.2, verbose=0, seed=0).history
    assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert h["loss"][-1] < 0.5 * h["loss"][0]
    assert h["val_accuracy"][-1] > 0.85  # chance 1/3; the arms are not linearly separable


def test_sequential_cnn_categorical_one_hot():
    x, y = datasets.make_shapes(480, size=8, seed=0)
    y_onehot = np.eye(3, dtype=np.float32)[y]
    model = keras.Sequential([
        layers.Conv2D(8, 3, padding="same", activation="relu", input_shape=(1, 8, 8)),
        layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-2), "categorical_crossentropy", ["accuracy"])
    h = model.fit(x, y_onehot, epochs=10, batch_size=32, verbose=0, seed=0).history
    assert h["loss"][-1] < 0.3 * h["loss"][0]
    assert h["accuracy"][-1] > 0.9  # chance 1/3


def test_sequential_builds_lazily_and_takes_nn_modules():
    model = keras.Sequential([nn.Linear(4, 8), nn.ReLU(), layers.Dense(2)])
    assert not model.built
    out = model.predict(np.ones((5, 4), np.float32), batch_size=2)
    assert out.shape == (5, 2) and model.built
    assert [type(l).__name__ for l in model.layers] == ["Linear", "ReLU", "Dense"]


def test_predict_batches_match_one_forward_and_multiple_inputs():
    a, b = keras.Input((3,)), keras.Input((2,))
    ha = layers.Dense(4, activation="tanh")(a)
    model = keras.Model(inputs=[a, b], outputs=[ha, layers.Dense(1)(b)])
    xa = np.random.default_rng(0).normal(size=(37, 3)).astype(np.float32)
    xb = np.random.default_rng(1).normal(size=(37, 2)).astype(np.float32)
    pa, pb = model.predict([xa, xb], batch_size=8)
    with fastnn.no_grad():
        fa, fb = model(fastnn.Tensor(xa), fastnn.Tensor(xb))
    np.testing.assert_allclose(pa, fa.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(pb, fb.numpy(), rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------- losses
def _p(a):
    return fastnn.Tensor(np.asarray(a, np.float32), requires_grad=True)


def test_losses_match_numpy_and_logits_paths_agree():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 4)).astype(np.float32)
    y = rng.integers(0, 4, 6)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    want = -logp[np.arange(6), y].mean()
    onehot = np.eye(4, dtype=np.float32)[y]
    probs = np.exp(logp).astype(np.float32)
    cases = [
        losses.SparseCategoricalCrossentropy(from_logits=True)(y, _p(z)),
        losses.SparseCategoricalCrossentropy()(y, _p(probs)),
        losses.CategoricalCrossentropy(from_logits=True)(onehot, _p(z)),
        losses.CategoricalCrossentropy()(onehot, _p(probs)),
        losses.CategoricalCrossentropy(from_logits=True)(onehot * 0.5 + 0.125, _p(z)) * 0 + want,  # soft path runs
    ]
    for got in cases:
        assert abs(got.item() - want) < 1e-5
    # softmax layer output: the loss uses the kept logits, so even saturated logits give a finite loss
    sat = fastnn.Tensor(np.array([[80.0, -80.0]], np.float32), requires_grad=True)
    out = layers.Activation("softmax")(sat)
    loss = losses.get("sparse_categorical_crossentropy")(np.array([1]), out)
    assert abs(loss.item() - 160.0) < 1e-3
    loss.backward()
    np.testing.assert_allclose(sat.grad.numpy(), [[1.0, -1.0]], atol=1e-6)


def test_binary_and_mse_losses():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(8, 1)).astype(np.float32)
    t = rng.integers(0, 2, (8, 1)).astype(np.float32)
    p = 1 / (1 + np.exp(-z))
    want = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()
    assert abs(losses.BinaryCrossentropy(from_logits=True)(t, _p(z)).item() - want) < 1e-5
    assert abs(losses.BinaryCrossentropy()(t.reshape(-1), _p(p)).item() - want) < 1e-5
    fused = layers.Activation("sigmoid")(_p(z))
    assert abs(losses.get("binary_crossentropy")(t, fused).item() - want) < 1e-5
    assert abs(losses.get("mse")(t, _p(z)).item() - ((z - t) ** 2).mean()) < 1e-5
    custom = losses.get(lambda yt, yp: ((yp - yt) * (yp - yt)).mean())
    assert abs(custom(t, _p(z)).item() - ((z - t) ** 2).mean()) < 1e-5


def test_sequence_outputs_flatten_to_classes_last():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(2, 5, 3)).astype(np.float32)
    y = rng.integers(0, 3, (2, 5))
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    want = -np.take_along_axis(logp, y[..., None], -1).mean()
    got = losses.SparseCategoricalCrossentropy(from_logits=True)(y, _p(z)).item()
    assert abs(got - want) < 1e-5


# ----------------------------------------------------------------------------- metrics
def test_metrics_stream_exactly_over_uneven_batches():
    m = metrics.get("accuracy", losses.get("sparse_categorical_crossentropy"))
    assert isinstance(m, metrics.SparseCategoricalAccuracy) and m.name == "accuracy"
    m.update_state(np.array([0, 1, 2]), np.eye(3)[[0, 1, 0]])  # 2/3
    m.update_state(np.array([1]), np.eye(3)[[1]])  # 1/1
    assert m.result() == pytest.approx(0.75)
    b = metrics.get("accuracy", losses.BinaryCrossentropy(from_logits=True))
    b.update_state(np.array([1, 0, 1]), np.array([0.3, -0.2, -1.0]))  # threshold 0 for logits
    assert b.result() == pytest.approx(2 / 3)
    mae = metrics.get("mae")
    mae.update_state(np.array([1.0, 2.0]), np.array([[1.5], [2.0]]))
    assert mae.result() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="unknown metric 'f2'"):
        metrics.get("f2")
    with pytest.raises(ValueError, match="'accuracy' needs a classification loss"):
        metrics.get("accuracy", losses.get("mse"))


# ----------------------------------------------------------------------------- callbacks
def _small():
    x, y = datasets.make_blobs(256, classes=2, features=2, seed=3)
    model = keras.Sequential([keras.Input((2,)), layers.Dense(8, activation="relu"), layers.Dense(2, activation="softmax")])
    return model, x, y


def test_early_stopping_stops_and_restores_best():
    model, x, y = _small()
    model.compile(keras.optimizers.SGD(1e-9), "sparse_categorical_crossentropy")  # nothing improves
    es = callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=1e-3, restore_best_weights=True)
    h = model.fit(x, y, epochs=20, batch_size=64, callbacks=[es], verbose=0, shuffle=False)
    assert len(h.epoch) == 3 and es.stopped_epoch == 2 and es.best_epoch == 0
    # restore_best_weights: a scripted score makes epoch 1 (0-based) the best, stopping at epoch 3
    model2, _, _ = _small()
    model2.compile(keras.optimizers.Adam(5e-2), "sparse_categorical_crossentropy")
    scores, snapshots = [3.0, 1.0, 2.0, 4.0, 5.0, 6.0], {}

    def script(epoch, logs):
        logs["score"] = scores[epoch]
        snapshots[epoch] = model2.get_weights()

    es2 = callbacks.EarlyStopping(monitor="score", patience=1, restore_best_weights=True)
    h2 = model2.fit(x, y, epochs=6, batch_size=64, callbacks=[callbacks.LambdaCallback(on_epoch_end=script), es2],
                    verbose=0)
    assert es2.stopped_epoch == 3 and es2.best_epoch == 1 and h2.history["score"] == scores[:4]
    for now, best in zip(model2.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(now, best)
    assert not all(np.array_equal(a, b) for a, b in zip(snapshots[3], snapshots[1]))


def test_model_checkpoint_best_only(tmp_path):
    model, x, y = _small()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    ck = callbacks.ModelCheckpoint(tmp_path / "ep{epoch:02d}-{val_loss:.3f}.safetensors", monitor="val_loss",
                                   save_best_only=True, save_weights_only=True)
    full = callbacks.ModelCheckpoint(tmp_path / "full", monitor="val_accuracy")
    model.fit(x, y, epochs=4, batch_size=32, validation_data=(x, y), callbacks=[ck, full], verbose=0)
    assert ck.saved and all(p.endswith(".safetensors") for p in ck.saved)
    assert ck.saved[0].startswith(str(tmp_path / "ep01-"))
    model.load_weights(ck.saved[-1])
    assert (tmp_path / "full" / "config.json").is_file() and (tmp_path / "full" / "model.safetensors").is_file()
    bad = callbacks.ModelCheckpoint(tmp_path / "{nope}.safetensors", save_weights_only=True)
    with pytest.raises(KeyError, match="nope"):
        model.fit(x, y, epochs=1, callbacks=[bad], verbose=0)


# ----------------------------------------------------------------------------- progress and summary
class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_is_tqdm_with_loss_metrics_and_eta(monkeypatch):
    import sys

    tty = _Tty()
    monkeypatch.setattr(sys, "stdout", tty)
    model, x, y = _small()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=2, batch_size=64, validation_data=(x, y), verbose=1)
    out = tty.getvalue()
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "4/4" in out
    assert "loss:" in out and "accuracy:" in out and "val_accuracy:" in out
    assert "step/s" in out and "<" in out  # tqdm's rate and elapsed<remaining (ETA)


def test_verbose_2_lines_and_verbose_0_silent(capsys):
    model, x, y = _small()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=2, batch_size=64, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2") and "accuracy:" in lines[1]
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    model.predict(x)
    model.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""


def test_summary_lists_layers_shapes_and_params():
    model = keras.Sequential([keras.Input((1, 8, 8)), layers.Conv2D(4, 3, activation="relu", name="c"),
                              layers.Flatten(name="f"), layers.Dense(10, name="d")])
    text = model.summary(print_fn=None)
    assert "c (Conv2D)" in text and "(None, 4, 6, 6)" in text and "(None, 144)" in text
    assert "(None, 10)" in text and "Total params: 1,490" in text  # 4*9+4 + 144*10+10
    func = article_model()
    assert "Total params: 11" in func.summary(print_fn=None)


# ----------------------------------------------------------------------------- errors
def test_bad_calls_raise_clear_errors():
    model, x, y = _small()
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y)
    with pytest.raises(ValueError, match="unknown loss 'hinge2'"):
        model.compile("adam", "hinge2")
    with pytest.raises(ValueError, match="unknown optimizer 'adamax2'"):
        model.compile("adamax2", "mse")
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="x has 256 samples but y has 10"):
        model.fit(x, y[:10], verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="validation_split must be in"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="units must be a positive int"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="Input: shape must be positive"):
        keras.Input((3, -1))
    with pytest.raises(ValueError, match="unknown activation 'relu6x'"):
        layers.Dense(2, activation="relu6x")
    with pytest.raises(ValueError, match="layer name 'fit' is taken"):
        keras.Sequential([layers.Dense(2, name="fit")])
    with pytest.raises(ValueError, match="layer name 'd' is taken"):
        keras.Sequential([layers.Dense(2, name="d"), layers.Dense(2, name="d")])
    with pytest.raises(ValueError, match="categorical_crossentropy: y_true must be one-hot"):
        losses.CategoricalCrossentropy()(np.array([0, 1]), _p(np.full((2, 3), 1 / 3)))


@pytest.mark.parametrize("act, ref", [("relu", lambda z: np.maximum(z, 0)), ("tanh", np.tanh),
                                      ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
                                      ("softmax", lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True)),
                                      (None, lambda z: z)])
def test_dense_activations_fused_or_not_match_numpy(act, ref):
    x = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32)
    dense = layers.Dense(4, activation=act)
    out = dense(fastnn.Tensor(x)).numpy()
    w, b = dense.linear.weight.numpy(), dense.linear.bias.numpy()
    np.testing.assert_allclose(out, ref(x.astype(np.float64) @ w.T + b), rtol=1e-5, atol=1e-6)


def test_learning_rate_scheduler_and_time_limit(monkeypatch):
    model, x, y = _small()
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: 1e-2 * 0.5 ** epoch)
    h = model.fit(x, y, epochs=3, batch_size=64, callbacks=[sched], verbose=0)
    assert h.history["lr"] == pytest.approx([1e-2, 5e-3, 2.5e-3])
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(2.5e-3)
    with pytest.raises(ValueError, match="schedule returned -1.0 for epoch 0"):
        model.fit(x, y, epochs=1, callbacks=[callbacks.LearningRateScheduler(lambda e, lr: -1.0)], verbose=0)
    clock = iter(range(0, 1000, 10))  # every perf_counter call advances 10 s
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: float(next(clock)))
    limit = callbacks.TimeLimit(25)
    h = model.fit(x, y, epochs=50, batch_size=64, callbacks=[limit], verbose=0)
    assert limit.stopped_epoch == len(h.epoch) - 1 < 5
    with pytest.raises(ValueError, match="seconds must be > 0"):
        callbacks.TimeLimit(0)
