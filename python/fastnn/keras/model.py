"""Keras-style Model and Sequential over fastnn.nn: compile / fit / evaluate / predict / summary /
save / load.

A Model is a fastnn.nn.Module. Three ways to make one:
- functional: `Model(inputs=Input((3,)), outputs=Dense(1, "sigmoid")(Dense(2, "relu")(inp)))`;
- `Sequential([Input((3,)), Dense(2, activation="relu"), Dense(1, activation="sigmoid")])`, whose
  items may also be plain fastnn.nn modules (nn.Conv2d(1, 8, 3), nn.ReLU(), ...);
- subclassing (the fastnn.models zoo): define `__init__` and `forward`; the constructor arguments are
  recorded, so `save`/`load_model` can rebuild it.

Training customises like Keras: override `train_step(x, y) -> dict of batch values` (the GAN does).
"""
from __future__ import annotations

import functools
import importlib
import inspect
import json
import math
import os
from typing import Sequence

import numpy as np

from .. import _heap
from . import callbacks as _callbacks
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers
from . import safetensors_io
from ._backend import device_of_module, eval_mode, nn, no_grad, to_array, to_tensor
from .layers import LAYERS, KerasTensor, Layer, _Merge, _auto_name, _snake
from .progress import ProgressBar

__all__ = ["Model", "Sequential", "load_model"]

FORMAT = "fastnn.keras/1"
CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"


def _as_inputs(x) -> list[np.ndarray]:
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    out = []
    for a in xs:
        a = to_array(a)
        out.append(a.astype(np.float32) if a.dtype == np.float64 else a)
    return out


def _batches(n: int, batch_size: int, order: np.ndarray):
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def _count(module) -> int:
    return sum(int(np.prod(tuple(p.shape))) for p in module.parameters())


