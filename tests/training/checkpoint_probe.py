"""A test callback (``--trainer.callbacks+=checkpoint_probe.CheckpointProbe``, with this folder on the import path):
checks that ``last.ckpt`` holds the latest state whenever an epoch starts, and can SIGKILL its own process."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import lightning as L
import torch


class CheckpointProbe(L.Callback):
    """At every epoch start, ``last.ckpt`` holds this very state (epoch, global step, weights); optionally dies.

    Args:
        kill_epoch: SIGKILL this process when this epoch starts (after the check).
        kill_step: SIGKILL this process before the training batch that follows this many optimizer steps.
    """

    def __init__(self, kill_epoch: int | None = None, kill_step: int | None = None) -> None:
        self.kill_epoch, self.kill_step = kill_epoch, kill_step

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_step > 0:
            path = Path(trainer.checkpoint_callback.dirpath) / "last.ckpt"
            checkpoint = torch.load(path, weights_only=True)
            state = (checkpoint["epoch"], checkpoint["global_step"])
            if trainer.global_step == trainer.current_epoch * trainer.num_training_batches:  # a fresh epoch
                expected = (trainer.current_epoch - 1, trainer.global_step)
            else:  # resumed mid-epoch from a step checkpoint
                expected = (trainer.current_epoch, trainer.global_step)
            assert state == expected, f"{path}: (epoch, global_step) {state}, the latest is {expected}"
            weights = pl_module.state_dict()
            stale = [k for k, v in checkpoint["state_dict"].items() if not torch.equal(v, weights[k])]
            assert not stale, f"{path}: weights differ from the model's: {stale[:3]}"
        if trainer.current_epoch == self.kill_epoch:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        if trainer.global_step == self.kill_step:
            os.kill(os.getpid(), signal.SIGKILL)
