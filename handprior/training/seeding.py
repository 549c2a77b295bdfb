"""Same seed, same numbers, across a resume: the random state of each training epoch depends only on
(seed, epoch), not on how much randomness earlier epochs of this process consumed."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sized

import lightning as L
import numpy as np
import torch
from torch.utils.data import RandomSampler


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """A 32-bit seed for one epoch of one process, mixed from the run seed, the epoch and the global rank."""
    return int(np.random.SeedSequence([seed & 0xFFFFFFFF, epoch, rank]).generate_state(1)[0])


def seed_all(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (all devices), without touching ``PL_GLOBAL_SEED``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run_seed() -> int:
    """The seed ``seed_everything`` set for this run (``PL_GLOBAL_SEED``), 0 when none was set."""
    return int(os.environ.get("PL_GLOBAL_SEED", 0))


class EpochRandomSampler(RandomSampler):
    """A shuffling sampler whose order depends only on (seed, epoch), not on any global generator.

    Lightning calls :meth:`set_epoch` at the start of every training epoch, also when a resumed run's first
    DataLoader iterator was created before that (the order is drawn lazily, at the first batch). Under DDP
    Lightning replaces it, like any ``RandomSampler``, with a ``DistributedSampler`` that is seeded per epoch.

    Args:
        data_source: the dataset (anything with ``len``).
        seed: the shuffling seed; None reads the run seed (:func:`run_seed`) when each epoch starts.
    """

    def __init__(self, data_source: Sized, seed: int | None = None) -> None:
        super().__init__(data_source)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order the next iteration yields."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        seed = run_seed() if self.seed is None else self.seed
        self.generator = torch.Generator().manual_seed(epoch_seed(seed, self.epoch))
        yield from super().__iter__()


class EpochSeed(L.Callback):
    """Reseed every generator at the start of each training epoch from (run seed, epoch).

    Lightning checkpoints do not hold random generator states, so a run resumed from the checkpoint of
    epoch k would otherwise augment epoch k+1 differently from an uninterrupted run. With this callback the
    augmentation and any dropout of an epoch are the same whether or not the run was interrupted before it.
    (The shuffling order is :class:`EpochRandomSampler`'s; the training DataLoader has a generator of its own,
    so creating its iterator draws nothing from the global generators.)

    Args:
        seed: the run seed; None reads ``PL_GLOBAL_SEED`` (set by ``seed_everything``) and does nothing when
            no seed was set.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        seed = self.seed if self.seed is not None else os.environ.get("PL_GLOBAL_SEED")
        if seed is not None:
            seed_all(epoch_seed(int(seed), trainer.current_epoch, trainer.global_rank))
