"""Bad input to fastnn.keras: targets of the wrong shape, dtype or range for each loss; unknown names
(the message lists the valid ones); corrupt, truncated or half-matching save files; and saving that
never leaves a half-written file."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import fastnn
from fastnn import keras
from fastnn.keras import layers, losses, metrics, optimizers
from fastnn.keras import safetensors_io as st


def _p(shape, seed=0):
    return fastnn.Tensor(np.random.default_rng(seed).random(shape, dtype=np.float32), requires_grad=True)


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy(from_logits=True)])
def test_sparse_targets(loss):
    loss = losses.get(loss)
    pred = _p((4, 3))
    with pytest.raises(ValueError, match=r"one class id per sample, shape \(4,\) .* got \(4, 3\) \(one-hot targets\? use "
                                         r"categorical_crossentropy\)"):
        loss(np.eye(3)[[0, 1, 2, 0]], pred)
    with pytest.raises(ValueError, match=r"shape \(4,\) for outputs of shape \(4, 3\), got \(5,\)"):
        loss(np.zeros(5, np.int64), pred)
    with pytest.raises(ValueError, match=r"class ids must be in \[0, 3\) for 3 outputs, got \[3, -2\]"):
        loss(np.array([0, 3, 1, -2]), pred)
    with pytest.raises(TypeError, match="integer class ids, got non-integral values of dtype float64"):
        loss(np.array([0.0, 1.5, 1.0, 2.0]), pred)
    with pytest.raises(TypeError, match="must be numeric .class ids., got dtype <U1"):
        loss(np.array(["a", "b", "c", "a"]), pred)
    ok = [loss(np.array([0, 2, 1, 0]), pred).item(), loss(np.array([[0.0], [2.0], [1.0], [0.0]]), pred).item(),
          loss(np.array([0, 2, 1, -100]), pred).item()]  # ids as (N, 1) floats, and ignore_index, are fine
    assert all(np.isfinite(ok)) and ok[0] == pytest.approx(ok[1])
    seq = _p((2, 5, 3))  # sequence outputs: ids (N, L)
    assert np.isfinite(loss(np.zeros((2, 5), np.int64), seq).item())
    with pytest.raises(ValueError, match=r"shape \(2, 5\) for outputs of shape \(2, 5, 3\), got \(2, 4\)"):
        loss(np.zeros((2, 4), np.int64), seq)


def test_binary_mse_and_categorical_targets():
    bce, mse, cce = losses.get("binary_crossentropy"), losses.get("mse"), losses.get("categorical_crossentropy")
    pred = _p((4, 1))
    with pytest.raises(ValueError, match=r"binary_crossentropy: y_true of shape \(3,\) does not match the model output "
                                         r"of shape \(4, 1\)"):
        bce(np.ones(3), pred)
    with pytest.raises(ValueError, match=r"binary_crossentropy: y_true must be in \[0, 1\].*got values in \[0, 2\]"):
        bce(np.array([0, 1, 2, 1]), pred)
    with pytest.raises(TypeError, match="binary_crossentropy: y_true must be numeric"):
        bce(np.array([None, 1, 0, 1], dtype=object), pred)
    assert np.isfinite(bce(np.array([0, 1, 1, 0], np.int64), pred).item())  # ints and (N,) are fine
    with pytest.raises(ValueError, match=r"mse: y_true of shape \(4, 2\) does not match the model output of shape \(4, 1\)"):
        mse(np.ones((4, 2)), pred)
    with pytest.raises(ValueError, match=r"mse: .*of shape \(2, 2\)"):
        mse(np.ones((2, 2)), _p((4,)))  # same size, different batch
    with pytest.raises(ValueError, match="categorical_crossentropy: y_true must be one-hot of the output's shape"):
        cce(np.array([0, 1, 2, 0]), _p((4, 3)))
    with pytest.raises(TypeError, match="categorical_crossentropy: y_true must be numeric"):
        cce(np.full((4, 3), "x"), _p((4, 3)))


def test_fit_reports_bad_labels_and_lengths():
    model = keras.Sequential([keras.Input((2,)), layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    x = np.zeros((10, 2), np.float32)
    with pytest.raises(ValueError, match="fit: x has 10 samples but y has 9"):
        model.fit(x, np.zeros(9, np.int64), verbose=0)
    with pytest.raises(ValueError, match=r"class ids must be in \[0, 3\)"):
        model.fit(x, np.full(10, 7), verbose=0)
    with pytest.raises(ValueError, match="evaluate: x has 10 samples but y has 4"):
        model.evaluate(x, np.zeros(4, np.int64), verbose=0)
    with pytest.raises(ValueError, match=r"every input needs the same number of samples, got \[10, 3\]"):
        model.fit([x, x[:3]], np.zeros(10, np.int64), verbose=0)
    with pytest.raises(ValueError, match="the model takes 1 input.s., got 2"):
        model.fit([x, x], np.zeros(10, np.int64), verbose=0)
    with pytest.raises(ValueError, match="fit: x is empty"):
        model.fit(x[:0], np.zeros(0, np.int64), verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive int"):
        model.fit(x, np.zeros(10, np.int64), steps_per_epoch=0, verbose=0)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'; known: adam, adamw, sgd, rmsprop"):
        optimizers.get("adamm")
    with pytest.raises(ValueError, match="unknown loss 'crossentropy'; known: binary_crossentropy, bce, "
                                         "categorical_crossentropy, sparse_categorical_crossentropy, mse"):
        losses.get("crossentropy")
    with pytest.raises(ValueError, match="unknown metric 'auc'; known: accuracy, binary_accuracy, .*mae"):
        metrics.get("auc")
    with pytest.raises(TypeError, match="optimizer must be a name"):
        optimizers.get(3)
    with pytest.raises(ValueError, match="unknown activation 'swishy'; known: linear, gelu, leaky_relu"):
        layers.Dense(2, activation="swishy")


def test_steps_per_epoch_draws_full_batches_from_a_running_pass():
    seen = []

    class Spy(keras.Sequential):
        def train_step(self, x, y):
            seen.append(y.copy())
            return super().train_step(x, y)

    model = Spy([keras.Input((1,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.arange(10, dtype=np.float32)[:, None]
    h = model.fit(x, x[:, 0], epochs=3, batch_size=4, steps_per_epoch=2, shuffle=False, verbose=0)
    assert len(h.epoch) == 3 and len(seen) == 6 and all(len(b) == 4 for b in seen)
    flat = np.concatenate(seen)  # pass 0..9, then 0..9 again: 24 samples in order
    np.testing.assert_array_equal(flat, np.concatenate([np.arange(10), np.arange(10), np.arange(4)]))


# ----------------------------------------------------------------------------- save files
def _saved(tmp_path):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="relu"), layers.Dense(2)])
    model.compile("adam", "mse")
    model.save(tmp_path / "m")
    return model, tmp_path / "m"


def test_corrupt_or_truncated_save_files_give_clear_errors(tmp_path):
    model, path = _saved(tmp_path)
    weights, config = path / "model.safetensors", path / "config.json"
    good_w, good_c = weights.read_bytes(), config.read_bytes()
    for cut in (4, 40, len(good_w) - 3):  # truncated inside the length, the header, the data
        weights.write_bytes(good_w[:cut])
        with pytest.raises(ValueError, match="safetensors: .*model.safetensors"):
            keras.load_model(path)
        with pytest.raises(ValueError, match="safetensors"):
            model.load_weights(weights)
    weights.write_bytes(b"\x00" * 8 + good_w[8:])  # a zeroed length
    with pytest.raises(ValueError, match="header does not start with"):
        keras.load_model(path)
    weights.write_bytes(good_w)
    config.write_bytes(good_c[: len(good_c) // 2])
    with pytest.raises(ValueError, match=r"config.json is not valid JSON \(truncated or corrupt\?\)"):
        keras.load_model(path)
    config.write_text(json.dumps({"format": "fastnn.keras/1"}))
    with pytest.raises(ValueError, match=r"lacks \['model', 'input_spec'\]"):
        keras.load_model(path)
    config.write_text("[1, 2]")
    with pytest.raises(ValueError, match="has format 'list', expected 'fastnn.keras/1'"):
        keras.load_model(path)
    doc = json.loads(good_c)
    del doc["model"]["config"]["layers"][0]["config"]["units"]
    config.write_text(json.dumps(doc))
    with pytest.raises((ValueError, TypeError), match="units"):
        keras.load_model(path)
    config.write_bytes(good_c)
    os.remove(weights)
    with pytest.raises(FileNotFoundError, match="model.safetensors not found"):
        keras.load_model(path)
    other = keras.Sequential([keras.Input((3,)), layers.Dense(5), layers.Dense(2)])
    other.save_weights(weights)  # weights of another architecture
    with pytest.raises(ValueError, match="weights do not match the model: missing"):
        keras.load_model(path)


def _listing(d):
    return sorted(os.listdir(d))


def test_save_writes_temp_files_and_renames(tmp_path, monkeypatch):
    model, path = _saved(tmp_path)
    before = {n: (path / n).read_bytes() for n in _listing(path)}
    assert set(before) == {"config.json", "model.safetensors"}
    with fastnn.no_grad():  # change the weights, then fail at the rename
        for p in model.parameters():
            p.fill_(0.5)
    renames = []

    def failing_replace(src, dst):
        renames.append((os.path.basename(src), os.path.basename(dst)))
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk on fire"):
        model.save(path)
    assert renames and renames[0][0].startswith("model.safetensors.tmp") and renames[0][1] == "model.safetensors"
    assert {n: (path / n).read_bytes() for n in _listing(path)} == before  # old save intact, no temp files left
    with pytest.raises(OSError, match="disk on fire"):
        model.save_weights(path / "model.safetensors")
    assert {n: (path / n).read_bytes() for n in _listing(path)} == before
    monkeypatch.undo()

    real_write = st.write_staged
    calls = []

    def fail_second(target, data):  # the weights are staged, then writing the config fails
        calls.append(os.path.basename(target))
        if len(calls) == 2:
            raise OSError("no space left")
        return real_write(target, data)

    monkeypatch.setattr(st, "write_staged", fail_second)
    with pytest.raises(OSError, match="no space left"):
        model.save(path)
    assert calls == ["model.safetensors", "config.json"]
    assert {n: (path / n).read_bytes() for n in _listing(path)} == before
    monkeypatch.undo()
    model.save(path)  # and a normal save replaces both, leaving exactly the two files
    assert _listing(path) == ["config.json", "model.safetensors"]
    assert (path / "model.safetensors").read_bytes() != before["model.safetensors"]


def test_serialization_errors_write_nothing(tmp_path):
    class Bad:
        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("cannot convert")

    with pytest.raises(RuntimeError, match="cannot convert"):
        st.save_file({"a": np.ones(3, np.float32), "b": Bad()}, tmp_path / "x.safetensors")
    assert _listing(tmp_path) == []
