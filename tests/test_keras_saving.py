"""Saving: the safetensors reader/writer (against the `safetensors` package when installed),
save_weights / load_weights, and save / load_model of Sequential, functional and zoo models."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import fastnn
from fastnn import keras, models, nn
from fastnn.keras import layers
from fastnn.keras import safetensors_io as st


def _tensors():
    rng = np.random.default_rng(0)
    return {"w": rng.normal(size=(3, 5)).astype(np.float32), "b": np.arange(4, dtype=np.int64),
            "flag": np.array(True), "h": rng.normal(size=(2, 2)).astype(np.float16),
            "empty": np.zeros((0, 7), np.float32), "d": rng.normal(size=(7,)), "u8": np.arange(5, dtype=np.uint8),
            "big_endian": np.arange(3, dtype=">i4")}


def test_safetensors_round_trip_and_layout(tmp_path):
    t = _tensors()
    st.save_file(t, tmp_path / "a.safetensors", metadata={"who": "fastnn"})
    raw = (tmp_path / "a.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and raw[8:9] == b"{"
    header = json.loads(raw[8:8 + n])
    assert header["__metadata__"] == {"who": "fastnn"}
    assert header["w"]["dtype"] == "F32" and header["w"]["shape"] == [3, 5]
    assert header["big_endian"]["dtype"] == "I32"
    for info in header.values():  # every tensor starts aligned to its item size
        if "data_offsets" in info:
            size = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2}.get(info["dtype"], 1)
            assert info["data_offsets"][0] % size == 0
    back = st.load_file(tmp_path / "a.safetensors")
    assert set(back) == set(t)
    for k in t:
        assert back[k].dtype == t[k].dtype.newbyteorder("=") and np.array_equal(back[k], t[k])
    assert st.read_metadata(tmp_path / "a.safetensors") == {"who": "fastnn"}


def test_safetensors_rejects_corrupt_files():
    good = st.save({"a": np.ones((2, 2), np.float32)})
    with pytest.raises(ValueError, match="shorter than the 8-byte"):
        st.load(good[:5])
    with pytest.raises(ValueError, match="declares a"):
        st.load(struct.pack("<Q", 1 << 40) + good[8:])
    with pytest.raises(ValueError, match="covers? 16 bytes|cover 16 bytes"):
        st.load(good + b"\0\0\0\0")  # trailing bytes not covered by any tensor
    n = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8:8 + n])
    header["a"]["data_offsets"] = [0, 12]
    text = json.dumps(header).encode()
    with pytest.raises(ValueError, match="needs 16 bytes"):
        st.load(struct.pack("<Q", len(text)) + text + good[8 + n:])
    header["a"] = {"dtype": "Q7", "shape": [2, 2], "data_offsets": [0, 16]}
    text = json.dumps(header).encode()
    with pytest.raises(TypeError, match="dtype Q7"):
        st.load(struct.pack("<Q", len(text)) + text + good[8 + n:])
    with pytest.raises(TypeError, match="cannot store"):
        st.save({"c": np.ones(2, np.complex64)})
    with pytest.raises(TypeError, match="metadata must map str to str"):
        st.save({"a": np.ones(1, np.float32)}, metadata={"k": 1})


def test_safetensors_reads_bf16_as_float32():
    vals = np.array([1.0, -2.5, 3.140625], np.float32)
    bits = (vals.view(np.uint32) >> 16).astype("<u2").tobytes()
    header = json.dumps({"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
    out = st.load(struct.pack("<Q", len(header)) + header + bits)["x"]
    assert out.dtype == np.float32 and np.array_equal(out, vals)


def test_safetensors_interoperates_with_the_reference_package(tmp_path):
    ref = pytest.importorskip("safetensors.numpy")
    t = {k: v.astype(v.dtype.newbyteorder("=")) for k, v in _tensors().items() if v.ndim > 0}
    st.save_file(t, tmp_path / "ours.safetensors", metadata={"m": "1"})
    theirs = ref.load_file(str(tmp_path / "ours.safetensors"))
    assert all(np.array_equal(theirs[k], t[k]) and theirs[k].dtype == t[k].dtype for k in t)
    ref.save_file(t, str(tmp_path / "theirs.safetensors"), metadata={"m": "2"})
    ours = st.load_file(tmp_path / "theirs.safetensors")
    assert all(np.array_equal(ours[k], t[k]) and ours[k].dtype == t[k].dtype for k in t)
    assert st.read_metadata(tmp_path / "theirs.safetensors") == {"m": "2"}


# ----------------------------------------------------------------------------- models
def _trained(model, x, y, loss="sparse_categorical_crossentropy"):
    model.compile("adam", loss, ["accuracy"])
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    return model


def _roundtrip(model, x, tmp_path):
    model.save(tmp_path / "m")
    again = keras.load_model(tmp_path / "m")
    assert type(again) is type(model)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    return again


def test_save_load_sequential_with_nn_modules(tmp_path):
    fastnn.manual_seed(1)
    x = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = keras.Sequential([keras.Input((4,)), nn.Linear(4, 6), nn.ReLU(), layers.Dropout(0.1),
                              layers.Dense(2, activation="softmax")])
    _trained(model, x, y)
    again = _roundtrip(model, x, tmp_path)
    assert again.loss_fn is not None and [m.name for m in again.compiled_metrics] == ["accuracy"]
    again.fit(x, y, epochs=1, verbose=0)  # compile settings came back: it trains


def test_save_load_functional_and_lazy_sequential(tmp_path):
    fastnn.manual_seed(2)
    x = np.random.default_rng(0).normal(size=(16, 1, 8, 8)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 3, 16)
    inp = keras.Input((1, 8, 8))
    h = layers.MaxPooling2D(2)(layers.Conv2D(4, 3, padding="same", activation="relu")(inp))
    out = layers.Dense(3)(layers.Flatten()(layers.BatchNormalization()(h)))
    model = _trained(keras.Model(inputs=inp, outputs=out), x, y,
                     keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    _roundtrip(model, x, tmp_path / "f")
    lazy = _trained(keras.Sequential([layers.Flatten(), layers.Dense(5, activation="relu"), layers.Dense(3)]), x, y,
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    _roundtrip(lazy, x, tmp_path / "s")


def test_save_load_zoo_model_and_weights_only(tmp_path):
    fastnn.manual_seed(3)
    x = np.random.default_rng(0).random((8, 1, 8, 8)).astype(np.float32)
    model = models.LeNet(1, 10, image_size=8, channels=(4, 8))
    again = _roundtrip(_trained(model, x, np.arange(8) % 10, keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
                       x, tmp_path)
    assert again.get_config() == {"in_channels": 1, "num_classes": 10, "image_size": 8, "channels": [4, 8]}
    model.save_weights(tmp_path / "w.safetensors")
    fresh = models.LeNet(1, 10, image_size=8, channels=(4, 8))
    assert not np.array_equal(fresh.predict(x), model.predict(x))
    fresh.load_weights(tmp_path / "w.safetensors")
    np.testing.assert_array_equal(fresh.predict(x), model.predict(x))
    other = models.LeNet(1, 10, image_size=8, channels=(4, 16))
    with pytest.raises(ValueError, match="shape mismatch"):
        other.load_weights(tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="missing"):
        models.MLP(64, 10).load_weights(tmp_path / "w.safetensors")
    with pytest.raises(FileNotFoundError, match="config.json"):
        keras.load_model(tmp_path / "nowhere")
    with pytest.raises(RuntimeError, match="not built"):
        keras.Sequential([layers.Dense(2)]).save(tmp_path / "x")
