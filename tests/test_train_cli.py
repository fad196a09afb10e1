"""`fastnn train <model>`: trains, prints progress and final metrics, saves; bad input fails clearly."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import cli, keras


def test_train_mlp_prints_progress_and_final_metrics(capsys, tmp_path):
    fastnn.manual_seed(0)
    assert cli.main(["train", "mlp", "--epochs", "3", "--save", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "data: " in out and "Epoch 1/3" in out and "Epoch 3/3" in out  # not a terminal: a line per epoch
    assert "Total params" in out and "trained mlp for 3 epochs" in out
    final = [l for l in out.splitlines() if l.strip().startswith("val_accuracy:")]
    first, last = (float(v) for v in final[0].replace("(epoch 1)", "").replace("(epoch 3)", "").split(":")[1].split("->"))
    assert last > first and last > 0.6  # chance 1/10 (digits) or 1/3 (shapes)
    again = keras.load_model(tmp_path / "m")
    assert type(again).__name__ == "MLP"


@pytest.mark.parametrize("name", ["mlp", "lenet", "resnet", "lstm", "gru", "transformer", "seq2seq", "gpt", "dcgan"])
def test_every_train_task_builds_and_runs_a_batch(name):
    from fastnn import train

    task = train.make_task(name, epochs=1)
    two = [a[:2] for a in task.x] if isinstance(task.x, list) else task.x[:2]
    if name == "dcgan":  # the GAN generates from latent vectors
        two = np.zeros((2, task.model.latent_dim), np.float32)
    out = task.model.predict(two)
    assert out.shape[0] == 2 and task.epochs == 1


def test_train_rejects_bad_input():
    r = subprocess.run([sys.executable, "-m", "fastnn", "train", "alexnet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "invalid choice: 'alexnet'" in r.stderr
    if not fastnn.cuda_available():
        assert cli.main(["train", "mlp", "--device", "cuda"]) == 1
    assert cli.main(["train", "mlp", "--epochs", "0"]) == 2
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        from fastnn import train

        train.make_task("vgg")
