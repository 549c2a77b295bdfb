"""The Refiner API: rebuilt from a checkpoint alone, safely; units, left hands, short sequences, gaps, meshes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from handprior.body.joints import mirror_x
from handprior.errors import HandpriorInputError
from handprior.inference.refine import Refiner
from handprior.models.refiner import HandRefiner


@pytest.fixture(scope="module")
def refiner(checkpoint: Path) -> Refiner:
    return Refiner.from_checkpoint(checkpoint, device="cpu")


def test_the_checkpoint_alone_rebuilds_the_model(refiner: Refiner, checkpoint: Path, hand) -> None:
    stored = torch.load(checkpoint, weights_only=True)["state_dict"]
    for key, value in refiner.model.net.state_dict().items():
        assert torch.equal(value, stored[f"net.{key}"]), key
    assert type(refiner.model.net).__name__ == "HandPriorNet" and refiner.window == 27
    result = refiner.refine(hand(40))
    assert result["joints"].shape == (40, 21, 3) and np.isfinite(result["joints"]).all()
    assert result["theta"].shape == (40, 48) and result["beta"].shape == (40, 10)
    assert result["units"] == "mm" and not result["interpolated"].any()


def test_metres_give_the_millimetre_result_in_metres(refiner: Refiner, hand) -> None:
    joints = hand(40)
    in_mm = refiner.refine(joints, units="mm")["joints"]
    detected = refiner.refine(joints / 1000, units="auto")
    assert detected["units"] == "m" and "detected m" in detected["notes"][0]
    np.testing.assert_allclose(detected["joints"] * 1000, in_mm, atol=1e-3)


def test_left_hands_are_mirrored_in_and_out(refiner: Refiner, hand) -> None:
    joints = hand(40)
    right = refiner.refine(joints, mano=True)
    left = refiner.refine(mirror_x(joints), side="left", mano=True)
    np.testing.assert_allclose(left["joints"], mirror_x(right["joints"]), atol=1e-4)
    np.testing.assert_allclose(left["vertices"], mirror_x(right["vertices"]), atol=1e-4)
    sign = np.tile([1.0, -1.0, -1.0], 16)  # the left MANO model's pose of the mirrored hand
    np.testing.assert_allclose(left["theta"], right["theta"] * sign, atol=1e-6)
    np.testing.assert_array_equal(left["faces"], right["faces"][:, ::-1])


def test_any_length_short_sequences_are_padded_and_said_so(refiner: Refiner, hand) -> None:
    for frames in (1, 10, 27, 100):
        result = refiner.refine(hand(frames))
        assert result["joints"].shape == (frames, 21, 3)
        assert any("padded" in note for note in result["notes"]) == (frames < 27)


def test_gaps_are_refused_or_interpolated(refiner: Refiner, hand) -> None:
    joints = hand(40)
    joints[12:14] = np.nan
    with pytest.raises(HandpriorInputError, match="NaN/inf in 2 frames.*--interpolate_gaps"):
        refiner.refine(joints)
    result = refiner.refine(joints, interpolate_gaps=2)
    assert result["interpolated"].sum() == 2 and any("filled 2 missing frames" in n for n in result["notes"])
    assert np.isfinite(result["joints"]).all()


@pytest.mark.parametrize(
    "joints, message",
    [
        (np.zeros((10, 20, 3)), r"shape \(N,21,3\), found \(10, 20, 3\)"),
        (np.zeros((10, 63)), r"found \(10, 63\)"),
        (np.zeros((0, 21, 3)), "no frames"),
    ],
)
def test_bad_arrays_are_named(refiner: Refiner, joints: np.ndarray, message: str) -> None:
    with pytest.raises(HandpriorInputError, match=message):
        refiner.refine(joints, units="auto")


def test_wrong_units_are_caught(refiner: Refiner, hand) -> None:
    with pytest.raises(HandpriorInputError, match="declared in mm but look like m"):
        refiner.refine(hand(30) / 1000, units="mm")
    with pytest.raises(HandpriorInputError, match="cannot tell the units"):
        refiner.refine(hand(30) / 10, units="auto")


def test_a_different_network_gives_a_summary_not_a_traceback(checkpoint: Path, net_spec: dict) -> None:
    from handprior.models.nets import HandPriorNet
    from handprior.models.nets.config import MemoryConfig

    with pytest.raises(HandpriorInputError, match=r"does not fit this network.*shape mismatches \(net\.") as info:
        Refiner.from_checkpoint(checkpoint, device="cpu", net=HandPriorNet(dim=32, depth=1, num_heads=2, dim_rep=16))
    assert str(checkpoint) in str(info.value)
    stored = torch.load(checkpoint, weights_only=True)
    model = HandRefiner(net=HandPriorNet(dim=8, depth=2, num_heads=2, dim_rep=16, memory=MemoryConfig(tokens=2)))
    net_spec["init_args"].update(dim=8, depth=2)
    model.hparams["net"] = net_spec
    with pytest.raises(HandpriorInputError) as info:
        model.on_load_checkpoint(stored)  # what `handprior test --ckpt_path` runs before loading the weights
    message = str(info.value)
    assert "model.net.init_args.dim=16, the config says 8" in message and "model.net.init_args.depth=1" in message
    assert "unexpected keys" in message or "missing keys" in message


def test_checkpoints_without_their_network_say_what_to_do(tmp_path: Path, make_checkpoint) -> None:
    bare = make_checkpoint(tmp_path / "bare.ckpt", net=None)
    with pytest.raises(HandpriorInputError, match=r"does not name its network.*net=\.\.\."):
        Refiner.from_checkpoint(bare, device="cpu")


def test_foreign_class_paths_are_refused_without_importing_them(tmp_path: Path, monkeypatch, make_checkpoint) -> None:
    (tmp_path / "evil_module.py").write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\nclass Net: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for class_path in ("evil_module.Net", "torch.nn.Linear", "handprior_evil.Net", "os.system"):
        path = make_checkpoint(tmp_path / "foreign.ckpt", net={"class_path": class_path, "init_args": {}})
        with pytest.raises(HandpriorInputError, match="refused to load: the network class .* is not one of handprior's registered networks"):
            Refiner.from_checkpoint(path, device="cpu")
    assert not (tmp_path / "imported").exists() and "evil_module" not in sys.modules


class _RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_checkpoints_holding_code_are_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"hook": _RunsShell(marker)}}, path)
    with pytest.raises(HandpriorInputError, match="refused to load.*pickled Python objects"):
        Refiner.from_checkpoint(path, device="cpu")
    assert not marker.exists()


def test_missing_empty_truncated_and_foreign_checkpoints(tmp_path: Path, checkpoint: Path) -> None:
    with pytest.raises(HandpriorInputError, match="does not exist"):
        Refiner.from_checkpoint(tmp_path / "absent.ckpt")
    (tmp_path / "empty.ckpt").write_bytes(b"")
    with pytest.raises(HandpriorInputError, match="is empty"):
        Refiner.from_checkpoint(tmp_path / "empty.ckpt")
    (tmp_path / "cut.ckpt").write_bytes(checkpoint.read_bytes()[:5000])
    with pytest.raises(HandpriorInputError, match="truncated or corrupt"):
        Refiner.from_checkpoint(tmp_path / "cut.ckpt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "plain.ckpt")
    with pytest.raises(HandpriorInputError, match="not a Lightning checkpoint"):
        Refiner.from_checkpoint(tmp_path / "plain.ckpt")


def test_a_missing_mano_model_says_where_it_looked(tmp_path: Path, make_checkpoint, hand) -> None:
    path = make_checkpoint(tmp_path / "official.ckpt", mano_model_path=str(tmp_path / "mano"))
    refiner = Refiner.from_checkpoint(path, device="cpu")  # the model loads; MANO is only needed for meshes
    with pytest.raises(HandpriorInputError) as info:
        refiner.refine(hand(30), mano=True)
    message = str(info.value)
    assert str(tmp_path / "mano") in message and "mano.is.tue.mpg.de" in message
    assert "handprior mano convert" in message and "--mano_model" in message
