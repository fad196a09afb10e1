"""BertConfig: the subset of a Hugging Face BERT ``config.json`` that the encoder uses, validated.

Anything the encoder cannot reproduce exactly (relative position embeddings, decoder or
cross-attention layers, an activation without a fused kernel) is rejected with a ValueError that
names the field, the value found and what is supported, rather than silently computing something
else.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from typing import Any, Mapping

# HF hidden_act -> activation of fastnn.linear (fused into the FFN's first GEMM).
# "gelu" is the exact erf form; "gelu_new" and "gelu_pytorch_tanh" are the tanh approximation.
HIDDEN_ACTS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    hidden_act: str = "gelu"
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    initializer_range: float = 0.02
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        fn = "BertConfig"
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "max_position_embeddings", "type_vocab_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{fn}: {name} must be a positive int, got {v!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"{fn}: hidden_size ({self.hidden_size}) must be a multiple of num_attention_heads "
                             f"({self.num_attention_heads})")
        if self.hidden_act not in HIDDEN_ACTS:
            raise ValueError(f"{fn}: hidden_act {self.hidden_act!r} is not supported; supported: "
                             f"{', '.join(sorted(HIDDEN_ACTS))}")
        eps = self.layer_norm_eps
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
            raise ValueError(f"{fn}: layer_norm_eps must be a positive finite number, got {eps!r}")
        r = self.initializer_range
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r) or r < 0:
            raise ValueError(f"{fn}: initializer_range must be a non-negative finite number, got {r!r}")
        p = self.hidden_dropout_prob
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"{fn}: hidden_dropout_prob must be in [0, 1), got {p!r}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def activation(self) -> str:
        """The fastnn.linear activation name of hidden_act."""
        return HIDDEN_ACTS[self.hidden_act]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "config") -> "BertConfig":
        """From a Hugging Face config dict: checks the fields that change the computation, keeps
        the ones the encoder uses, ignores the rest (dropout of attention probabilities, ids, ...)."""
        if not isinstance(d, Mapping):
            raise ValueError(f"{where}: expected a JSON object, got {type(d).__name__}")
        model_type = d.get("model_type", "bert")
        if model_type != "bert":
            raise ValueError(f"{where}: model_type {model_type!r} is not supported (only 'bert')")
        pos = d.get("position_embedding_type", "absolute")
        if pos != "absolute":
            raise ValueError(f"{where}: position_embedding_type {pos!r} is not supported (only 'absolute')")
        for flag in ("is_decoder", "add_cross_attention"):
            if d.get(flag, False):
                raise ValueError(f"{where}: {flag}=true is not supported (encoder only)")
        if "hidden_act" in d and d["hidden_act"] not in HIDDEN_ACTS:
            raise ValueError(f"{where}: hidden_act {d['hidden_act']!r} is not supported; supported: "
                             f"{', '.join(sorted(HIDDEN_ACTS))}")
        fields = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        if fields.get("pad_token_id") is None:
            fields["pad_token_id"] = 0
        try:
            return cls(**fields)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> "BertConfig":
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{os.fspath(path)}: not valid JSON ({exc})") from None
        return cls.from_dict(d, os.fspath(path))
