"""fastnn.keras merge layers (Add, Concatenate): values and gradients against NumPy, functional graphs
with several inputs and branches (a residual block), summary, save/load, errors."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import keras
from fastnn.keras import layers


@pytest.fixture(autouse=True)
def _seed():
    fastnn.manual_seed(0)


def _t(a, grad=False):
    return fastnn.Tensor(np.asarray(a, np.float32), requires_grad=grad)


def test_add_and_concatenate_values_and_gradients():
    rng = np.random.default_rng(0)
    a, b, c = (rng.normal(size=(3, 2, 5)).astype(np.float32) for _ in range(3))
    ta, tb, tc = _t(a, True), _t(b, True), _t(c, True)
    out = layers.Add()([ta, tb, tc])
    np.testing.assert_allclose(out.numpy(), a + b + c, rtol=1e-6)
    g = rng.normal(size=out.shape).astype(np.float32)
    (out * _t(g)).sum().backward()
    for t in (ta, tb, tc):
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-6)
    for axis, np_axis in ((-1, 2), (2, 2), (1, 1), (-2, 1)):
        ta, tc = _t(a, True), _t(c[:, :, :3], True) if np_axis == 2 else _t(c[:, :1], True)
        cat = layers.Concatenate(axis=axis)([ta, tc])
        want = np.concatenate([a, tc.numpy()], np_axis)
        np.testing.assert_array_equal(cat.numpy(), want)
        g = rng.normal(size=want.shape).astype(np.float32)
        (cat * _t(g)).sum().backward()
        split = a.shape[np_axis]
        np.testing.assert_array_equal(ta.grad.numpy(), np.take(g, range(split), axis=np_axis))
        np.testing.assert_array_equal(tc.grad.numpy(), np.take(g, range(split, want.shape[np_axis]), axis=np_axis))


def residual_mlp():
    """Two inputs; a residual block (Dense -> Dense + skip, Add) on one, concatenated with the other."""
    a, b = keras.Input((6,), name="a"), keras.Input((3,), name="b")
    h = layers.Dense(6, activation="relu", name="d1")(a)
    h = layers.Dense(6, name="d2")(h)
    res = layers.Activation("relu", name="act")(layers.Add(name="skip")([a, h]))
    joined = layers.Concatenate(name="join")([res, layers.Dense(4, activation="tanh", name="db")(b)])
    return keras.Model(inputs=[a, b], outputs=layers.Dense(2, activation="softmax", name="head")(joined))


def _data(n=512, seed=0):
    rng = np.random.default_rng(seed)
    xa = rng.normal(size=(n, 6)).astype(np.float32)
    xb = rng.normal(size=(n, 3)).astype(np.float32)
    y = (xa[:, 0] - xa[:, 1] + 2 * xb[:, 0] > 0).astype(np.int64)  # needs both inputs
    return xa, xb, y


def test_functional_graph_with_two_inputs_and_a_residual_block_trains():
    model = residual_mlp()
    xa, xb, y = _data()
    with fastnn.no_grad():  # the graph computes what the layers compute
        out = model(_t(xa[:4]), _t(xb[:4])).numpy()
        d = {l.name: l for l in model.layers}
        h = d["d2"](d["d1"](_t(xa[:4])))
        joined = fastnn.cat([(_t(xa[:4]) + h).relu(), d["db"](_t(xb[:4]))], 1)
        np.testing.assert_allclose(out, d["head"](joined).numpy(), rtol=1e-5, atol=1e-6)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", ["accuracy"])
    h = model.fit([xa, xb], y, epochs=30, batch_size=64, validation_split=0.25, verbose=0, seed=0).history
    assert h["loss"][-1] < 0.6 * h["loss"][0]
    assert h["val_accuracy"][-1] > 0.85  # chance 0.5; the label needs both inputs


def test_summary_shows_merge_connections():
    text = residual_mlp().summary(print_fn=None)
    assert "Connected to" in text
    lines = {l.split()[0]: l for l in text.splitlines() if l and l.split()[0] in ("skip", "join", "d1")}
    assert "(None, 6)" in lines["skip"] and "a, d2" in lines["skip"]
    assert "(None, 10)" in lines["join"] and "act, db" in lines["join"]
    assert lines["d1"].rstrip().endswith("a")
    assert "Total params: 122" in text  # d1 42 + d2 42 + db 16 + head 22 + 0 for the merges and activation
    simple = keras.Sequential([keras.Input((3,)), layers.Dense(2)]).summary(print_fn=None)
    assert "Connected to" not in simple


def test_save_load_graph_with_merges(tmp_path):
    model = residual_mlp()
    xa, xb, y = _data(64)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit([xa, xb], y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m")
    again = keras.load_model(tmp_path / "m")
    assert [type(l).__name__ for l in again.layers] == [type(l).__name__ for l in model.layers]
    assert again.get_config()["nodes"] == model.get_config()["nodes"]
    pa, pb = model.predict([xa, xb]), again.predict([xa, xb])
    np.testing.assert_array_equal(pa, pb)
    again.fit([xa, xb], y, epochs=1, verbose=0)  # compile settings came back


def test_shared_layer_on_two_branches_saves_once(tmp_path):
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    shared = layers.Dense(3, name="shared")
    model = keras.Model([a, b], layers.Add(name="sum")([shared(a), shared(b)]))
    x1, x2 = np.ones((2, 4), np.float32), np.arange(8, dtype=np.float32).reshape(2, 4)
    w, bias = shared.linear.weight.numpy(), shared.linear.bias.numpy()
    np.testing.assert_allclose(model.predict([x1, x2]), x1 @ w.T + x2 @ w.T + 2 * bias, rtol=1e-5)
    assert sum(1 for k in model.state_dict() if k.startswith("shared.")) == 2  # one weight, one bias
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(keras.load_model(tmp_path / "m").predict([x1, x2]), model.predict([x1, x2]))


def test_merge_errors_name_the_layer_and_shapes():
    a, b = keras.Input((3,)), keras.Input((4,))
    with pytest.raises(ValueError, match=r"Add \(bad_add\): inputs must have the same shape, got \[\(None, 3\), \(None, 4\)\]"):
        layers.Add(name="bad_add")([a, b])
    with pytest.raises(ValueError, match="needs a list of at least 2 inputs, got 1"):
        layers.Add()([a])
    img = keras.Input((2, 5, 5))
    with pytest.raises(ValueError, match="inputs must have the same rank"):
        layers.Concatenate()([a, img])
    with pytest.raises(ValueError, match="must agree on every axis but axis 1"):
        layers.Concatenate(axis=1)([img, keras.Input((2, 5, 4))])
    with pytest.raises(ValueError, match="axis 4 is out of range for inputs of 4 axes"):
        layers.Concatenate(axis=4)([img, img])
    with pytest.raises(ValueError, match="axis must be a nonzero int"):
        layers.Concatenate(axis=0)
    with pytest.raises(TypeError, match="Dense .* takes one input, got a list of 2; merge several"):
        layers.Dense(2)([a, a])
    with pytest.raises(TypeError, match="mix of symbolic"):
        layers.Add()([a, _t(np.ones((1, 3)))])
    with pytest.raises(ValueError, match="different batch sizes"):
        layers.Add()([_t(np.ones((2, 3))), _t(np.ones((3, 3)))])
    with pytest.raises(ValueError, match=r"inputs must have the same shape, got \[\(None, 3\), \(None, 2\)\]"):
        layers.Add()(_t(np.ones((2, 3))), _t(np.ones((2, 2))))
