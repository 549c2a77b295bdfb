"""Training machinery around Lightning: atomic checkpoint files, resuming a run, per-epoch seeding, the optimiser."""

from handprior.training.checkpoint_io import AtomicCheckpointIO
from handprior.training.seeding import EpochSeed

__all__ = ["AtomicCheckpointIO", "EpochSeed"]
