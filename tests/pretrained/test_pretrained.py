"""Shipped pretrained checkpoints: names resolve to package files, unknown names and absent files are clear
errors, and an exported checkpoint loads through the safe path in every entry point."""

from pathlib import Path

import numpy as np
import pytest
import torch

from handprior.errors import HandpriorInputError
from handprior.inference.model import RefinementModel
from handprior.inference.refine import Refiner
from handprior.inference.streaming import StreamingRefiner
from handprior.models.checkpoint import build_net
from handprior.models.refiner import HandRefiner
from handprior.pretrained import PRETRAINED, Pretrained, resolve_checkpoint
from handprior.pretrained.export import export

NET = {"class_path": "handprior.models.nets.HandPriorNet", "init_args": {"dim": 16, "depth": 1, "num_heads": 2}}


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    """A checkpoint written the way `handprior fit` writes one, of a small randomly initialised network."""
    torch.manual_seed(0)
    model = HandRefiner(net=build_net(NET))
    path = tmp_path / "run" / "last.ckpt"
    path.parent.mkdir()
    torch.save({"epoch": 2, "state_dict": model.state_dict(), "hyper_parameters": {**model.hparams, "net": NET}}, path)
    return path


def test_an_existing_path_is_returned_as_given(tmp_path):
    path = tmp_path / "run.ckpt"
    path.write_bytes(b"x")
    assert resolve_checkpoint(path) == path


def test_an_unknown_bare_name_lists_the_pretrained_names():
    with pytest.raises(HandpriorInputError, match="not a pretrained model's name.*synthetic"):
        resolve_checkpoint("no-such-model")


def test_a_missing_pretrained_file_says_how_to_write_it(tmp_path, monkeypatch):
    monkeypatch.setitem(PRETRAINED, "absent", Pretrained("absent.ckpt", ("configs/x.yaml",), "test"))
    with pytest.raises(HandpriorInputError, match=r"handprior fit --config configs/x\.yaml` .*export RUN\.ckpt absent"):
        resolve_checkpoint("absent")


def test_an_exported_checkpoint_loads_by_name_everywhere(tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr("handprior.pretrained.FOLDER", tmp_path)
    monkeypatch.setitem(PRETRAINED, "tiny", Pretrained("tiny.ckpt", ("configs/x.yaml",), "test"))
    written = export(str(tiny_checkpoint), "tiny")
    assert written == tmp_path / "tiny.ckpt"
    stored = torch.load(written, weights_only=True)
    assert set(stored) == {"state_dict", "hyper_parameters", "handprior_pretrained"}
    model = RefinementModel.from_checkpoint("tiny")
    direct = RefinementModel.from_checkpoint(tiny_checkpoint)
    for key, value in direct.net.state_dict().items():
        torch.testing.assert_close(model.net.state_dict()[key], value, rtol=0, atol=0)
    assert Refiner.from_checkpoint("tiny", device="cpu").window == direct.window
    assert StreamingRefiner("tiny", device="cpu") is not None


def test_export_refuses_to_write_over_its_input(tiny_checkpoint):
    with pytest.raises(HandpriorInputError, match="being read"):
        export(str(tiny_checkpoint), "synthetic", output=str(tiny_checkpoint))


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_shipped_checkpoints_are_small_and_load(name):
    shipped = PRETRAINED[name]
    if not shipped.path.is_file():
        pytest.skip(f"{shipped.path.name} not built in this checkout")
    assert shipped.path.stat().st_size <= 5 * 1024 * 1024
    model = RefinementModel.from_checkpoint(name)
    assert model.window == 27


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_each_pretrained_model_names_config_files_that_exist(name):
    root = Path(__file__).resolve().parents[2]
    assert PRETRAINED[name].configs and all((root / config).is_file() for config in PRETRAINED[name].configs)


@pytest.mark.parametrize(
    ("name", "extra"), [("synthetic", ["--bones", "sequence"]), ("synthetic-live", ["--online", "true"])]
)
def test_refine_runs_a_shipped_model_by_name(name, extra, tmp_path):
    if not PRETRAINED[name].path.is_file():
        pytest.skip(f"{PRETRAINED[name].path.name} not built in this checkout")
    from handprior.body.bones import bone_vectors
    from handprior.cli import main
    from handprior.data.synthetic.generate import mano_layer, sample_ground_truth

    truth = sample_ground_truth(np.random.default_rng(0), 1, (60, 60), mano_layer())
    noisy = truth["gt"] + np.random.default_rng(1).normal(0, 3, truth["gt"].shape)
    source, target = tmp_path / "clip.npz", tmp_path / "refined.npz"
    np.savez(source, pred=noisy.astype(np.float32))
    main(["refine", "--ckpt", name, "--input", str(source), "--output", str(target), "--quiet", "true", *extra])
    refined = torch.from_numpy(np.load(target)["refined"])
    assert refined.shape == (60, 21, 3) and torch.isfinite(refined).all()
    spread = bone_vectors(refined).norm(dim=-1).std(dim=0).max()
    if name == "synthetic":  # one skeleton for the whole sequence
        assert spread < 1e-3


@pytest.fixture(scope="module")
def fresh_draw(tmp_path_factory):
    """Sequences of the default benchmark's motion and noise from a seed none of its splits uses."""
    from handprior.data.store import SequenceStore
    from handprior.data.synthetic.generate import generate_split

    root = tmp_path_factory.mktemp("fresh")
    generate_split(root, "test", 4, (150, 180), seed=777)
    return SequenceStore.open(root / "test")


def test_the_shipped_offline_model_beats_the_input_and_the_tuned_gaussian_on_a_fresh_draw(fresh_draw):
    if not PRETRAINED["synthetic"].path.is_file():
        pytest.skip("synthetic.ckpt not built in this checkout")
    from handprior.models.filters import Gaussian1d, Identity
    from handprior.reporting.tune import score

    model = RefinementModel.from_checkpoint("synthetic")
    stride, taper = model.seamless()
    refined = score(model, fresh_draw, stride=stride, taper=taper)
    raw = score(RefinementModel(Identity()), fresh_draw)
    gaussian = score(RefinementModel(Gaussian1d(1.5)), fresh_draw)  # the benchmark's tuned filter
    assert refined["mpjpe"] < 0.95 * gaussian["mpjpe"] and gaussian["mpjpe"] < raw["mpjpe"]
    assert refined["accel"] < gaussian["accel"] < raw["accel"]  # seamless: smoother than the filter too
