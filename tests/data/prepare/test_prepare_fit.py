"""One training step (and the test after it) on each prepared fixture store, through the real CLI and configs."""

import math
import shutil
from pathlib import Path

import lightning as L
import numpy as np
import pytest
from official_fixtures import write_dexycb, write_hanco, write_interhand26m, write_reinterhand

from handprior.data.datamodule import StoreDataModule
from handprior.data.prepare.commands import prepare_dexycb, prepare_hanco, prepare_interhand26m, prepare_reinterhand
from handprior.data.store import SequenceStore
from handprior.lightning_cli import run_lightning_cli  # what `handprior.cli.main(["fit", ...])` runs; returns the CLI

ROOT = Path(__file__).resolve().parents[3]
TINY = [
    "--data.init_args.window=8",
    "--data.init_args.batch_size=4",
    "--data.init_args.mano_model_path=null",  # the fixtures' MANO parameters are random: the stand-in will do
    "--model.net.init_args.dim=16",
    "--model.net.init_args.depth=1",
    "--model.net.init_args.dim_rep=16",
    "--model.net.init_args.num_heads=2",
    "--model.net.init_args.memory.tokens=2",
    "--trainer.fast_dev_run=1",
    "--trainer.logger=false",
    "--trainer.callbacks=[]",
    "--trainer.enable_progress_bar=false",
]


def _prepare(name, root, out):
    if name == "interhand26m":
        write_interhand26m(root)
        prepare_interhand26m(root=str(root), out=str(out), progress=False)
    elif name == "reinterhand":
        write_reinterhand(root)
        prepare_reinterhand(root=str(root), out=str(out), progress=False)
    elif name == "hanco":
        write_hanco(root)
        prepare_hanco(root=str(root), out=str(out), train_sequences=3, test_sequences=2, cameras=[0, 1], progress=False)
    else:
        write_dexycb(root)
        prepare_dexycb(root=str(root), out=str(out), progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["interhand26m", "reinterhand", "hanco", "dexycb"])
def test_one_fit_step_on_each_prepared_fixture(name, tmp_path):
    out = tmp_path / "store"
    _prepare(name, tmp_path / "raw", out)
    config = ROOT / "configs" / "data" / f"{name}.yaml"
    cli = run_lightning_cli(["fit", "--config", str(ROOT / "configs" / "synthetic.yaml"), "--config", str(config),
                f"--data.init_args.root={out}", f"--trainer.default_root_dir={tmp_path / 'logs'}", *TINY])  # fmt: skip
    assert cli.trainer.state.finished and cli.trainer.global_step == 1
    assert cli.datamodule.open_split("train").meta["dataset"] == name
    assert cli.model.hparams.flat_hand_mean is False  # the stores' MANO convention reached the model
    assert math.isfinite(float(cli.trainer.callback_metrics["test/mpjpe"]))


def _test_metrics(model, root):
    """test/* metrics of ``model`` on the ``test`` store under ``root`` (whole split, no callbacks)."""
    data = StoreDataModule(root=str(root), window=8, mano_model_path=None, flat_hand_mean=False)
    trainer = L.Trainer(logger=False, callbacks=[], enable_progress_bar=False, enable_model_summary=False)
    return trainer.test(model, datamodule=data, verbose=False)[0]


@pytest.mark.slow
def test_partly_valid_hands_train_and_are_scored_on_their_valid_joints_only(tmp_path):
    out = tmp_path / "store"
    _prepare("interhand26m", tmp_path / "raw", out)
    for split in ("train", "test"):  # the fixture's partly annotated hands are kept, with a mask
        valid = SequenceStore.open(out / split).valid
        assert valid is not None and 0 < (~valid).sum() < valid.size
    config = ROOT / "configs" / "data" / "interhand26m.yaml"
    cli = run_lightning_cli(["fit", "--config", str(ROOT / "configs" / "synthetic.yaml"), "--config", str(config),
                f"--data.init_args.root={out}", f"--trainer.default_root_dir={tmp_path / 'logs'}", *TINY])  # fmt: skip
    assert cli.trainer.state.finished and cli.trainer.global_step == 1
    batch = next(iter(cli.datamodule.train_dataloader()))
    assert batch["valid"].shape == batch["gt"].shape[:3]  # the training windows carry the mask into the losses
    assert all(bool(p.isfinite().all()) for p in cli.model.parameters())  # the masked step kept the weights finite
    masked = _test_metrics(cli.model, out)
    assert all(math.isfinite(masked[f"test/{name}"]) for name in ("mpjpe", "mpvpe", "mpvpe_joints", "accel"))
    # Move every masked joint's placeholder 500 mm away: the masked scores do not move.
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    gt, valid = np.load(moved / "test" / "gt.npy"), np.load(moved / "test" / "valid.npy")
    gt[~valid] += 500.0
    np.save(moved / "test" / "gt.npy", gt)
    again = _test_metrics(cli.model, moved)
    for name in ("mpjpe", "input_mpjpe", "accel", "input_accel", "mpvpe", "mpvpe_joints"):
        assert again[f"test/{name}"] == masked[f"test/{name}"], name
    # Without the mask the same store counts the placeholders.
    (moved / "test" / "valid.npy").unlink()
    unmasked = _test_metrics(cli.model, moved)
    assert unmasked["test/mpjpe"] > masked["test/mpjpe"] + 5 and unmasked["test/accel"] > masked["test/accel"] + 5
