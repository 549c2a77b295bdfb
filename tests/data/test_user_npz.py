import numpy as np
import pytest

from handprior.data.user_npz import load_user_npz
from handprior.errors import HandpriorInputError


def _hand(n):
    rng = np.random.default_rng(1)
    joints = rng.normal(size=(n, 21, 3)) * 30
    joints[:, 9] = joints[:, 0] + [0, 95, 0]  # a realistic wrist - middle MCP bone in mm
    return joints


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_valid_file_becomes_a_store(tmp_path):
    j = _hand(50)
    path = _write(tmp_path / "u.npz", joints=j, pred=j + 1, offsets=np.array([0, 20, 50]), names=np.array(["a", "b"]), fps=60)
    store = load_user_npz(path)
    assert store.num_sequences == 2 and store.meta["names"] == ["a", "b"] and store.meta["fps"] == 60
    assert store.pred.dtype == np.float32


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.pop("offsets"), "missing keys"),
        (lambda a: a.update(extra=np.zeros(2)), "unknown keys"),
        (lambda a: a.update(pred=a["pred"][:, :16]), r"shape \(N,21,3\)"),
        (lambda a: a.update(pred=a["pred"][0]), r"shape \(N,21,3\)"),
        (lambda a: a["pred"].__setitem__((3, 0, 0), np.inf), "NaN/inf in 1 frames"),
        (lambda a: a.update(pred=a["pred"] / 1000), "looks like metres"),
        (lambda a: a.update(offsets=np.array([0, 60])), "rise strictly"),
        (lambda a: a.update(offsets=np.array([0.0, 50.0])), "integer"),
        (lambda a: a.update(pred=a["pred"][:40]), "40"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path, change, message):
    j = _hand(50)
    arrays = {"joints": j, "pred": j + 1.0, "offsets": np.array([0, 50])}
    change(arrays)
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(HandpriorInputError, match=message) as info:
        load_user_npz(path)
    assert "bad.npz" in str(info.value)


def test_empty_truncated_and_pickled_files(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(HandpriorInputError, match="empty"):
        load_user_npz(tmp_path / "empty.npz")
    j = _hand(30)
    good = _write(tmp_path / "good.npz", joints=j, pred=j, offsets=np.array([0, 30]))
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[:200])
    with pytest.raises(HandpriorInputError, match="cut.npz"):
        load_user_npz(tmp_path / "cut.npz")
    _write(tmp_path / "obj.npz", joints=j, pred=j, offsets=np.array([0, 30]), names=np.array([{"a": 1}], dtype=object))
    with pytest.raises(HandpriorInputError, match="Python objects"):
        load_user_npz(tmp_path / "obj.npz")


def test_valid_marks_unannotated_joints_which_may_be_nan(tmp_path):
    j = _hand(30)
    valid = np.ones((30, 21), dtype=bool)
    valid[4, 7] = valid[10, 9] = False
    joints = j.copy()
    joints[~valid] = np.nan
    store = load_user_npz(_write(tmp_path / "u.npz", joints=joints, pred=j + 1, offsets=np.array([0, 12, 30]),
                                 valid=valid.astype(np.uint8)))  # fmt: skip
    assert np.array_equal(store.valid, valid) and np.isfinite(store.gt).all()
    assert np.allclose(store.gt[valid], j[valid], atol=1e-4)
    every = load_user_npz(_write(tmp_path / "v.npz", joints=j, pred=j, offsets=np.array([0, 30]), valid=np.ones((30, 21), bool)))
    assert every.valid is None  # all valid: no mask
    with pytest.raises(HandpriorInputError, match="marks the wrist invalid in 1 frames") as error:
        valid[3, 0] = False
        load_user_npz(_write(tmp_path / "w.npz", joints=joints, pred=j, offsets=np.array([0, 30]), valid=valid))
    assert "w.npz" in str(error.value)
    with pytest.raises(HandpriorInputError, match=r"'valid' must have shape \(N,21\)"):
        load_user_npz(_write(tmp_path / "x.npz", joints=j, pred=j, offsets=np.array([0, 30]), valid=valid[:, :20]))
    with pytest.raises(HandpriorInputError, match="bool or integers 0/1"):
        load_user_npz(_write(tmp_path / "y.npz", joints=j, pred=j, offsets=np.array([0, 30]), valid=valid * 2.0))