class Model(nn.Module):
    """A trainable network with the Keras training API. See the module docstring."""

    _registry: dict[str, type] = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        Model._registry[f"{cls.__module__}:{cls.__qualname__}"] = cls
        if "__init__" in cls.__dict__ and cls.__name__ != "Sequential":
            cls.__init__ = _recording_init(cls.__dict__["__init__"])

    def __init__(self, inputs=None, outputs=None, name: str | None = None) -> None:
        super().__init__()
        self.name = name or _auto_name(_snake(type(self).__name__))
        self.stop_training = False
        self.optimizer = None
        self.loss_fn = None
        self.compiled_metrics: list = []
        self._optimizer_spec = None
        self._input_spec: list[tuple[tuple, str]] | None = None
        self._graph = None
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("Model: the functional API needs both inputs= and outputs=")
            self._init_graph(inputs, outputs)

    # ------------------------------------------------------------------ functional graph
    def _init_graph(self, inputs, outputs) -> None:
        ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        for t in ins + outs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model: inputs and outputs must come from fastnn.keras Input/layers, got {type(t).__name__}")
        order, seen = [], set()

        def visit(t):
            if id(t) in seen:
                return
            seen.add(id(t))
            for i in t.inputs:
                visit(i)
            order.append(t)

        for o in outs:
            visit(o)
        leaves = [t for t in order if t.layer is None]
        stray = [t.name for t in leaves if all(t is not i for i in ins)]
        if stray:
            raise ValueError(f"Model: the outputs depend on inputs not listed in inputs=: {stray}")
        layers = []
        for t in order:
            if t.layer is not None and all(t.layer is not l for l in layers):
                layers.append(t.layer)
        for layer in layers:
            if hasattr(self, layer.name) and getattr(self, layer.name) is not layer:
                raise ValueError(f"Model: layer name {layer.name!r} is taken (by another layer or a Model attribute)")
            setattr(self, layer.name, layer)
        self._graph = {"inputs": ins, "outputs": outs, "nodes": [t for t in order if t.layer is not None],
                       "multi_output": isinstance(outputs, (list, tuple))}
        self._input_spec = [(t.shape, t.dtype) for t in ins]

    @property
    def layers(self) -> list:
        if self._graph is not None:
            out = []
            for t in self._graph["nodes"]:
                if all(t.layer is not l for l in out):
                    out.append(t.layer)
            return out
        return [m for _, m in self.named_children()]

    def forward(self, *xs):
        if self._graph is None:
            raise NotImplementedError(f"{type(self).__name__}: subclasses of Model define forward()")
        g = self._graph
        if len(xs) != len(g["inputs"]):
            raise ValueError(f"{self.name}: expected {len(g['inputs'])} input(s), got {len(xs)}")
        values = {id(t): x for t, x in zip(g["inputs"], xs)}
        for t in g["nodes"]:
            values[id(t)] = t.layer(*[values[id(i)] for i in t.inputs])
        outs = [values[id(t)] for t in g["outputs"]]
        return tuple(outs) if g["multi_output"] else outs[0]

    # ------------------------------------------------------------------ building
    @property
    def built(self) -> bool:
        return self._input_spec is not None

    def build(self, input_shape, dtype: str | Sequence[str] = "float32") -> None:
        """Record the per-sample input shape(s) (no batch axis) and create lazily sized weights.

        `input_shape` is one shape tuple or a list of them for several inputs."""
        shapes = [tuple(input_shape)] if not input_shape or isinstance(input_shape[0], int) else [tuple(s) for s in input_shape]
        dtypes = [dtype] * len(shapes) if isinstance(dtype, str) else list(dtype)
        self._input_spec = [(s, str(np.dtype(d))) for s, d in zip(shapes, dtypes)]
        self._probe()

    def _probe(self, record: dict | None = None):
        """Run one zero sample through the model (eval mode, no grad); fills `record` with the output shape
        of each direct child when given."""
        xs = [to_tensor(np.zeros((1, *s), dtype=d), device_of_module(self)) for s, d in self._input_spec]
        patched = []
        if record is not None:
            for name, child in self.named_children():
                orig = child.forward

                def wrapped(*a, _orig=orig, _name=name, **k):
                    out = _orig(*a, **k)
                    record[_name] = _shape_of(out)
                    return out

                child.forward = wrapped
                patched.append(child)
        try:
            with no_grad(), eval_mode(self):
                return self(*xs)
        finally:
            for child in patched:
                del child.forward

    def _ensure_built(self, xs: list[np.ndarray]) -> None:
        if self._input_spec is None:
            self.build([a.shape[1:] for a in xs], [str(a.dtype) for a in xs])

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="adam", loss=None, metrics: Sequence | None = None) -> None:
        """optimizer: 'adam' | 'adamw' | 'sgd' | 'rmsprop' | fastnn.keras.optimizers.Adam(...) | a fastnn.optim
        instance; loss: a Keras name ('binary_crossentropy', 'categorical_crossentropy',
        'sparse_categorical_crossentropy', 'mse'), a fastnn.keras.losses.Loss or fn(y_true, y_pred);
        metrics: names ('accuracy', 'mae', ...), Metric instances or functions."""
        self._optimizer_spec = _optimizers.get(optimizer)
        self.optimizer = None if isinstance(self._optimizer_spec, _optimizers.OptimizerSpec) else self._optimizer_spec
        self.loss_fn = None if loss is None else _losses.get(loss)
        self.compiled_metrics = [_metrics.get(m, self.loss_fn) for m in (metrics or [])]
        names = [m.name for m in self.compiled_metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"compile: metric names must be unique, got {names}")
        self._compile_config = {
            "optimizer": self._optimizer_spec.get_config() if self.optimizer is None else None,
            "loss": None if self.loss_fn is None else _losses.to_config(self.loss_fn),
            "metrics": [m for m in (metrics or []) if isinstance(m, str)],
        }

    def _require_compiled(self, fn: str) -> None:
        if self._optimizer_spec is None:
            raise RuntimeError(f"{fn}: call compile(optimizer=..., loss=...) first")

    def _make_optimizers(self) -> None:
        """Build the optimizer from its spec once the parameters exist (subclasses with several build theirs)."""
        if self.optimizer is None:
            self.optimizer = self._optimizer_spec.build(self.parameters())

    # ------------------------------------------------------------------ steps
    def compute_loss(self, y, y_pred):
        if self.loss_fn is None:
            raise RuntimeError(f"{self.name}: compile() was given no loss, and train_step is not overridden")
        return self.loss_fn(y, y_pred)

    def _forward_arrays(self, x: list[np.ndarray]):
        dev = device_of_module(self)
        return self(*[to_tensor(a, dev) for a in x])

    def train_step(self, x: list[np.ndarray], y: np.ndarray | None) -> dict:
        """One optimisation step on a batch; returns the batch's scalar logs ({"loss": ...})."""
        y_pred = self._forward_arrays(x)
        loss = self.compute_loss(y, y_pred)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self._update_metrics(y, y_pred)
        return {"loss": float(loss.item())}

    def test_step(self, x: list[np.ndarray], y: np.ndarray | None) -> dict:
        y_pred = self._forward_arrays(x)
        logs = {}
        if self.loss_fn is not None:
            logs["loss"] = float(self.compute_loss(y, y_pred).item())
        self._update_metrics(y, y_pred)
        return logs

    def predict_step(self, x: list[np.ndarray]):
        return self._forward_arrays(x)

    def _update_metrics(self, y, y_pred) -> None:
        if self.compiled_metrics and y is not None:
            pred = to_array(y_pred)
            for m in self.compiled_metrics:
                m.update_state(y, pred)

    # ------------------------------------------------------------------ loops
    def _check_data(self, fn: str, xs: list[np.ndarray], y) -> int:
        n = len(xs[0])
        if n == 0:
            raise ValueError(f"{fn}: x is empty")
        if any(len(a) != n for a in xs):
            raise ValueError(f"{fn}: every input needs the same number of samples, got {[len(a) for a in xs]}")
        if y is not None and len(y) != n:
            raise ValueError(f"{fn}: x has {n} samples but y has {len(y)}")
        if self._input_spec is not None and len(xs) != len(self._input_spec):
            raise ValueError(f"{fn}: the model takes {len(self._input_spec)} input(s), got {len(xs)}")
        return n

    def _run_epoch(self, step_fn, xs, y, batch_size, order, bar) -> dict:
        trackers: dict[str, _metrics.Mean] = {}
        for m in self.compiled_metrics:
            m.reset_state()
        logs: dict = {}
        for idx in _batches(len(order), batch_size, order):
            batch_logs = step_fn([a[idx] for a in xs], None if y is None else y[idx])
            for k, v in batch_logs.items():
                trackers.setdefault(k, _metrics.Mean(k)).update_state(np.asarray(v), weight=len(idx))
            logs = {k: t.result() for k, t in trackers.items()}
            logs.update({m.name: m.result() for m in self.compiled_metrics})
            bar.update(1, logs)
        return logs

    def fit(self, x=None, y=None, batch_size: int = 32, epochs: int = 1, verbose: int = 1, callbacks=None,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True, initial_epoch: int = 0,
            seed: int | None = None, steps_per_epoch: int | None = None):
        """Train for `epochs` passes over (x, y); x is an array or a list of arrays (several inputs).

        validation_data=(x_val, y_val), or validation_split=f to hold out the last fraction f of the
        samples (before shuffling). steps_per_epoch=k makes an "epoch" k full batches drawn from a
        running (reshuffled) pass over the data, for large data sets or step-based training. Returns a
        History; verbose: 0 silent, 1 progress bar, 2 a line per epoch. On glibc the process keeps freed
        memory in its heap from then on (fastnn._heap: no page faults re-allocating each step's arrays).
        """
        self._require_compiled("fit")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"fit: batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
        if steps_per_epoch is not None and (not isinstance(steps_per_epoch, int) or steps_per_epoch < 1):
            raise ValueError(f"fit: steps_per_epoch must be a positive int or None, got {steps_per_epoch!r}")
        xs = _as_inputs(x)
        y = None if y is None else to_array(y)
        n = self._check_data("fit", xs, y)
        if validation_data is not None and validation_split:
            raise ValueError("fit: give validation_data or validation_split, not both")
        if validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"fit: validation_split must be in (0, 1), got {validation_split}")
            cut = n - max(1, int(round(n * validation_split)))
            if cut < 1:
                raise ValueError(f"fit: validation_split={validation_split} leaves no training samples of {n}")
            validation_data = ([a[cut:] for a in xs], None if y is None else y[cut:])
            xs, y, n = [a[:cut] for a in xs], None if y is None else y[:cut], cut
        if validation_data is not None:
            if not isinstance(validation_data, (list, tuple)) or len(validation_data) != 2:
                raise ValueError("fit: validation_data must be a pair (x_val, y_val)")
        self._ensure_built(xs)
        self._make_optimizers()
        _heap.retain_freed_memory()
        rng = np.random.default_rng(seed)
        steps = steps_per_epoch or math.ceil(n / batch_size)
        pending = np.empty(0, dtype=np.int64)  # steps_per_epoch: the rest of the running pass
        history = _callbacks.History()
        cbs = _callbacks.CallbackList([*(callbacks or []), history], model=self,  # history last: it sees all logs
                                      params={"epochs": epochs, "steps": steps, "verbose": verbose})
        self.stop_training = False
        self.history = history
        cbs.on_train_begin()
        logs: dict = {}
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            self.train(True)
            if steps_per_epoch is None:
                order = rng.permutation(n) if shuffle else np.arange(n)
            else:
                while len(pending) < steps * batch_size:
                    pending = np.concatenate([pending, rng.permutation(n) if shuffle else np.arange(n)])
                order, pending = pending[:steps * batch_size], pending[steps * batch_size:]
            bar = ProgressBar(steps, verbose, desc=f"Epoch {epoch + 1}/{epochs}")
            logs = self._run_epoch(self.train_step, xs, y, batch_size, order, bar)
            if validation_data is not None:
                val = self.evaluate(validation_data[0], validation_data[1], batch_size=batch_size, verbose=0,
                                    return_dict=True)
                logs.update({f"val_{k}": v for k, v in val.items()})
            bar.close(logs)
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        self.train(False)
        return history

    def evaluate(self, x, y=None, batch_size: int = 32, verbose: int = 1, return_dict: bool = False):
        """Loss and metrics over (x, y) in eval mode: [loss, *metrics], or a dict with return_dict=True."""
        xs = _as_inputs(x)
        y = None if y is None else to_array(y)
        n = self._check_data("evaluate", xs, y)
        self._ensure_built(xs)
        bar = ProgressBar(math.ceil(n / batch_size), verbose, desc="evaluate")
        with no_grad(), eval_mode(self):
            logs = self._run_epoch(self.test_step, xs, y, batch_size, np.arange(n), bar)
        bar.close(logs)
        return logs if return_dict else list(logs.values())

    def predict(self, x, batch_size: int = 32, verbose: int = 0):
        """Outputs for x in batches, in eval mode, as NumPy arrays (a tuple of them for several outputs)."""
        xs = _as_inputs(x)
        n = self._check_data("predict", xs, None)
        self._ensure_built(xs)
        bar = ProgressBar(math.ceil(n / batch_size), verbose, desc="predict")
        chunks = []
        with no_grad(), eval_mode(self):
            for idx in _batches(n, batch_size, np.arange(n)):
                out = self.predict_step([a[idx] for a in xs])
                chunks.append(tuple(to_array(o) for o in out) if isinstance(out, tuple) else to_array(out))
                bar.update(1)
        bar.close()
        if isinstance(chunks[0], tuple):
            return tuple(np.concatenate(parts) for parts in zip(*chunks))
        return np.concatenate(chunks)

    # ------------------------------------------------------------------ summary
    def _summary_rows(self) -> list[tuple[str, str, int]]:
        shapes: dict = {}
        if self.built:
            self._probe(shapes)
        rows = []
        links = self._graph_links()
        for name, child in self.named_children():
            kind = type(child).__name__
            row = (f"{name} ({kind})", shapes.get(name, "?"), _count(child))
            rows.append(row + (links.get(id(child), ""),) if links else row)
        return rows

    def _graph_links(self) -> dict:
        """Functional graphs with a merge or a branch: layer id -> the names of the layers (or inputs) feeding it."""
        if self._graph is None:
            return {}
        feeds: dict = {}
        for t in self._graph["nodes"]:
            src = ", ".join(i.layer.name if i.layer is not None else i.name for i in t.inputs)
            feeds[id(t.layer)] = src if id(t.layer) not in feeds else f"{feeds[id(t.layer)]}; {src}"
        simple = all(len(t.inputs) == 1 for t in self._graph["nodes"]) and len(self._graph["inputs"]) == 1
        return {} if simple else feeds

    def summary(self, print_fn=print) -> str:
        """Print (and return) a table of the layers, their output shapes and parameter counts."""
        rows = self._summary_rows()
        own = _count(self) - sum(r[2] for r in rows)
        if own:
            rows.append(("(own parameters)", "", own) + (("",) if any(len(r) > 3 for r in rows) else ()))
        head = ("Layer (type)", "Output Shape", "Param #") + (("Connected to",) if any(len(r) > 3 for r in rows) else ())
        cells = [(r[0], _fmt_shape(r[1]), f"{r[2]:,}", *r[3:]) for r in rows]
        w = [max([len(h)] + [len(r[i]) for r in cells]) + 2 for i, h in enumerate(head)]
        line = "=" * sum(w)
        out = [f'Model: "{self.name}"', line, "".join(h.ljust(w[i]) for i, h in enumerate(head)), line]
        out += ["".join(c.ljust(w[i]) for i, c in enumerate(r)) for r in cells]
        trainable = sum(int(np.prod(tuple(p.shape))) for p in self.parameters() if getattr(p, "requires_grad", True))
        total = _count(self)
        out += [line, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                f"Non-trainable params: {total - trainable:,}", "_" * sum(w)]
        text = "\n".join(out)
        if print_fn is not None:
            print_fn(text)
        return text

    # ------------------------------------------------------------------ weights
    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter and buffer (state_dict order)."""
        return [to_array(v).copy() for v in self.state_dict().values()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        keys = list(self.state_dict().keys())
        if len(weights) != len(keys):
            raise ValueError(f"set_weights: the model has {len(keys)} tensors, got {len(weights)}")
        self._load_arrays(dict(zip(keys, weights)), "set_weights")

    def _load_arrays(self, arrays: dict, fn: str) -> None:
        """Load by name; when the names differ (auto-named layers of another instance) but the tensors'
        shapes agree in order, load by position, as Keras does."""
        current = self.state_dict()
        if set(arrays) != set(current):
            shapes_here = [tuple(v.shape) for v in current.values()]
            shapes_there = [tuple(np.shape(v)) for v in arrays.values()]
            if shapes_here != shapes_there:
                missing = [k for k in current if k not in arrays]
                unexpected = [k for k in arrays if k not in current]
                raise ValueError(f"{fn}: weights do not match the model: missing {missing}, unexpected {unexpected}")
            arrays = dict(zip(current, arrays.values()))
        bad = [(k, tuple(current[k].shape), tuple(np.shape(arrays[k]))) for k in current
               if tuple(current[k].shape) != tuple(np.shape(arrays[k]))]
        if bad:
            raise ValueError(f"{fn}: shape mismatch (name, model, given): {bad}")
        self.load_state_dict({k: np.asarray(arrays[k]) for k in current})

    def _weights_bytes(self) -> bytes:
        state = self.state_dict()
        return safetensors_io.save({k: to_array(v) for k, v in state.items()},
                                   metadata={"format": FORMAT, "model": self.name, "order": json.dumps(list(state))})

    def save_weights(self, path: str | os.PathLike) -> None:
        """Write every parameter and buffer to a safetensors file (a temp file, then a rename)."""
        if not self.built and not list(self.parameters()):
            raise RuntimeError("save_weights: the model is not built yet (call it on data, fit, or build())")
        safetensors_io.write_atomic(path, self._weights_bytes())

    def load_weights(self, path: str | os.PathLike) -> None:
        if not self.built and self._has_lazy_layers():
            raise RuntimeError("load_weights: build the model first (build(input_shape), or give it an Input)")
        arrays, meta = safetensors_io.load_file_and_metadata(path)
        order = meta.get("order")  # the model's order (the file's is by size)
        if order and sorted(json.loads(order)) == sorted(arrays):
            arrays = {k: arrays[k] for k in json.loads(order)}
        self._load_arrays(arrays, "load_weights")

    def _has_lazy_layers(self) -> bool:
        return any(isinstance(m, Layer) and not m.built for m in self.modules())

    # ------------------------------------------------------------------ architecture
    def get_config(self) -> dict:
        if self._graph is not None:
            return _graph_config(self)
        cfg = self.__dict__.get("_init_config")
        if cfg is None:
            raise NotImplementedError(f"{type(self).__name__}: cannot record its constructor arguments for saving")
        return cfg

    def to_json(self) -> str:
        cls = type(self)
        name = cls.__name__ if cls in (Model, Sequential) else f"{cls.__module__}:{cls.__qualname__}"
        doc = {"class_name": name, "config": self.get_config()}
        try:
            return json.dumps(doc, indent=1)
        except TypeError as exc:
            raise TypeError(f"save: {cls.__name__}'s configuration is not JSON ({exc}); use save_weights instead") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write a directory: config.json (architecture, input shapes, compile settings) and
        model.safetensors (weights). `fastnn.keras.load_model(path)` rebuilds the model."""
        if not self.built:
            raise RuntimeError("save: the model is not built yet (fit it, call build(input_shape), or give an Input)")
        from .. import __version__

        path = os.fspath(path)
        doc = {"format": FORMAT, "fastnn_version": __version__, "model": json.loads(self.to_json()),
               "input_spec": [[list(s), d] for s, d in self._input_spec],
               "compile": getattr(self, "_compile_config", None)}
        config, weights = json.dumps(doc, indent=1).encode("utf-8"), self._weights_bytes()
        os.makedirs(path, exist_ok=True)
        # Both files are written in full beside their targets first, then renamed in place: a failure
        # while writing (disk full, interrupt) leaves a previous save intact and no temp files.
        staged = []
        try:
            for name, data in ((WEIGHTS_FILE, weights), (CONFIG_FILE, config)):
                staged.append((safetensors_io.write_staged(os.path.join(path, name), data), name))
            for tmp, name in staged:
                os.replace(tmp, os.path.join(path, name))
        finally:
            for tmp, _ in staged:
                if os.path.exists(tmp):
                    os.remove(tmp)

    @classmethod
    def load(cls, path: str | os.PathLike, compile: bool = True) -> "Model":
        return load_model(path, compile=compile)


