"""Training machinery around Lightning: atomic checkpoint files, resuming a run, per-epoch seeding."""

from handprior.training.checkpoint_io import AtomicCheckpointIO
from handprior.training.seeding import EpochSeed

__all__ = ["AtomicCheckpointIO", "EpochSeed"]
