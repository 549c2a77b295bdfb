"""torch Datasets over a sequence store: training windows and whole sequences."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from handprior.data.store import SequenceStore
from handprior.data.windows import training_window_starts


class WindowDataset(Dataset):
    """Fixed-length training windows cut on the fly from a memory-mapped store (no copy of the dataset).

    Each item: ``pred``/``gt`` (T,21,3) mm, ``has_mano`` (bool) and, when the store has MANO ground truth,
    ``gt_theta`` (T,48) and ``gt_beta`` (10,) (the first frame's shape; it is constant within a sequence), and,
    when the store has a validity mask, ``valid`` (T,21) bool (ground truth per joint; absent: all valid).
    """

    def __init__(self, store: SequenceStore, window: int, stride: int) -> None:
        self.store, self.window = store, window
        self.starts = training_window_starts(store.offsets, window, stride)
        if len(self.starts) == 0:
            raise ValueError(
                f"{store.root}: no sequence is at least {window} frames long, so there is no training window"
            )

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> dict[str, Any]:
        frames = slice(int(self.starts[index]), int(self.starts[index]) + self.window)
        item: dict[str, Any] = {
            "pred": torch.from_numpy(np.array(self.store.pred[frames])),
            "gt": torch.from_numpy(np.array(self.store.gt[frames])),
            "has_mano": self.store.has_mano,
        }
        if self.store.has_mano:
            item["gt_theta"] = torch.from_numpy(np.array(self.store.gt_theta[frames]))
            item["gt_beta"] = torch.from_numpy(np.array(self.store.gt_beta[frames.start]))
        if self.store.valid is not None:
            item["valid"] = torch.from_numpy(np.array(self.store.valid[frames]))  # (T,21) bool
        return item


class SequenceDataset(Dataset):
    """Whole sequences, one per item, for validation, test and prediction (batch size 1).

    Each item: ``pred``/``gt`` (L,21,3) mm, ``index``, ``name``, ``side`` and, with MANO ground truth,
    ``gt_theta`` (L,48) and ``gt_beta`` (L,10), and with a validity mask ``valid`` (L,21) bool.
    """

    def __init__(self, store: SequenceStore) -> None:
        self.store = store
        self.names = store.meta.get("names") or [f"seq{i:05d}" for i in range(store.num_sequences)]
        self.sides = store.meta.get("sides") or ["right"] * store.num_sequences

    def __len__(self) -> int:
        return self.store.num_sequences

    def __getitem__(self, index: int) -> dict[str, Any]:
        frames = self.store.sequence(index)
        item: dict[str, Any] = {
            "pred": torch.from_numpy(np.array(self.store.pred[frames])),
            "gt": torch.from_numpy(np.array(self.store.gt[frames])),
            "has_mano": self.store.has_mano,
            "index": index,
            "name": str(self.names[index]),
            "side": str(self.sides[index]),
        }
        if self.store.has_mano:
            item["gt_theta"] = torch.from_numpy(np.array(self.store.gt_theta[frames]))
            item["gt_beta"] = torch.from_numpy(np.array(self.store.gt_beta[frames]))
        if self.store.valid is not None:
            item["valid"] = torch.from_numpy(np.array(self.store.valid[frames]))  # (L,21) bool
        return item


def unbatch_sequence(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Collate for batch size 1: return the single item unchanged (sequences differ in length)."""
    (item,) = batch
    return item