def _recording_init(init):
    """Wrap a Model subclass __init__ so the outermost call records its arguments (for saving)."""
    sig = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        if "_init_config" not in self.__dict__:
            bound = sig.bind(self, *args, **kwargs)
            bound.apply_defaults()
            cfg = {}
            for k, v in list(bound.arguments.items())[1:]:
                kind = sig.parameters[k].kind
                if kind is inspect.Parameter.VAR_KEYWORD:
                    cfg.update(v)
                elif kind is not inspect.Parameter.VAR_POSITIONAL:
                    cfg[k] = v
            object.__setattr__(self, "_init_config", cfg)
        init(self, *args, **kwargs)

    return __init__


def _shape_of(out):
    if isinstance(out, (tuple, list)):
        return tuple(_shape_of(o) for o in out)
    shape = getattr(out, "shape", None)
    return None if shape is None else (None, *tuple(shape)[1:])


def _fmt_shape(s) -> str:
    if isinstance(s, str):
        return s
    if s and isinstance(s[0], tuple):
        return ", ".join(_fmt_shape(x) for x in s)
    return "(" + ", ".join("None" if d is None else str(d) for d in s) + ")"


# ----------------------------------------------------------------------------- Sequential
class Sequential(Model):
    """A stack of layers, each fed the previous one's output. Items: fastnn.keras layers (sizes inferred),
    any fastnn.nn module, and optionally an `Input(shape)` first (builds the weights at once)."""

    def __init__(self, layers: Sequence | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self._stack: list = []
        self._shapes: list = []
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        if isinstance(layer, KerasTensor):
            if self._stack or self._input_spec is not None:
                raise ValueError("Sequential.add: an Input must come first")
            self._input_spec = [(layer.shape, layer.dtype)]
            return
        if not isinstance(layer, nn.Module):
            raise TypeError(f"Sequential.add: expected a fastnn.keras layer or fastnn.nn module, got {type(layer).__name__}")
        name = layer.name if isinstance(layer, Layer) else _auto_name(_snake(type(layer).__name__))
        if hasattr(self, name):
            raise ValueError(f"Sequential.add: layer name {name!r} is taken (by another layer or a Model attribute)")
        if isinstance(layer, Layer) and layer.input_shape is not None and not self._stack and self._input_spec is None:
            self._input_spec = [(layer.input_shape, "float32")]
        setattr(self, name, layer)
        self._stack.append(layer)
        if self._input_spec is not None:
            self._build_stack()

    @property
    def layers(self) -> list:
        return list(self._stack)

    def _build_stack(self) -> None:
        shape, dtype = self._input_spec[0]
        shapes = []
        x = to_tensor(np.zeros((1, *shape), dtype=dtype), device_of_module(self))
        with no_grad(), eval_mode(self):
            for layer in self._stack:
                x = layer(x)
                shapes.append(_shape_of(x))
        self._shapes = shapes

    def build(self, input_shape, dtype="float32") -> None:
        self._input_spec = [(tuple(input_shape), str(np.dtype(dtype)))]
        self._build_stack()

    def _ensure_built(self, xs) -> None:
        if self._input_spec is None:
            if len(xs) != 1:
                raise ValueError(f"Sequential takes one input, got {len(xs)}")
            self.build(xs[0].shape[1:], str(xs[0].dtype))

    def forward(self, x):
        for layer in self._stack:
            x = layer(x)
        return x

    def _summary_rows(self):
        if self.built:
            self._build_stack()
        names = {id(m): n for n, m in self.named_children()}
        return [(f"{names[id(l)]} ({type(l).__name__})", self._shapes[i] if i < len(self._shapes) else "?", _count(l))
                for i, l in enumerate(self._stack)]

    def get_config(self) -> dict:
        return {"name": self.name, "layers": [_layer_config(l) for l in self._stack],
                "input": None if self._input_spec is None else [list(self._input_spec[0][0]), self._input_spec[0][1]]}


# ----------------------------------------------------------------------------- (de)serialization
def _module_ctor_config(m) -> dict:
    """Constructor arguments of a PyTorch-convention module read back from its attributes
    (nn.Linear(in_features, out_features, bias) -> {"in_features": .., "out_features": .., "bias": true})."""
    cfg = {}
    for pname, p in inspect.signature(type(m).__init__).parameters.items():
        if pname == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if not hasattr(m, pname):
            if p.default is p.empty:
                raise TypeError(f"save: cannot read constructor argument {pname!r} of {type(m).__name__}; "
                                f"use a fastnn.keras layer, or save_weights")
            continue
        v = getattr(m, pname)
        if pname == "bias" or isinstance(v, nn.Module) or hasattr(v, "shape"):
            v = v is not None if not isinstance(v, bool) else v  # a bias tensor -> whether there is one
        if isinstance(v, tuple):
            v = list(v)
        if hasattr(v, "item") and not isinstance(v, (list, dict)):
            v = v.item()
        try:
            json.dumps(v)
        except TypeError:
            if p.default is p.empty:
                raise TypeError(f"save: {type(m).__name__}.{pname} = {v!r} is not JSON; use save_weights") from None
            continue
        cfg[pname] = v
    return cfg


def _layer_config(l) -> dict:
    if isinstance(l, Layer):
        return {"class_name": l.__class__.__name__, "config": l.get_config()}
    if isinstance(l, Model):
        return json.loads(l.to_json())
    cls = type(l)
    if getattr(nn, cls.__name__, None) is cls:
        return {"class_name": f"nn.{cls.__name__}", "config": _module_ctor_config(l)}
    raise TypeError(f"save: cannot describe {cls.__module__}.{cls.__name__} as JSON (only fastnn.keras layers, "
                    f"fastnn.nn modules and Model subclasses); use save_weights")


def _layer_from_config(doc: dict):
    name, cfg = doc["class_name"], doc.get("config", {})
    if name.startswith("nn."):
        return getattr(nn, name[3:])(**cfg)
    if name in LAYERS:
        return LAYERS[name](**cfg)
    return model_from_config(doc)


def _graph_config(model: Model) -> dict:
    g = model._graph
    tname = {}
    for t in g["inputs"]:
        tname[id(t)] = t.name
    nodes = []
    for k, t in enumerate(g["nodes"]):
        tname[id(t)] = f"{t.layer.name}:{k}"
        nodes.append({"layer": t.layer.name, "inputs": [tname[id(i)] for i in t.inputs], "output": tname[id(t)]})
    return {"name": model.name,
            "inputs": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in g["inputs"]],
            "layers": [_layer_config(l) for l in model.layers], "nodes": nodes,
            "outputs": [tname[id(t)] for t in g["outputs"]], "multi_output": g["multi_output"]}


