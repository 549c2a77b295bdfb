"""Split generation: the written store, seeds per split, the cache and atomic writes."""

import json

import numpy as np
import pytest
import torch

from handprior.data.store import SequenceStore
from handprior.data.synthetic import generate
from handprior.data.synthetic.generate import SyntheticConfig, ensure_synthetic, generate_split

TINY = SyntheticConfig(train_sequences=3, val_sequences=2, test_sequences=2, frames_range=(30, 45))


def _split(tmp_path, split="train", seed=0, profile="interwild", sub="a"):
    return SequenceStore.open(generate_split(tmp_path / sub, split, 3, (30, 45), seed, profile))


def test_generated_split_is_a_valid_store_with_mano_ground_truth(tmp_path, mano):
    store = _split(tmp_path)
    assert store.num_sequences == 3 and np.all((store.lengths >= 30) & (store.lengths <= 45))
    assert store.has_mano and store.gt_theta.shape == (store.num_frames, 48)
    meta = store.meta
    assert meta["dataset"] == "synthetic" and meta["estimator"] == "interwild"
    assert meta["simulated_predictions"] is True and meta["fps"] == 30.0
    assert meta["sides"] == ["right"] * 3 and meta["seed"] == 0 and meta["units"] == "mm"
    assert meta["generator"]["noise"]["name"] == "interwild" and "motion" in meta["generator"]
    for s in range(store.num_sequences):  # one hand shape per sequence
        beta = store.gt_beta[store.sequence(s)]
        np.testing.assert_array_equal(beta, np.broadcast_to(beta[0], beta.shape))
    # ground truth is MANO(gt_theta, gt_beta) up to the stored translation
    with torch.no_grad():
        joints = mano(torch.as_tensor(np.array(store.gt_theta)), torch.as_tensor(np.array(store.gt_beta)))[1].numpy()
    gt = np.asarray(store.gt)
    np.testing.assert_allclose(joints - joints[:, :1], gt - gt[:, :1], atol=1e-3)
    assert 200 < np.median(gt[:, 0, 2]) < 900  # in front of the camera, mm


def test_same_seed_same_data_and_splits_are_disjoint(tmp_path):
    a, b = _split(tmp_path, sub="a"), _split(tmp_path, sub="b")
    for key in ("pred", "gt", "gt_theta", "gt_beta", "offsets"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    test = _split(tmp_path, "test", sub="c")
    other_seed = _split(tmp_path, seed=1, sub="d")
    for other in (test, other_seed):
        shared = np.intersect1d(np.unique(a.gt_beta[:, 0]), np.unique(other.gt_beta[:, 0]))
        assert len(shared) == 0  # no hand shape, hence no sequence, in common
    states = {split: tuple(generate.split_seed(0, split).generate_state(4)) for split in generate.SPLITS}
    assert len(set(states.values())) == 3


def test_noise_profile_changes_predictions_but_not_ground_truth(tmp_path):
    a, b = _split(tmp_path, profile="interwild", sub="a"), _split(tmp_path, profile="weak", sub="b")
    np.testing.assert_array_equal(a.gt, b.gt)
    assert not np.allclose(a.pred, b.pred)
    assert b.meta["estimator"] == "weak"


def test_ensure_synthetic_reuses_the_cache_and_regenerates_on_config_change(tmp_path):
    paths = ensure_synthetic(tmp_path, TINY)
    assert set(paths) == {"train", "val", "test"}
    stamps = {split: (path / "pred.npy").stat().st_mtime_ns for split, path in paths.items()}
    digest = json.loads((paths["train"] / "meta.json").read_text())["config_hash"]
    assert digest == TINY.digest()

    ensure_synthetic(tmp_path, TINY)  # same config: nothing rewritten
    assert stamps == {split: (path / "pred.npy").stat().st_mtime_ns for split, path in paths.items()}

    changed = SyntheticConfig(**{**TINY.__dict__, "profile": "strong"})
    ensure_synthetic(tmp_path, changed)
    meta = json.loads((paths["val"] / "meta.json").read_text())
    assert meta["config_hash"] == changed.digest() != digest and meta["estimator"] == "strong"
    assert SequenceStore.open(paths["test"]).num_sequences == 2
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".") and p.name != ".generate.lock"]
    assert leftovers == []


def test_an_interrupted_generation_leaves_the_old_split_untouched(tmp_path, monkeypatch):
    paths = ensure_synthetic(tmp_path, TINY, splits=("val",))
    before = np.array(SequenceStore.open(paths["val"]).pred)

    def crash(root, *args, **kwargs):
        (root / "pred.npy").write_bytes(b"half")  # a partial write, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(generate, "write_store", crash)
    with pytest.raises(KeyboardInterrupt):
        ensure_synthetic(tmp_path, SyntheticConfig(**{**TINY.__dict__, "seed": 5}), splits=("val",))
    np.testing.assert_array_equal(SequenceStore.open(paths["val"]).pred, before)
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []
    assert not (tmp_path / "train").exists()


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown split"):
        generate_split(tmp_path, "dev", 1, (30, 40), 0)
    with pytest.raises(ValueError, match="at least 3 frames"):
        generate_split(tmp_path, "train", 1, (2, 2), 0)


def test_joint_poser_matches_the_full_mano_layer(mano):
    from handprior.data.synthetic.posing import JointPoser

    gen = torch.Generator().manual_seed(0)
    theta = 0.6 * torch.randn(64, 48, generator=gen)
    beta = torch.randn(64, 10, generator=gen)
    transl = 100 * torch.randn(64, 3, generator=gen)
    with torch.no_grad():
        expected = mano(theta, beta, transl)[1]
        got = JointPoser(mano)(theta, beta, transl)
    torch.testing.assert_close(got, expected, atol=1e-3, rtol=0)
