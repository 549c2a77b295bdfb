"""Checkpoint files: atomic writes, finding the last one to resume, per-epoch seeding, safe loading in the CLI."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from handprior.cli import main
from handprior.training import AtomicCheckpointIO
from handprior.training.resume import find_resume_point, run_root, set_aside_metrics
from handprior.training.seeding import EpochRandomSampler, epoch_seed

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ["--config", str(ROOT / "configs" / "synthetic.yaml")]
CSV = {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "logs", "name": "synthetic"}}


def test_a_failed_save_leaves_the_previous_checkpoint_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    io, path = AtomicCheckpointIO(), tmp_path / "ckpts" / "last.ckpt"
    io.save_checkpoint({"step": torch.tensor(1)}, path)
    assert io.load_checkpoint(path, weights_only=True)["step"] == 1

    def dies_halfway(obj, file) -> None:
        file.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt  # as if the process were stopped mid-write

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": torch.tensor(2)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["step"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary file left behind


def _touch(path: Path, age: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_last_is_the_newest_last_checkpoint_of_the_logger_folder(tmp_path: Path) -> None:
    root = tmp_path / "logs" / "synthetic"
    _touch(root / "version_0" / "checkpoints" / "last.ckpt", age=100)
    newest = _touch(root / "version_1" / "checkpoints" / "last.ckpt", age=10)
    _touch(root / "version_2" / "checkpoints" / "epoch000.ckpt", age=1)  # a run that never wrote last.ckpt
    trainer = {"logger": [{**CSV, "init_args": {"save_dir": str(tmp_path / "logs"), "name": "synthetic"}}]}
    point = find_resume_point(trainer)
    assert point is not None and point.checkpoint == newest and point.version == "version_1"
    assert point.run_dir == root / "version_1"
    assert find_resume_point({"logger": [{**CSV, "init_args": {"save_dir": str(tmp_path / "x")}}]}) is None
    assert run_root({"logger": True, "default_root_dir": "out"}) == Path("out/lightning_logs")
    assert run_root({"logger": [{"class_path": "lightning.pytorch.loggers.WandbLogger"}]}) is None
    explicit = _touch(tmp_path / "mine" / "last-v1.ckpt", age=50)
    callbacks = [
        {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": {"dirpath": str(explicit.parent)}}
    ]
    point = find_resume_point({**trainer, "callbacks": callbacks})
    assert point is not None and point.checkpoint == explicit and point.version is None


def test_earlier_metrics_are_kept_beside_the_resumed_ones(tmp_path: Path) -> None:
    assert set_aside_metrics(tmp_path) is None
    (tmp_path / "metrics.csv").write_text("a")
    assert set_aside_metrics(tmp_path) == tmp_path / "metrics.part1.csv"
    (tmp_path / "metrics.csv").write_text("b")
    assert set_aside_metrics(tmp_path) == tmp_path / "metrics.part2.csv"
    assert (tmp_path / "metrics.part1.csv").read_text() == "a" and not (tmp_path / "metrics.csv").exists()


def test_the_shuffle_order_depends_only_on_seed_and_epoch() -> None:
    data = list(range(50))
    first, second = EpochRandomSampler(data, seed=3), EpochRandomSampler(data, seed=3)
    torch.manual_seed(123)  # the global generator plays no part
    order = list(first)
    torch.rand(5)
    assert list(second) == order and sorted(order) == data
    iterator = iter(second)  # created before the epoch is set, as Lightning does when it resumes
    second.set_epoch(1)
    assert list(iterator) != order and list(iterator) == []  # drawn lazily, for epoch 1
    first.set_epoch(1)
    second.set_epoch(1)
    assert list(first) == list(second)
    assert epoch_seed(0, 1) == epoch_seed(0, 1) != epoch_seed(0, 2) != epoch_seed(1, 2)


def test_checkpoints_load_weights_only_by_default(capsys) -> None:
    for command in ("fit", "test"):
        with pytest.raises(SystemExit) as info:
            main([command, *CONFIG, "--print_config"])
        assert info.value.code == 0
        assert "\nweights_only: true\n" in capsys.readouterr().out


def test_the_cli_refuses_unsafe_or_missing_checkpoints(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"net": {"class_path": "os.system", "init_args": {}}}}, foreign)
    for ckpt, message in (
        (foreign, "refused to load: the network class 'os.system' is not one of handprior's registered networks"),
        (tmp_path / "absent.ckpt", "checkpoint file does not exist"),
        ("last", f"--ckpt_path last: no last checkpoint in {Path('logs') / 'synthetic' / '*' / 'checkpoints'}"),
    ):
        with pytest.raises(SystemExit) as info:
            main(["test", *CONFIG, f"--ckpt_path={ckpt}"])
        err = capsys.readouterr().err
        assert info.value.code == 2 and message in err and "Traceback" not in err