def model_from_config(doc: dict) -> Model:
    """A model from `json.loads(model.to_json())` (new, untrained weights)."""
    from .layers import Input

    name, cfg = doc["class_name"], doc["config"]
    if name == "Sequential":
        inp = cfg.get("input")
        layers = [_layer_from_config(d) for d in cfg["layers"]]
        return Sequential(([Input(tuple(inp[0]), inp[1])] if inp else []) + layers, name=cfg.get("name"))
    if name == "Model":
        tensors = {i["name"]: Input(tuple(i["shape"]), i["dtype"], name=i["name"]) for i in cfg["inputs"]}
        layers = {}
        for d in cfg["layers"]:
            layer = _layer_from_config(d)
            layers[getattr(layer, "name", d["config"].get("name"))] = layer
        for node in cfg["nodes"]:
            args = [tensors[i] for i in node["inputs"]]
            layer = layers[node["layer"]]
            tensors[node["output"]] = layer(args) if isinstance(layer, _Merge) else layer(*args)
        outs = [tensors[o] for o in cfg["outputs"]]
        return Model(inputs=[tensors[i["name"]] for i in cfg["inputs"]],
                     outputs=outs if cfg["multi_output"] else outs[0], name=cfg.get("name"))
    cls = Model._registry.get(name)
    if cls is None:
        module, _, _ = name.partition(":")
        try:
            importlib.import_module(module)
        except ImportError:
            pass
        cls = Model._registry.get(name)
    if cls is None:
        raise ValueError(f"load_model: unknown model class {name!r} (import the module that defines it first)")
    return cls(**cfg)


