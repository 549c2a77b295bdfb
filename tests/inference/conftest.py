"""A small trained-looking checkpoint, written the way `handprior fit` writes one (no training needed)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from handprior.models.checkpoint import build_net
from handprior.models.refiner import HandRefiner

NET = {
    "class_path": "handprior.models.nets.HandPriorNet",
    "init_args": {"dim": 16, "depth": 1, "num_heads": 2, "dim_rep": 16, "memory": {"tokens": 2}},
}


def write_checkpoint(path: Path, net: dict | None = NET, **hparams: object) -> Path:
    """A Lightning-style checkpoint of a randomly initialised refiner; ``net=None`` leaves the network out."""
    torch.manual_seed(0)
    model = HandRefiner(net=build_net(NET), **hparams)
    content = {"epoch": 0, "state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}
    if net is not None:
        content["hyper_parameters"]["net"] = net
    torch.save(content, path)
    return path


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "last.ckpt")


@pytest.fixture
def make_checkpoint() -> Callable[..., Path]:
    """:func:`write_checkpoint`, for tests that need a checkpoint of their own."""
    return write_checkpoint


@pytest.fixture
def net_spec() -> dict:
    """The network configuration of the test checkpoints."""
    return copy.deepcopy(NET)


@pytest.fixture
def hand() -> Callable[..., np.ndarray]:
    """:func:`hand_sequence`."""
    return hand_sequence


def hand_sequence(frames: int = 40, seed: int = 0) -> np.ndarray:
    """A plausible right hand in mm: a wrist path and joints spread around it with a 90 mm middle-MCP bone."""
    rng = np.random.default_rng(seed)
    wrist = np.cumsum(rng.normal(0, 2, (frames, 1, 3)), axis=0) + np.array([0.0, 0.0, 400.0])
    joints = wrist + rng.normal(0, 40, (1, 21, 3)) + rng.normal(0, 2, (frames, 21, 3))
    joints[:, 0] = wrist[:, 0]
    joints[:, 9] = wrist[:, 0] + np.array([0.0, 90.0, 0.0])
    return joints
