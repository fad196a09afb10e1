"""`fastnn train <model>`: train a zoo model on offline data, with progress and final metrics.

Image and sequence classifiers use scikit-learn's digits when scikit-learn is installed (8x8 images;
as sequences, the 8 rows of 8 pixels), else synthetic data of the same kind (`make_shapes`,
`make_sequences`). The seq2seq model learns to reverse token sequences, the GPT the shipped sonnets,
the DCGAN the digits (or shapes).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import datasets

MODELS = ("mlp", "lenet", "resnet", "lstm", "gru", "transformer", "seq2seq", "gpt", "dcgan")


@dataclass
class Task:
    model: object
    data: str
    x: object
    y: object
    val: tuple | None
    epochs: int
    batch_size: int
    lr: float
    after: Callable | None = None  # prints a model-specific demonstration after training
    compile_kw: dict = field(default_factory=dict)


def _images(seed: int):
    if datasets.digits_available():
        (x, y), (xv, yv) = datasets.load_digits(seed=seed)
        return "digits (scikit-learn, 8x8, 10 classes)", x, y, xv, yv, 10
    x, y = datasets.make_shapes(1200, size=8, seed=seed)
    (x, y), (xv, yv) = datasets.train_test_split(x, y, seed=seed)
    return "shapes (synthetic 8x8, 3 classes; install scikit-learn for digits)", x, y, xv, yv, 3


def _sequences(seed: int):
    name, x, y, xv, yv, classes = _images(seed)
    return name + " as sequences of 8 rows", x[:, 0], y, xv[:, 0], yv, classes


def make_task(name: str, seed: int = 0, epochs: int | None = None) -> Task:
    """The model, data and settings `fastnn train <name>` uses (also used by the tests)."""
    from . import models

    if name in ("mlp", "lenet", "resnet"):
        data, x, y, xv, yv, k = _images(seed)
        if name == "mlp":
            model, ep, lr = models.MLP(64, k, (64,)), 10, 3e-3
            x, xv = x.reshape(len(x), -1), xv.reshape(len(xv), -1)
        elif name == "lenet":
            model, ep, lr = models.LeNet(1, k, image_size=8), 8, 3e-3
        else:
            model, ep, lr = models.ResNet(1, k, widths=(8, 16)), 5, 3e-3
        return Task(model, data, x, y, (xv, yv), epochs or ep, 32, lr)
    if name in ("lstm", "gru", "transformer"):
        data, x, y, xv, yv, k = _sequences(seed)
        if name == "transformer":
            model = models.TransformerClassifier(k, input_size=8, d_model=32, nhead=4, num_layers=1, max_len=8)
        else:
            model = (models.LSTMClassifier if name == "lstm" else models.GRUClassifier)(8, 32, k)
        return Task(model, data, x, y, (xv, yv), epochs or 10, 32, 3e-3)
    if name == "seq2seq":
        src, tgt_in, tgt_out = datasets.make_reverse_task(2048, length=6, vocab=10, seed=seed)
        (s, ti, to), (sv, tiv, tov) = datasets.train_test_split(src, tgt_in, tgt_out, seed=seed)
        model = models.Seq2SeqTransformer(10, 10, d_model=32, nhead=4, num_layers=1, dim_feedforward=64, max_len=8)

        def after(m):
            out = m.generate(sv[:200], length=sv.shape[1])
            print(f"greedy decoding of 200 held-out sequences: {(out == tov[:200]).all(1).mean():.1%} exactly reversed, "
                  f"{(out == tov[:200]).mean():.1%} of tokens right")
            print(f"  e.g. {sv[0].tolist()} -> {out[0].tolist()}")

        return Task(model, "reverse a sequence of 6 tokens (synthetic)", [s, ti], to, ([sv, tiv], tov),
                    epochs or 4, 32, 3e-3, after)
    if name == "gpt":
        text = datasets.load_text("sonnets")
        x, y, vocab = datasets.char_windows(text, seq_len=32, stride=8)
        (x, y), (xv, yv) = datasets.train_test_split(x, y, test_fraction=0.1, seed=seed)
        model = models.CharGPT(len(vocab), block_size=32, d_model=64, nhead=4, num_layers=2)

        def after(m):
            ids = m.generate(vocab.encode("Shall I "), 120, temperature=0.8, top_k=10, seed=seed)
            print("sample:\n" + vocab.decode(ids))

        return Task(model, f"Shakespeare's sonnets (shipped, {len(text)} characters, {len(vocab)} symbols)",
                    x, y, (xv, yv), epochs or 5, 32, 3e-3, after)
    if name == "dcgan":
        data, x, _, _, _, _ = _images(seed)
        model = models.DCGAN(latent_dim=16, channels=1, image_size=8, width=16, seed=seed)

        def after(m):
            fake = m.sample(len(x))
            print(f"generated images: mean {fake.mean():.3f} (data {x.mean():.3f}), mean |mean image - data mean image| "
                  f"{np.abs(fake.mean(0) - x.mean(0)).mean():.3f}")

        return Task(model, data, x, None, None, epochs or 10, 64, 2e-4, after)
    raise ValueError(f"fastnn train: unknown model {name!r}; choose from {', '.join(MODELS)}")


def run(name: str, epochs: int | None = None, device: str = "cpu", batch_size: int | None = None,
        lr: float | None = None, seed: int = 0, save: str | None = None, verbose: int = 1) -> dict:
    """Train `name` and return the final logs (loss, metrics, validation metrics)."""
    from . import cuda_available, cuda_unavailable_reason
    from .keras import losses, optimizers

    if device not in ("cpu", "cuda"):
        raise ValueError(f"fastnn train: device must be cpu or cuda, got {device!r}")
    if device == "cuda" and not cuda_available():
        raise RuntimeError(f"fastnn train: CUDA unavailable: {cuda_unavailable_reason()}")
    task = make_task(name, seed, epochs)
    model = task.model
    if device != "cpu":
        model.to(device)
    lr = lr or task.lr
    if name == "dcgan":
        model.compile(d_optimizer=optimizers.Adam(lr, betas=(0.5, 0.999)),
                      g_optimizer=optimizers.Adam(lr, betas=(0.5, 0.999)))
    else:
        model.compile(optimizers.Adam(lr), losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    n = len(task.x[0]) if isinstance(task.x, list) else len(task.x)
    print(f"data: {task.data}; {n} training samples" + (f", {len(task.val[1])} held out" if task.val else ""))
    start = time.perf_counter()
    history = model.fit(task.x, task.y, epochs=task.epochs, batch_size=batch_size or task.batch_size,
                        validation_data=task.val, verbose=verbose, seed=seed)
    seconds = time.perf_counter() - start
    model.summary()
    final = {k: v[-1] for k, v in history.history.items()}
    first = {k: v[0] for k, v in history.history.items()}
    print(f"trained {name} for {len(history.epoch)} epochs in {seconds:.1f} s on {device}")
    for k in final:
        print(f"  {k}: {first[k]:.4f} (epoch 1) -> {final[k]:.4f} (epoch {len(history.epoch)})")
    if task.after:
        task.after(model)
    if save:
        model.save(save)
        print(f"saved to {save}/ (config.json, model.safetensors)")
    return final


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a zoo model on offline data and print progress and final metrics")
    p.add_argument("model", choices=MODELS)
    p.add_argument("--epochs", type=int, default=None, help="default: a few, per model")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="learning rate (Adam)")
    p.add_argument("--seed", type=int, default=0, help="data split and shuffling seed")
    p.add_argument("--save", metavar="DIR", help="save the trained model (architecture JSON + safetensors)")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="0 quiet, 1 progress bars, 2 a line per epoch")
    p.set_defaults(fn=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from . import cuda_available, cuda_unavailable_reason

    if args.device == "cuda" and not cuda_available():
        print(f"fastnn train: CUDA unavailable: {cuda_unavailable_reason()}")
        return 1
    if args.epochs is not None and args.epochs < 1:
        print(f"fastnn train: --epochs must be >= 1, got {args.epochs}")
        return 2
    run(args.model, args.epochs, args.device, args.batch_size, args.lr, args.seed, args.save, args.verbose)
    return 0
