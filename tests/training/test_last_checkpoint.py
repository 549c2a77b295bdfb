"""`last.ckpt` is the latest training state after every epoch and every N steps, also when the monitored metric
stops improving, so that `--ckpt_path last` after a crash loses nothing."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from handprior.cli import main

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
EPOCHS, STEPS_PER_EPOCH, STEP_INTERVAL = 4, 5, 3
RUN = Path("logs") / "synthetic" / "version_0"
PROBE = "--trainer.callbacks+=checkpoint_probe.CheckpointProbe"
TINY = [  # SmoothNet with dropout; lr 0.1 makes val/mpjpe stop improving after epoch 1 (checked below)
    f"--trainer.max_epochs={EPOCHS}", "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1",
    "--data.init_args.train_sequences=6", "--data.init_args.val_sequences=1", "--data.init_args.test_sequences=1",
    "--data.init_args.min_frames=40", "--data.init_args.max_frames=50", "--data.init_args.batch_size=4",
    "--model.net=handprior.models.nets.SmoothNet", "--model.net.init_args.hidden=32",
    "--model.net.init_args.res_hidden=16", "--model.net.init_args.num_blocks=1", "--model.net.init_args.residual=true",
    "--model.lr=0.1",
]  # fmt: skip


def _config(tmp_path: Path) -> list[str]:
    """configs/synthetic.yaml with its step checkpoints every STEP_INTERVAL steps instead of the shipped interval."""
    config = yaml.safe_load((ROOT / "configs" / "synthetic.yaml").read_text())
    for callback in config["trainer"]["callbacks"]:
        if "every_n_train_steps" in (callback.get("init_args") or {}):
            callback["init_args"]["every_n_train_steps"] = STEP_INTERVAL
    path = tmp_path / "synthetic.yaml"
    path.write_text(yaml.safe_dump(config))
    return ["--config", str(path), *TINY, f"--data.init_args.root={tmp_path / 'synthetic'}"]


def _killed_run(args: list[str], folder: Path, probe: str) -> Path:
    """Fit in a process of its own that SIGKILLs itself where ``probe`` says; returns its last.ckpt."""
    folder.mkdir()
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-m", "handprior", "fit", *args, PROBE, probe],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300,
    )  # fmt: skip
    assert result.returncode == -signal.SIGKILL, result.stderr.decode(errors="replace")[-3000:]
    return folder / RUN / "checkpoints" / "last.ckpt"


def _metrics(run: Path, key: str) -> dict[int, float]:
    rows = []
    for path in sorted(run.glob("metrics*.csv")):
        with path.open() as handle:
            rows += list(csv.DictReader(handle))
    return {int(r["epoch"]): float(r[key]) for r in rows if r.get(key)}


def _epoch_and_step(path: Path) -> tuple[int, int]:
    checkpoint = torch.load(path, weights_only=True)
    return checkpoint["epoch"], checkpoint["global_step"]


@pytest.fixture(autouse=True)
def _probe_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty")  # resuming into its own run
def test_last_is_the_latest_epoch_when_the_metric_stops_improving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = _config(tmp_path)
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    main(["fit", *args, PROBE])  # the probe checks last.ckpt at every epoch start
    val = _metrics(plain / RUN, "val/mpjpe")
    assert val[EPOCHS - 1] > min(val.values()), f"the last epoch improved val/mpjpe {val}; the premise is gone"
    plain_last = plain / RUN / "checkpoints" / "last.ckpt"
    assert _epoch_and_step(plain_last) == (EPOCHS - 1, EPOCHS * STEPS_PER_EPOCH)

    # Killed as the last epoch starts (after an epoch that did not improve), then resumed.
    killed = tmp_path / "killed"
    last = _killed_run(args, killed, f"--trainer.callbacks.init_args.kill_epoch={EPOCHS - 1}")
    assert _epoch_and_step(last) == (EPOCHS - 2, (EPOCHS - 1) * STEPS_PER_EPOCH)
    monkeypatch.chdir(killed)
    main(["fit", *args, PROBE, "--ckpt_path", "last"])

    assert not (killed / "logs" / "synthetic" / "version_1").exists()
    assert _epoch_and_step(last) == (EPOCHS - 1, EPOCHS * STEPS_PER_EPOCH)
    resumed, uninterrupted = torch.load(last, weights_only=True), torch.load(plain_last, weights_only=True)
    for name, weights in uninterrupted["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][name], weights, rtol=0, atol=1e-6, msg=name)
    for key in ("val/mpjpe", "test/mpjpe"):
        assert _metrics(killed / RUN, key) == pytest.approx(_metrics(plain / RUN, key), abs=1e-5), key
    best = [p.name for p in last.parent.glob("epoch*.ckpt")]
    assert best == [p.name for p in plain_last.parent.glob("epoch*.ckpt")] and len(best) == 1


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty")
@pytest.mark.filterwarnings("ignore:You're resuming from a checkpoint that ended before the epoch ended")
def test_a_run_killed_mid_epoch_resumes_from_the_step_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = _config(tmp_path)
    killed = tmp_path / "killed"
    step = 2 * STEP_INTERVAL  # in epoch 1, after its first batch
    last = _killed_run(args, killed, f"--trainer.callbacks.init_args.kill_step={step + 1}")
    assert _epoch_and_step(last) == (step // STEPS_PER_EPOCH, step)

    monkeypatch.chdir(killed)
    main(["fit", *args, PROBE, "--ckpt_path", "last"])
    assert _epoch_and_step(last) == (EPOCHS - 1, EPOCHS * STEPS_PER_EPOCH)  # the epoch's remaining steps, no more
    assert sorted(_metrics(killed / RUN, "val/mpjpe")) == list(range(EPOCHS))
    assert _metrics(killed / RUN, "test/mpjpe")