def load_model(path: str | os.PathLike, compile: bool = True) -> Model:
    """Rebuild a model written by `Model.save(path)`: architecture from config.json, weights from
    model.safetensors, and (with compile=True) its compile settings when they were names/specs."""
    path = os.fspath(path)
    cfg_path = os.path.join(path, CONFIG_FILE)
    if not os.path.isfile(cfg_path):
        raise FileNotFoundError(f"load_model: {cfg_path} not found (is {path!r} a directory written by Model.save?)")
    try:
        with open(cfg_path, encoding="utf-8") as f:
            doc = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load_model: {cfg_path} is not valid JSON (truncated or corrupt?): {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"load_model: {cfg_path} has format {got!r}, expected {FORMAT!r}")
    missing = [k for k in ("model", "input_spec") if k not in doc]
    if missing:
        raise ValueError(f"load_model: {cfg_path} lacks {missing} (truncated or not written by Model.save?)")
    try:
        model = model_from_config(doc["model"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"load_model: {cfg_path} describes the architecture badly ({type(exc).__name__}: {exc})") from None
    spec = doc["input_spec"]
    if isinstance(model, Sequential):
        model.build(tuple(spec[0][0]), spec[0][1])
    elif not model.built or model._graph is None:
        model.build([tuple(s) for s, _ in spec], [d for _, d in spec])
    weights = os.path.join(path, WEIGHTS_FILE)
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"load_model: {weights} not found ({path!r} has a config.json but no weights)")
    model.load_weights(weights)
    comp = doc.get("compile")
    if compile and comp and comp.get("optimizer"):
        opt = comp["optimizer"]
        model.compile(optimizer=_optimizers.OptimizerSpec(opt.pop("name"), opt.pop("learning_rate"), **opt),
                      loss=None if comp.get("loss") is None else _losses.from_config(comp["loss"]),
                      metrics=comp.get("metrics") or None)
    return model
