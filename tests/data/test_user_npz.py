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
