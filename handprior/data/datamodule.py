"""LightningDataModules: any sequence store, the built-in synthetic benchmark, and a user's own ``.npz``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, DistributedSampler

from handprior.data.augment import augment_batch
from handprior.data.datasets import SequenceDataset, WindowDataset, unbatch_sequence
from handprior.data.store import SequenceStore
from handprior.errors import HandpriorInputError
from handprior.training.seeding import EpochRandomSampler


def drop_last(windows: int, batch_size: int, processes: int = 1) -> bool:
    """Whether training drops each process's last incomplete batch: only when a process has more than one batch.

    Under DDP every process gets ceil(windows / processes) windows (Lightning's DistributedSampler), so the rule
    is on that share: on the whole dataset, a share smaller than a batch would give no training step at all.
    """
    return -(-windows // processes) > batch_size


class SequenceShardSampler(DistributedSampler):
    """Whole sequences split across processes for evaluation, every sequence exactly once (no padding).

    Process ``rank`` of ``num_replicas`` takes sequences rank, rank + num_replicas, ... in order. Lightning's own
    ``DistributedSampler`` would pad the last round by repeating sequences, so that under DDP a sequence could be
    scored twice and the summed metric states would no longer equal a single-process evaluation. Being a
    ``DistributedSampler``, it is left in place by Lightning.

    Args:
        dataset: the whole-sequence dataset (anything with ``len``).
        num_replicas: processes that evaluate.
        rank: this process.
        split: the split's name, for the error message.
    """

    def __init__(self, dataset: Any, num_replicas: int, rank: int, split: str = "") -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False)
        if len(dataset) < num_replicas:
            # a process without a sequence would skip the metrics' cross-process sum that the others wait in
            raise HandpriorInputError(
                f"the {split or 'evaluation'} split has {len(dataset)} sequence(s) for {num_replicas} processes: "
                "whole-sequence evaluation needs at least one sequence per process (use fewer devices to evaluate)"
            )
        self.indices = list(range(rank, len(dataset), num_replicas))
        self.num_samples, self.total_size = len(self.indices), len(dataset)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class StoreDataModule(L.LightningDataModule):
    """Sequence stores on disk: ``root/train``, ``root/val`` (``root/test`` if there is no val) and ``root/test``.

    Training uses windows of ``window`` frames cut every ``train_stride`` frames; validation, test and
    predict use whole sequences (one per batch), which the model windows and stitches itself.
    """

    def __init__(
        self,
        root: str = "data/synthetic",
        window: int = 27,
        train_stride: int = 9,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        rotation_deg: float = 30.0,
        scale_range: float = 0.1,
        translation_mm: float = 50.0,
        predict_split: str = "test",
        mano_model_path: str | None = None,
        flat_hand_mean: bool = True,
    ) -> None:
        """
        Args:
            root: folder holding one sequence store per split (``train``, ``val``, ``test``).
            window: frames per window, T (the paper uses 27); the model reads it from here.
            train_stride: frames between the starts of consecutive training windows.
            batch_size: training windows per batch.
            num_workers: DataLoader worker processes.
            pin_memory: pin host memory for faster transfer to a GPU.
            rotation_deg: training augmentation, maximum random rotation about a random axis (0 = off).
            scale_range: training augmentation, random scale in [1-r, 1+r] (0 = off).
            translation_mm: training augmentation, random translation per axis in [-t, t] mm (0 = off).
            predict_split: the split that ``handprior predict`` refines.
            mano_model_path: the hand model the data's MANO ground truth is defined with: None for the built-in
                stand-in, or a folder/file with the official MANO model (``MANO_RIGHT.pkl`` or a converted
                ``.npz``). The model uses the same one (linked).
            flat_hand_mean: MANO pose convention of the data: zero pose is a flat hand (True) or the mean
                relaxed hand (False). Linked into the model.
        """
        super().__init__()
        self.save_hyperparameters()
        self.root = Path(root).expanduser()
        self.window, self.train_stride, self.batch_size = window, train_stride, batch_size
        self.num_workers, self.pin_memory = num_workers, pin_memory
        self.augmentation = {"rotation_deg": rotation_deg, "scale_range": scale_range, "translation_mm": translation_mm}
        self.predict_split = predict_split
        self.mano_model_path, self.flat_hand_mean = mano_model_path, flat_hand_mean
        self.stores: dict[str, SequenceStore] = {}

    def split_path(self, split: str) -> Path:
        """Folder of a split; a missing ``val`` falls back to ``test``."""
        path = self.root / split
        if split == "val" and not path.exists():
            return self.root / "test"
        return path

    def open_split(self, split: str) -> SequenceStore:
        """Open (once) the store of a split."""
        if split not in self.stores:
            store = SequenceStore.open(self.split_path(split))
            stored = store.meta.get("mano", {}).get("flat_hand_mean")
            if store.has_mano and stored is not None and bool(stored) != self.flat_hand_mean:
                raise HandpriorInputError(
                    f"MANO ground truth uses flat_hand_mean={stored} but data.flat_hand_mean={self.flat_hand_mean}; "
                    "set data.init_args.flat_hand_mean to match (meshes would be silently wrong)",
                    store.root / "meta.json",
                )
            self.stores[split] = store
        return self.stores[split]

    def setup(self, stage: str) -> None:
        needed = {"fit": ["train", "val"], "validate": ["val"], "test": ["test"], "predict": [self.predict_split]}
        for split in needed.get(stage, []):
            self.open_split(split)

    def train_dataloader(self) -> DataLoader:
        dataset = WindowDataset(self.open_split("train"), self.window, self.train_stride)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=EpochRandomSampler(dataset),  # order from (seed, epoch): a resumed run shuffles the same
            generator=torch.Generator(),  # iterator creation draws from it, not from the global generator
            drop_last=drop_last(len(dataset), self.batch_size, self._processes()),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def _sequence_loader(self, split: str) -> DataLoader:
        dataset = SequenceDataset(self.open_split(split))
        return DataLoader(
            dataset,
            batch_size=1,
            sampler=self._sequence_sampler(dataset, split),
            collate_fn=unbatch_sequence,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
        )

    def _distributed(self) -> dict[str, int]:
        """num_replicas and rank of this process among those that share the data (1 and 0 without DDP)."""
        trainer = self.trainer
        kwargs = trainer.distributed_sampler_kwargs if trainer is not None else None
        return {"num_replicas": 1, "rank": 0, **(kwargs or {})}

    def _processes(self) -> int:
        return int(self._distributed()["num_replicas"])

    def _sequence_sampler(self, dataset: SequenceDataset, split: str) -> SequenceShardSampler | None:
        """Under DDP (several processes), each process's share of the whole sequences; else None (in order)."""
        where = self._distributed()
        if where["num_replicas"] <= 1:
            return None
        return SequenceShardSampler(dataset, where["num_replicas"], where["rank"], split)

    def val_dataloader(self) -> DataLoader:
        return self._sequence_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._sequence_loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._sequence_loader(self.predict_split)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        trainer = self.trainer
        if trainer is not None and trainer.training and any(self.augmentation.values()):
            return augment_batch(batch, **self.augmentation)
        return batch


class NpzDataModule(StoreDataModule):
    """A user's own data: one ``.npz`` per split (see :mod:`handprior.data.user_npz` for the keys)."""

    def __init__(
        self, train: str | None = None, val: str | None = None, test: str | None = None, **kwargs: Any
    ) -> None:
        """
        Args:
            train: ``.npz`` with the training sequences.
            val: ``.npz`` with the validation sequences (defaults to ``test``).
            test: ``.npz`` with the test sequences.
            **kwargs: the options of :class:`StoreDataModule` (window, batch_size, augmentation, ...).
        """
        super().__init__(root=".", **kwargs)
        self.files = {"train": train, "val": val or test, "test": test}

    def open_split(self, split: str) -> SequenceStore:
        from handprior.data.user_npz import load_user_npz

        if split not in self.stores:
            if self.files.get(split) is None:
                raise ValueError(f"NpzDataModule: no .npz given for the {split!r} split (--data.init_args.{split})")
            self.stores[split] = load_user_npz(self.files[split])
        return self.stores[split]


class SyntheticDataModule(StoreDataModule):
    """The built-in synthetic benchmark (docs/architecture.md, "Synthetic benchmark"), generated on first use and
    cached under ``root``.

    Realistic right-hand motion posed through the MANO layer at 30 fps, with per-frame predictions from a
    seeded estimator-noise simulator. Train, val and test come from disjoint seeds derived from ``seed``.
    """

    def __init__(
        self,
        root: str = "data/synthetic",
        seed: int = 0,
        profile: str = "interwild",
        train_sequences: int = 200,
        val_sequences: int = 20,
        test_sequences: int = 40,
        min_frames: int = 150,
        max_frames: int = 400,
        **kwargs: Any,
    ) -> None:
        """
        Args:
            root: cache folder; the data is regenerated only when these settings change.
            seed: base seed of the generator (independent of ``seed_everything``).
            profile: estimator-noise profile (``interwild``, ``strong``, ``weak``; see
                ``handprior.data.synthetic.noise``).
            train_sequences: training sequences.
            val_sequences: validation sequences.
            test_sequences: test sequences.
            min_frames: shortest sequence, frames.
            max_frames: longest sequence, frames.
            **kwargs: the options of :class:`StoreDataModule` (window, batch_size, augmentation, ...).
        """
        super().__init__(root=root, **kwargs)
        from handprior.data.synthetic.generate import SyntheticConfig

        self.config = SyntheticConfig(
            seed=seed,
            profile=profile,
            train_sequences=train_sequences,
            val_sequences=val_sequences,
            test_sequences=test_sequences,
            frames_range=(min_frames, max_frames),
            mano_model_path=self.mano_model_path,
        )

    def prepare_data(self) -> None:
        from handprior.data.synthetic.generate import ensure_synthetic

        ensure_synthetic(self.root, self.config)

    def open_split(self, split: str) -> SequenceStore:
        if split not in self.stores:
            self.prepare_data()  # cheap when the cache is current; covers use outside a Trainer
        return super().open_split(split)
