"""Crash safety end to end: a fit killed with SIGKILL resumes with `--ckpt_path last` and ends with the same result."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from handprior.cli import main

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 3
TINY = [  # SmoothNet with dropout: fast, and it draws random numbers in every training step
    "--config", str(ROOT / "configs" / "synthetic.yaml"),
    f"--trainer.max_epochs={EPOCHS}", "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1",
    "--data.init_args.train_sequences=6", "--data.init_args.val_sequences=1", "--data.init_args.test_sequences=1",
    "--data.init_args.min_frames=40", "--data.init_args.max_frames=50", "--data.init_args.batch_size=4",
    "--model.net=handprior.models.nets.SmoothNet", "--model.net.init_args.hidden=32",
    "--model.net.init_args.res_hidden=16", "--model.net.init_args.num_blocks=1", "--model.net.init_args.residual=true",
]  # fmt: skip


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def _by_epoch(rows: list[dict[str, str]], key: str) -> dict[int, float]:
    return {int(r["epoch"]): float(r[key]) for r in rows if r.get(key)}


def _kill_after_first_checkpoint(process: subprocess.Popen, checkpoint: Path, stop: threading.Event) -> None:
    while process.poll() is None and not checkpoint.is_file() and not stop.wait(0.02):
        pass
    process.send_signal(signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty")  # resuming into its own run
def test_killed_fit_resumes_to_the_same_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = [*TINY, f"--data.init_args.root={tmp_path / 'synthetic'}"]
    killed, plain = tmp_path / "killed", tmp_path / "plain"
    killed.mkdir()
    plain.mkdir()
    run = Path("logs") / "synthetic" / "version_0"

    # The run that will be killed, in a process of its own, while the uninterrupted run trains here.
    env = {**os.environ, "WANDB_MODE": "disabled"}
    process = subprocess.Popen(
        [sys.executable, "-m", "handprior", "fit", *args],
        cwd=killed, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    stop = threading.Event()
    last = killed / run / "checkpoints" / "last.ckpt"
    killer = threading.Thread(target=_kill_after_first_checkpoint, args=(process, last, stop))
    killer.start()
    try:
        monkeypatch.chdir(plain)
        main(["fit", *args])
    finally:
        killer.join(timeout=240)
        stop.set()
        killer.join()
    stderr = process.communicate()[1].decode(errors="replace")
    assert process.returncode == -signal.SIGKILL, stderr[-2000:]
    epoch = torch.load(killed / run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
    assert epoch < EPOCHS - 1, "the run finished before it was killed"

    monkeypatch.chdir(killed)
    main(["fit", *args, "--ckpt_path", "last"])
    assert not (killed / "logs" / "synthetic" / "version_1").exists()  # resumed in the killed run's folder
    assert (killed / run / "metrics.part1.csv").is_file()

    uninterrupted, resumed = _rows(plain / run), _rows(killed / run)
    assert _by_epoch(resumed, "test/mpjpe") and _by_epoch(uninterrupted, "test/mpjpe")
    test_plain = next(iter(_by_epoch(uninterrupted, "test/mpjpe").values()))
    test_resumed = next(iter(_by_epoch(resumed, "test/mpjpe").values()))
    assert test_resumed == pytest.approx(test_plain, abs=1e-5)
    val_plain, val_resumed = _by_epoch(uninterrupted, "val/mpjpe"), _by_epoch(resumed, "val/mpjpe")
    assert EPOCHS - 1 in val_resumed
    for epoch, value in val_resumed.items():  # every epoch trained after the resume matches
        assert value == pytest.approx(val_plain[epoch], abs=1e-5), epoch

    # The checkpoint alone rebuilds the model: refine a sequence with it and no config.
    last = killed / run / "checkpoints" / "last.ckpt"
    net = torch.load(last, weights_only=True)["hyper_parameters"]["net"]
    assert net["class_path"].startswith("handprior.models.nets.") and net["init_args"]["hidden"] == 32
    pred = np.load(tmp_path / "synthetic" / "test" / "pred.npy")
    np.savez(tmp_path / "seq.npz", pred=pred)
    main(["refine", "--ckpt", str(last), "--input", str(tmp_path / "seq.npz"), "--output", str(tmp_path / "out.npz")])
    with np.load(tmp_path / "out.npz") as refined:
        assert refined["refined"].shape == pred.shape and not np.allclose(refined["refined"], pred)
