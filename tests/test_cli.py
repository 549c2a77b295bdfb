"""The `handprior` command: help, errors, every shipped config parses."""

import subprocess
import sys
from pathlib import Path

import pytest

from handprior.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / "configs").rglob("*.yaml"))
BASE = ROOT / "configs" / "synthetic.yaml"


def test_help_lists_the_commands(capsys):
    main(["--help"])
    out = capsys.readouterr().out
    assert "fit" in out and "test" in out


def test_unknown_command_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["fitt"])
    assert info.value.code == 2
    assert "unknown command 'fitt'" in capsys.readouterr().err


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_every_shipped_config_parses(config, capsys):
    configs = ["--config", str(config)] if config == BASE else ["--config", str(BASE), "--config", str(config)]
    with pytest.raises(SystemExit) as info:
        main(["fit", *configs, "--print_config"])
    assert info.value.code == 0
    printed = capsys.readouterr().out
    assert "class_path: handprior" in printed


def test_config_typo_names_the_key():
    result = subprocess.run(
        [sys.executable, "-m", "handprior", "fit", "--config", str(BASE), "--model.lrr=0.1", "--print_config"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "lrr" in result.stderr
    assert "Traceback" not in result.stderr


def test_results_table_prints_both_mpvpes():
    from rich.console import Console

    from handprior.lightning_cli import print_results_table

    metrics = {"test/mpjpe": 9.5, "test/mpvpe": 7.25, "test/mpvpe_joints": 12.5, "test/accel": 1.9}
    metrics.update({"test/input_mpjpe": 10.0, "test/input_accel": 6.8})
    console = Console(record=True, width=200)
    print_results_table(metrics, "test", console)
    text = console.export_text()
    header = next(line for line in text.splitlines() if "MPJPE" in line)
    refined = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("refined"))
    assert header.index("MPVPE") < header.index("MPVPE (joints)")  # the cited protocol first, then by the joints
    assert refined.index("7.25") < refined.index("12.50")


def test_each_run_reserves_its_own_folder_at_once(tmp_path, monkeypatch):
    """Runs started together in one folder (bench --jobs 2) never share a version folder."""
    from jsonargparse import Namespace
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    from handprior.lightning_cli import reserve_run_folder

    def trainer(**init_args):
        csv = Namespace(class_path="lightning.pytorch.loggers.CSVLogger",
                        init_args=Namespace(save_dir=str(tmp_path), name="synthetic", version=None, **init_args))  # fmt: skip
        return Namespace(logger=[csv, Namespace(class_path="lightning.pytorch.loggers.WandbLogger", init_args=Namespace())])

    (tmp_path / "synthetic" / "version_0").mkdir(parents=True)  # an earlier run
    first, second = trainer(), trainer()
    assert reserve_run_folder(first) == tmp_path / "synthetic" / "version_1"
    assert reserve_run_folder(second) == tmp_path / "synthetic" / "version_2"  # before either run wrote anything
    assert first.logger[0].init_args.version == 1 and second.logger[0].init_args.version == 2
    pinned = trainer()
    pinned.logger[0].init_args.version = 0  # resuming in an existing folder
    assert reserve_run_folder(pinned) is None and pinned.logger[0].init_args.version == 0
    monkeypatch.setattr(rank_zero_only, "rank", 1)  # another process of a multi-process run reserves nothing
    assert reserve_run_folder(trainer()) is None
    assert sorted(p.name for p in (tmp_path / "synthetic").iterdir()) == ["version_0", "version_1", "version_2"]
