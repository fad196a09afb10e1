"""Keras-style training on fastnn: Sequential / Model with compile, fit, evaluate, predict, summary,
save and load; layers with inferred sizes; losses, metrics, optimizers and callbacks by Keras names.

    from fastnn import keras
    inputs = keras.Input(shape=(3,))
    hidden = keras.layers.Dense(units=2, activation="relu")(inputs)
    outputs = keras.layers.Dense(units=1, activation="sigmoid")(hidden)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=10, batch_size=32)
"""
from . import callbacks, layers, losses, metrics, optimizers  # noqa: F401
from .layers import Input  # noqa: F401
from .model import Model, Sequential, load_model, model_from_config  # noqa: F401
from .safetensors_io import load_file as load_safetensors, save_file as save_safetensors  # noqa: F401

