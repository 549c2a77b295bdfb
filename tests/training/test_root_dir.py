"""`--trainer.default_root_dir DIR` sends the configured loggers' folders to DIR unless a logger's own folder is
given, and `--ckpt_path last` looks there (issue #22, item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonargparse import Namespace

from handprior.lightning_cli import HandPriorCLI, build_cli, loggers_follow_root_dir
from handprior.training.resume import find_resume_point

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "synthetic.yaml")


def _cli(*args: str) -> HandPriorCLI:
    return build_cli(["--config", CONFIG, *args], run=False)


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.chdir(tmp_path)


def test_the_loggers_follow_default_root_dir(tmp_path: Path) -> None:
    cli = _cli("--trainer.default_root_dir", str(tmp_path / "elsewhere"))
    assert [logger.save_dir for logger in cli.trainer.loggers] == [str(tmp_path / "elsewhere")] * 2
    assert cli.trainer.log_dir == str(tmp_path / "elsewhere" / "synthetic" / "version_0")
    default = _cli()  # the config's default_root_dir: logs
    assert [logger.save_dir for logger in default.trainer.loggers] == ["logs", "logs"]


def test_a_loggers_own_folder_is_kept(tmp_path: Path) -> None:
    cli = _cli(
        "--trainer.default_root_dir",
        str(tmp_path / "root"),
        "--trainer.logger.init_args.save_dir",
        str(tmp_path / "own"),
    )  # the save_dir option reaches the last logger (W&B)
    assert [logger.save_dir for logger in cli.trainer.loggers] == [str(tmp_path / "root"), str(tmp_path / "own")]


def test_resume_looks_under_default_root_dir(tmp_path: Path) -> None:
    checkpoints = tmp_path / "root" / "synthetic" / "version_3" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "last.ckpt").write_bytes(b"")
    csv = Namespace(
        class_path="lightning.pytorch.loggers.CSVLogger", init_args=Namespace(save_dir=None, name="synthetic")
    )
    trainer = Namespace(default_root_dir=str(tmp_path / "root"), logger=[csv])
    loggers_follow_root_dir(trainer)
    assert trainer.logger[0].init_args.save_dir == str(tmp_path / "root")
    point = find_resume_point(trainer.clone().as_dict())
    assert point is not None and point.checkpoint == checkpoints / "last.ckpt" and point.version == "version_3"
