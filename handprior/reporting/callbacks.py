"""Lightning callback that draws the test figures into the run's log folder (and W&B, when it is on)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from lightning.pytorch.loggers import WandbLogger
from torch import Tensor

from handprior.metrics.functional import aligned_errors, joint_weights
from handprior.reporting.plots import write_test_plots


def wandb_loggers(trainer: L.Trainer) -> list[WandbLogger]:
    """The trainer's W&B loggers whose run is not disabled (``WANDB_MODE=disabled`` gives a no-op run)."""
    return [
        logger
        for logger in trainer.loggers
        if isinstance(logger, WandbLogger) and not getattr(logger.experiment, "disabled", False)
    ]


class PlotCallback(L.Callback):
    """At the end of testing, writes per-joint errors, per-frame errors, a joint trajectory and an animated
    skeleton (input vs refined vs ground truth) for the first test sequences; logs them to W&B as images.

    It keeps its own state: each test step's refinement (the step's outputs) is scored per joint and the first
    ``num_sequences`` sequences are kept for the per-sequence figures.
    """

    def __init__(self, out_dir: str | None = None, num_sequences: int = 1, gif: bool = True, max_frames: int = 120):
        """
        Args:
            out_dir: folder for the figures; None = ``plots/`` in the run's log folder.
            num_sequences: how many test sequences get per-sequence figures.
            gif: also write an animated skeleton GIF per sequence (a few seconds each).
            max_frames: frames of the GIF at most (evenly subsampled).
        """
        self.out_dir, self.num_sequences, self.gif, self.max_frames = out_dir, num_sequences, gif, max_frames
        self.paths: dict[str, Path] = {}
        self.examples: list[dict[str, Any]] = []  # name, input, refined, gt (L,21,3) mm of the first sequences
        self.per_joint: dict[str, np.ndarray] = {}  # mean aligned error per joint (21,) of input and refined
        self._sums: dict[str, Tensor] = {}
        self._frames = 0

    def output_folder(self, trainer: L.Trainer) -> Path:
        """Where the figures go."""
        if self.out_dir is not None:
            return Path(self.out_dir)
        return Path(trainer.log_dir or trainer.default_root_dir) / "plots"

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.examples, self.per_joint, self._sums, self._frames, self._counts = [], {}, {}, 0, None

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not isinstance(outputs, Mapping) or outputs.get("joints") is None:
            return
        pred, gt, refined = batch["pred"], batch["gt"], outputs["joints"]  # (L,21,3) mm each
        valid = batch.get("valid")  # (L,21) bool: partly annotated hands; the per-joint means skip masked joints
        weights = joint_weights(valid) if valid is not None else gt.new_ones(gt.shape[:2])  # (L,21)
        for key, joints in (("input", pred), ("refined", refined)):
            errors = (aligned_errors(joints, gt) * weights).sum(dim=0)  # (J,)
            self._sums[key] = self._sums[key] + errors if key in self._sums else errors
        counts = weights.sum(dim=0)  # (J,)
        self._counts = counts if self._counts is None else self._counts + counts
        self._frames += pred.shape[0]
        if len(self.examples) < self.num_sequences:
            arrays = {
                key: value.detach().cpu().numpy() for key, value in (("input", pred), ("refined", refined), ("gt", gt))
            }
            self.examples.append({"name": batch["name"], **arrays})

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._frames:
            counts = self._counts.clamp_min(1)  # (J,) frames in which each joint counts
            self.per_joint = {key: (value / counts).cpu().numpy() for key, value in self._sums.items()}

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        folder = self.output_folder(trainer)  # on every process: under DDP trainer.log_dir is a broadcast
        if not trainer.is_global_zero:
            return
        self.paths = write_test_plots(self.per_joint, self.examples, folder, self.gif, self.max_frames)
        for logger in wandb_loggers(trainer):
            import wandb

            media = {
                f"test/plots/{key}": wandb.Video(str(path), format="gif")
                if path.suffix == ".gif"
                else wandb.Image(str(path))
                for key, path in self.paths.items()
            }
            if media:
                logger.experiment.log(media)
