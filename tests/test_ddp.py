"""Two CPU processes under Lightning's DDP (gloo): fit, then test, against a single-process test of the checkpoint.

Lightning starts the second process by re-running the command, so the CLI runs in subprocesses here. What it
checks: the distributed sampler over training windows, whole-sequence evaluation split across processes (an odd
number of sequences, each scored exactly once), the metric states summed across processes, the checkpoint written
by rank 0 and tested from, one result row per metric (rank 0 only), and resuming on 2 processes from the
newest last.ckpt in the same run folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from handprior.reporting.rows import read_rows

ROOT = Path(__file__).resolve().parents[1]
WRITER = "handprior.reporting.results.ResultRowsWriter"
# Tiny data: 3 validation and 3 test sequences, which 2 processes cannot split evenly; 17 training windows, 9 per
# process, fewer than a batch of 12 (a rule on the whole dataset would drop that batch and train nothing).
TINY = [
    "--config", str(ROOT / "configs" / "synthetic.yaml"),
    "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
    "--data.init_args.train_sequences=4", "--data.init_args.val_sequences=3", "--data.init_args.test_sequences=3",
    "--data.init_args.min_frames=40", "--data.init_args.max_frames=60", "--data.init_args.batch_size=12",
    "--model.net.init_args.dim=16", "--model.net.init_args.depth=1", "--model.net.init_args.num_heads=2",
    "--model.net.init_args.dim_rep=16", "--model.net.init_args.memory.tokens=2",
    "--trainer.accelerator=cpu",
]  # fmt: skip
DDP = ["--trainer.devices=2", "--trainer.strategy=ddp"]
METRICS = {"mpjpe", "mpvpe", "mpvpe_joints", "accel", "bone_cv"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(args: list[str], cwd: Path) -> None:
    """``python -m handprior ARGS`` in a clean environment: one thread per process, no cluster variables."""
    scheduler = ("SLURM_", "LSB_", "PMI_", "OMPI_", "TORCHELASTIC_")
    launcher = {"RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(scheduler) and k not in launcher}
    env.update(
        WANDB_MODE="disabled", OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()),
        PYTHONPATH=str(ROOT),
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "handprior", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"handprior {args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"


@pytest.mark.slow
def test_fit_and_test_on_two_processes_equal_one_process(tmp_path: Path) -> None:
    data = f"--data.init_args.root={tmp_path / 'synthetic'}"
    ddp_rows, single_rows = tmp_path / "ddp.csv", tmp_path / "single.csv"
    run_cli(
        ["fit", *TINY, *DDP, data, f"--trainer.callbacks+={WRITER}", f"--trainer.callbacks.path={ddp_rows}"], tmp_path
    )

    run = tmp_path / "logs" / "synthetic" / "version_0"
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0"]  # one run folder, written by rank 0
    best = [p for p in (run / "checkpoints").glob("epoch*.ckpt")]
    assert len(best) == 1 and (run / "checkpoints" / "last.ckpt").is_file()
    # after fit, the best checkpoint was tested on 2 processes; now the same checkpoint on one
    run_cli(
        ["test", *TINY, data, f"--ckpt_path={best[0]}", f"--trainer.callbacks+={WRITER}",
         f"--trainer.callbacks.path={single_rows}"],
        tmp_path,
    )  # fmt: skip

    rows = read_rows(ddp_rows)
    keys = [(row.method, row.metric) for row in rows]
    assert len(keys) == len(set(keys)) == 8, keys  # one row per metric, written by rank 0 only
    assert {row.metric for row in rows} == METRICS
    ddp = {(row.method, row.metric): row.value for row in rows}
    single = {(row.method, row.metric): row.value for row in read_rows(single_rows)}
    assert ddp.keys() == single.keys()
    for key, value in single.items():
        assert ddp[key] == pytest.approx(value, rel=1e-6), (key, ddp[key], value)

    # resume on 2 processes: the newest last.ckpt, in the same run folder, one more epoch (which may replace the
    # best checkpoint, so its step count is read first)
    first = torch.load(best[0], weights_only=True)["global_step"]  # steps of epoch 0 (each process)
    run_cli(
        ["fit", *TINY, *DDP, data, "--ckpt_path=last", "--trainer.max_epochs=2", "--test_after_fit=false"], tmp_path
    )
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0", "version_1"]  # version_1: the test above
    assert (run / "metrics.part1.csv").is_file() and (run / "metrics.csv").is_file()
    assert first >= 1  # every process had training windows
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2 * first
    assert "1," in (run / "metrics.csv").read_text()  # epoch 1 was trained and validated after the resume
