"""End to end through the CLI on a tiny synthetic benchmark: fit (+ test), a second fit, test from a checkpoint."""

from pathlib import Path

import pytest
import torch

from handprior.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--config", str(ROOT / "configs" / "synthetic.yaml"),
    "--trainer.max_epochs=1", "--trainer.limit_train_batches=3", "--trainer.limit_val_batches=2",
    "--trainer.limit_test_batches=2",
    "--data.init_args.train_sequences=4", "--data.init_args.val_sequences=2", "--data.init_args.test_sequences=2",
    "--data.init_args.min_frames=40", "--data.init_args.max_frames=60", "--data.init_args.batch_size=8",
    "--model.net.init_args.dim=16", "--model.net.init_args.depth=1", "--model.net.init_args.num_heads=2",
    "--model.net.init_args.dim_rep=16", "--model.net.init_args.memory.tokens=2",
]  # fmt: skip


@pytest.mark.slow
def test_fit_twice_in_one_folder_then_test_a_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = f"--data.init_args.root={tmp_path / 'synthetic'}"
    main(["fit", *TINY, data])
    main(["fit", *TINY, data])
    runs = sorted((tmp_path / "logs" / "synthetic").glob("version_*"))
    assert [r.name for r in runs] == ["version_0", "version_1"]
    for run in runs:
        assert (run / "config.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    out = capsys.readouterr().out
    assert out.count("test results") == 2 and "input (unrefined)" in out
    metrics = (runs[0] / "metrics.csv").read_text().splitlines()[0]
    names = ("val/mpjpe", "val/mpvpe", "val/mpvpe_joints", "val/accel", "val/input_mpjpe", "test/mpjpe")
    for name in (*names, "test/mpvpe", "test/mpvpe_joints", "test/input_accel"):
        assert name in metrics
    ckpt = runs[0] / "checkpoints" / "last.ckpt"
    torch.load(ckpt, weights_only=True)  # checkpoints hold no pickled classes
    main(["test", *TINY, data, f"--ckpt_path={ckpt}"])
    assert "refined" in capsys.readouterr().out


@pytest.mark.slow
def test_evaluation_settings_on_the_command_line_win_over_the_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = f"--data.init_args.root={tmp_path / 'synthetic'}"
    main(["fit", *TINY, data, "--test_after_fit=false", "--model.eval_stride=27"])
    ckpt = tmp_path / "logs" / "synthetic" / "version_0" / "checkpoints" / "last.ckpt"
    assert "eval_stride" not in torch.load(ckpt, weights_only=True)["hyper_parameters"]  # each run's own choice
    capsys.readouterr()
    refined = {}
    for stride in ("1", "27"):
        main(["test", *TINY, data, f"--ckpt_path={ckpt}", f"--model.eval_stride={stride}"])
        refined[stride] = [line for line in capsys.readouterr().out.splitlines() if "refined" in line]
    # One window per frame (27) and 27 averaged windows per frame (1) give different refined metrics.
    assert refined["1"] and refined["27"] and refined["1"] != refined["27"]
