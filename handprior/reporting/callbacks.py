"""Lightning callback that draws the test figures into the run's log folder (and W&B, when it is on)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import WandbLogger

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

    It reads ``test_per_joint`` and ``test_examples`` from the LightningModule (see ``HandRefiner``).
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

    def output_folder(self, trainer: L.Trainer) -> Path:
        """Where the figures go."""
        if self.out_dir is not None:
            return Path(self.out_dir)
        return Path(trainer.log_dir or trainer.default_root_dir) / "plots"

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        examples = list(getattr(pl_module, "test_examples", []))[: self.num_sequences]
        per_joint = getattr(pl_module, "test_per_joint", {})
        self.paths = write_test_plots(per_joint, examples, self.output_folder(trainer), self.gif, self.max_frames)
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
