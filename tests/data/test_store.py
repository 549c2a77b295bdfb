import json

import numpy as np
import pytest

from handprior.data.store import SequenceStore, write_store
from handprior.errors import HandpriorInputError


def _arrays(n=60):
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(n, 21, 3)).astype(np.float32) * 50
    return gt + 1, gt, np.array([0, 25, n])


def test_write_then_open_is_memory_mapped_and_equal(tmp_path):
    pred, gt, starts = _arrays()
    write_store(tmp_path / "s", pred, gt, starts, {"dataset": "t", "sides": ["right", "left"]},
                gt_theta=np.zeros((60, 48)), gt_beta=np.zeros((60, 10)))  # fmt: skip
    store = SequenceStore.open(tmp_path / "s")
    assert isinstance(store.pred, np.memmap)
    assert np.array_equal(store.pred, pred) and np.array_equal(store.gt, gt)
    assert store.num_sequences == 2 and store.num_frames == 60 and store.has_mano
    assert store.lengths.tolist() == [25, 35] and store.sequence(1) == slice(25, 60)
    assert store.meta["units"] == "mm" and store.meta["num_frames"] == 60
    assert not list((tmp_path / "s").glob(".*tmp*"))


def test_write_rejects_non_finite_values(tmp_path):
    pred, gt, starts = _arrays()
    pred[3, 2, 1] = np.nan
    with pytest.raises(HandpriorInputError, match="non-finite values in 1 frames"):
        write_store(tmp_path / "s", pred, gt, starts, {})


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda root: (root / "gt.npy").unlink(), "missing gt.npy"),
        (lambda root: (root / "pred.npy").write_bytes((root / "pred.npy").read_bytes()[:100]), "truncated"),
        (lambda root: np.save(root / "offsets.npy", np.array([0, 30, 20])), "rise strictly from 0"),
        (lambda root: np.save(root / "offsets.npy", np.array([0, 70])), "to the frame count 60"),
        (lambda root: np.save(root / "gt.npy", np.zeros((60, 16, 3), np.float32)), r"expected shape \(N,21,3\)"),
        (lambda root: (root / "meta.json").write_text("{not json"), "not valid JSON"),
        (lambda root: (root / "meta.json").write_text(json.dumps({"units": "m"})), "units must be mm"),
    ],
)
def test_open_names_the_problem(tmp_path, damage, message):
    pred, gt, starts = _arrays()
    write_store(tmp_path / "s", pred, gt, starts, {})
    damage(tmp_path / "s")
    with pytest.raises(HandpriorInputError, match=message) as info:
        SequenceStore.open(tmp_path / "s")
    assert str(tmp_path / "s") in str(info.value)


def test_missing_folder_says_run_prepare(tmp_path):
    with pytest.raises(HandpriorInputError, match="handprior prepare"):
        SequenceStore.open(tmp_path / "nope")


def test_a_store_of_an_earlier_version_opens(tmp_path):
    pred, gt, starts = _arrays()
    write_store(tmp_path / "s", pred, gt, starts, {})
    (tmp_path / "s" / "offsets.npy").rename(tmp_path / "s" / "seq_starts.npy")  # the earlier name
    store = SequenceStore.open(tmp_path / "s")
    assert store.offsets.tolist() == list(starts) and store.num_sequences == len(starts) - 1


def test_validity_mask_is_optional_written_opened_and_checked(tmp_path):
    pred, gt, starts = _arrays()
    valid = np.ones((60, 21), dtype=bool)
    valid[3, 7] = False
    write_store(tmp_path / "s", pred, gt, starts, {}, valid=valid)
    store = SequenceStore.open(tmp_path / "s")
    assert isinstance(store.valid, np.memmap) and np.array_equal(store.valid, valid)
    write_store(tmp_path / "s", pred, gt, starts, {})  # rewritten without a mask: the old one must not survive
    assert SequenceStore.open(tmp_path / "s").valid is None and not (tmp_path / "s" / "valid.npy").exists()
    with pytest.raises(HandpriorInputError, match=r"valid must be \(N,21\) bool"):
        write_store(tmp_path / "t", pred, gt, starts, {}, valid=valid[:, :20])
    np.save(tmp_path / "s" / "valid.npy", valid[:50])
    with pytest.raises(HandpriorInputError, match="valid has 50 frames but pred has 60") as error:
        SequenceStore.open(tmp_path / "s")
    assert "valid.npy" in str(error.value)
    np.save(tmp_path / "s" / "valid.npy", valid.astype(np.float32))
    with pytest.raises(HandpriorInputError, match="must be a boolean array"):
        SequenceStore.open(tmp_path / "s")
