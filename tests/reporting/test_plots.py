"""Plots: pure figure functions write real PNG/GIF files; the callback writes them and logs them to W&B."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from handprior.reporting.callbacks import PlotCallback
from handprior.reporting.plots import (
    save_figure,
    sequence_error_figure,
    sequence_errors,
    skeleton_gif,
    trajectory_figure,
    write_test_plots,
)


def hand_sequence(length: int) -> np.ndarray:
    """(L,21,3) mm: five straight fingers fanning out from a wrist that moves along x."""
    t = np.arange(length, dtype=float)
    angles = np.deg2rad([-60.0, -25.0, 0.0, 20.0, 40.0])
    joints = np.zeros((length, 21, 3))
    for f, angle in enumerate(angles):
        for k in range(1, 5):
            joints[:, 4 * f + k] = [25 * k * np.sin(angle), -25 * k * np.cos(angle), 5.0 * k]
    return joints + np.stack([2 * t, 10 * np.sin(t / 5), 500 + 0 * t], axis=-1)[:, None]


@pytest.fixture(scope="module")
def example():
    rng = np.random.default_rng(0)
    gt = hand_sequence(40)
    return {
        "name": "seq/0 left",
        "input": gt + rng.normal(scale=6.0, size=gt.shape),
        "refined": gt + rng.normal(scale=2.0, size=gt.shape),
        "gt": gt,
    }


def assert_image(path, frames: int = 1):
    assert path.exists() and path.stat().st_size > 1000
    with Image.open(path) as image:
        assert getattr(image, "n_frames", 1) == frames
        assert min(image.size) > 100


def test_sequence_errors_separate_noisy_and_clean(example):
    frame_in, accel_in = sequence_errors(example["input"], example["gt"])
    frame_ref, accel_ref = sequence_errors(example["refined"], example["gt"])
    assert frame_in.shape == (40,) and accel_in.shape == (38,)
    assert frame_in.mean() > 2 * frame_ref.mean() and accel_in.mean() > 2 * accel_ref.mean()
    zero_frame, zero_accel = sequence_errors(example["gt"], example["gt"])
    assert np.allclose(zero_frame, 0) and np.allclose(zero_accel, 0)


def test_figures_write_png(tmp_path, example):
    arrays = (example["input"], example["refined"], example["gt"])
    figure = trajectory_figure(*arrays, joint=8)
    assert len(figure.axes) == 3 and len(figure.axes[0].lines) == 3
    assert_image(save_figure(figure, tmp_path / "a" / "trajectory.png"))
    figure = sequence_error_figure(*arrays)
    assert [len(ax.lines) for ax in figure.axes] == [2, 2]
    assert_image(save_figure(figure, tmp_path / "errors.png"))


def test_skeleton_gif_is_subsampled(tmp_path, example):
    path = skeleton_gif(example["input"], example["refined"], example["gt"], tmp_path / "s.gif", max_frames=8, dpi=40)
    assert_image(path, frames=8)


def _test_epoch(callback: PlotCallback, trainer: SimpleNamespace, examples: list[dict]) -> None:
    """Drive the callback through a test epoch whose steps refined ``examples`` (their ``refined`` arrays)."""
    callback.on_test_epoch_start(trainer, None)
    for i, example in enumerate(examples):
        batch = {"name": example["name"], **{k: torch.as_tensor(example[k]) for k in ("input", "gt")}}
        batch["pred"] = batch.pop("input")
        callback.on_test_batch_end(trainer, None, {"joints": torch.as_tensor(example["refined"])}, batch, i)
    callback.on_test_epoch_end(trainer, None)
    callback.on_test_end(trainer, None)


def test_callback_writes_into_the_log_dir(tmp_path, example):
    trainer = SimpleNamespace(
        is_global_zero=True, log_dir=str(tmp_path / "version_0"), default_root_dir="x", loggers=[]
    )
    callback = PlotCallback(num_sequences=1, gif=True, max_frames=5)
    _test_epoch(callback, trainer, [example, dict(example, name="second")])
    assert set(callback.paths) == {"per_joint", "seq_0_left/errors", "seq_0_left/trajectory", "seq_0_left/skeleton"}
    assert all(p.parent == tmp_path / "version_0" / "plots" for p in callback.paths.values())
    assert_image(callback.paths["per_joint"])
    assert_image(callback.paths["seq_0_left/skeleton"], frames=5)
    assert [e["name"] for e in callback.examples] == ["seq/0 left"]
    assert callback.per_joint["refined"].shape == (21,)
    assert callback.per_joint["input"].mean() > callback.per_joint["refined"].mean()


def test_no_examples_no_gif(tmp_path):
    paths = write_test_plots({}, [], tmp_path)
    assert paths == {}


def test_callback_logs_to_wandb_offline(tmp_path, example, monkeypatch):
    from lightning.pytorch.loggers import WandbLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = WandbLogger(save_dir=str(tmp_path), project="handprior-test")
    try:
        trainer = SimpleNamespace(
            is_global_zero=True, log_dir=str(tmp_path / "run"), default_root_dir="x", loggers=[logger]
        )
        _test_epoch(PlotCallback(gif=True, max_frames=4), trainer, [example])
        run_dir = tmp_path / "wandb"
        assert len(list(run_dir.rglob("media/images/test/plots/**/*.png"))) == 3  # per joint, errors, trajectory
        assert len(list(run_dir.rglob("media/videos/test/plots/**/*.gif"))) == 1
    finally:
        logger.experiment.finish()
