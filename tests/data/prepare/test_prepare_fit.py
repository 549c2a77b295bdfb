"""One training step (and the test after it) on each prepared fixture store, through the real CLI and configs."""

import math
from pathlib import Path

import pytest
from official_fixtures import write_dexycb, write_hanco, write_interhand26m, write_reinterhand

from handprior.data.prepare.commands import prepare_dexycb, prepare_hanco, prepare_interhand26m, prepare_reinterhand
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
