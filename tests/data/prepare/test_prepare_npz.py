"""The generic .npz route: validation (shapes, NaN/inf, units, offsets), drops, simulation, mirroring."""

import numpy as np
import pytest
from official_fixtures import hand_motion

from handprior.body.joints import mirror_x
from handprior.data.prepare.commands import prepare_user_npz
from handprior.data.prepare.npz import prepare_npz
from handprior.data.store import SequenceStore
from handprior.errors import HandpriorInputError


def _arrays(n=(20, 15)):
    rng = np.random.default_rng(3)
    joints = np.concatenate([hand_motion(rng, k) for k in n])
    return {"joints": joints, "pred": joints + rng.normal(0, 3, joints.shape), "offsets": np.array([0, n[0], sum(n)])}


def test_valid_file_with_a_nan_frame_and_a_left_hand(tmp_path):
    arrays = _arrays()
    arrays["pred"][5] = np.nan
    arrays.update(names=np.array(["a", "b"]), sides=np.array(["right", "left"]), fps=np.array(25.0))
    np.savez(tmp_path / "mine.npz", **arrays)
    summary = prepare_npz(tmp_path / "mine.npz", tmp_path / "out", split="train")
    store = SequenceStore.open(tmp_path / "out" / "train")
    assert store.lengths.tolist() == [5, 14, 15] and store.meta["names"] == ["a@0", "a@6", "b"]
    assert summary["splits"]["train"]["dropped"] == {"prediction not finite": 1}
    assert store.meta["fps"] == 25.0 and store.meta["sides"] == ["right", "right", "left"]
    assert np.allclose(store.gt[19:], mirror_x(arrays["joints"][20:]), atol=1e-3)
    assert np.allclose(store.pred[:5], arrays["pred"][:5], atol=1e-3)


def test_metres_are_detected_or_converted_when_declared(tmp_path):
    arrays = _arrays()
    metres = {key: value / 1000 if key != "offsets" else value for key, value in arrays.items()}
    np.savez(tmp_path / "m.npz", **metres)
    with pytest.raises(HandpriorInputError, match=r"m.npz: 'joints' declared in 'mm'.*metres"):
        prepare_npz(tmp_path / "m.npz", tmp_path / "out")
    np.savez(tmp_path / "m.npz", **metres, units=np.array("m"))
    prepare_npz(tmp_path / "m.npz", tmp_path / "out")
    assert np.allclose(SequenceStore.open(tmp_path / "out" / "test").gt, arrays["joints"], atol=1e-3)


def test_missing_pred_is_simulated_and_said_so(tmp_path):
    arrays = _arrays()
    del arrays["pred"]
    np.savez(tmp_path / "gt_only.npz", **arrays)
    prepare_user_npz(input=str(tmp_path / "gt_only.npz"), out=str(tmp_path / "out"), profile="weak", seed=3)
    meta = SequenceStore.open(tmp_path / "out" / "test").meta
    assert meta["predictions"] == {"simulated": True, "profile": "weak", "seed": 3, "root_relative": False}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"offsets": np.array([0, 20, 30])}, "rise strictly from 0 to the frame count 35"),
        ({"offsets": np.array([0.0, 20.0, 35.0])}, "1-D integer"),
        ({"offsets": np.array([0, 0, 35])}, "no empty sequences"),
        ({"joints": np.zeros((35, 20, 3))}, r"'joints' must have shape \(N,21,3\)"),
        ({"pred": np.zeros((34, 21, 3)) + 100}, "'pred' has 34"),
        ({"names": np.array(["a"])}, "'names' has 1 entries, expected 2"),
        ({"sides": np.array(["right", "up"])}, "'right' or 'left'"),
        ({"units": np.array("cm")}, "'units' must be 'mm' or 'm'"),
        ({"extra": np.zeros(3)}, "unknown keys"),
        ({"gt_theta": np.zeros((35, 48))}, "together"),
    ],
)
def test_bad_files_raise_errors_that_name_the_file(tmp_path, change, message):
    np.savez(tmp_path / "bad.npz", **{**_arrays(), **change})
    with pytest.raises(HandpriorInputError, match=message) as error:
        prepare_npz(tmp_path / "bad.npz", tmp_path / "out")
    assert "bad.npz" in str(error.value)


def test_all_frames_invalid_and_unreadable_files(tmp_path):
    arrays = _arrays()
    arrays["joints"][:] = np.inf
    np.savez(tmp_path / "inf.npz", **arrays)
    with pytest.raises(HandpriorInputError, match="no frame left.*ground truth not finite"):
        prepare_npz(tmp_path / "inf.npz", tmp_path / "out")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(HandpriorInputError, match="broken.npz: not a valid .npz"):
        prepare_npz(tmp_path / "broken.npz", tmp_path / "out")
    np.savez(tmp_path / "obj.npz", joints=np.array([object()], dtype=object))
    with pytest.raises(HandpriorInputError, match="pickled"):
        prepare_npz(tmp_path / "obj.npz", tmp_path / "out")


def test_valid_keeps_partly_annotated_frames_and_drops_those_without_a_wrist(tmp_path):
    arrays = _arrays()
    valid = np.ones((35, 21), dtype=bool)
    valid[3, [8, 12]] = False  # two joints of frame 3
    valid[25, 16] = False  # sequence b (a left hand), its first frame 5
    valid[10, 0] = False  # no wrist: frame 10 is dropped
    arrays["joints"][~valid] = np.nan
    arrays.update(valid=valid, sides=np.array(["right", "left"]))
    np.savez(tmp_path / "mine.npz", **arrays)
    summary = prepare_npz(tmp_path / "mine.npz", tmp_path / "out", split="test")
    report = summary["splits"]["test"]
    assert report["dropped"] == {"invalid wrist": 1}
    assert report["masked"] == {"joint marked invalid": {"frames": 2, "joints": 3}}
    store = SequenceStore.open(tmp_path / "out" / "test")
    assert store.lengths.tolist() == [10, 9, 15] and np.isfinite(store.gt).all()
    assert (~store.valid).sum() == 3 and not store.valid[3, 8] and not store.valid[19 + 5, 16]
