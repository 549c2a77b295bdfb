"""The simulator's masks (occlusion bursts per finger, gross failures) and its terms removed exactly: the
predictions themselves are unchanged, the masks mark where the terms act, and they travel with the store."""

import hashlib

import numpy as np
import pytest

from handprior.data.store import SequenceStore, write_store
from handprior.data.synthetic.noise import FINGER_CHAINS, PROFILES, simulate, simulate_with_masks
from handprior.data.synthetic.terms import BIAS, TERMS, without
from handprior.metrics.functional import root_relative

# sha256 (first 32 hex digits) of the predictions rounded to 1e-9 mm, for fixed_truth() and default_rng(7),
# computed with the simulator as it was before the masks were recorded: the masks must not change a value.
FINGERPRINTS = {
    "strong": "5e3c7f66ad6845b529e59a16f48a5c39",
    "interwild": "3c5ab68cad62e062fedac2f68afe5d2c",
    "weak": "82821dac486c13f76f7bee9a285b7073",
}


def fixed_truth() -> tuple[np.ndarray, np.ndarray]:
    """Ground truth that does not depend on the motion generator: (700,21,3) mm in two sequences."""
    rng = np.random.default_rng(1234)
    rest = rng.normal(scale=30.0, size=(1, 21, 3))
    t = np.arange(700)[:, None, None] / 30.0
    gt = rest + 10.0 * np.sin(2 * np.pi * 0.7 * t + rng.normal(size=(1, 21, 3))) + np.array([0.0, 0.0, 500.0])
    return gt, np.array([0, 250, 700])


@pytest.mark.parametrize("name", list(PROFILES))
def test_simulated_predictions_for_a_fixed_seed_are_unchanged(name):
    gt, offsets = fixed_truth()
    pred = simulate(gt, offsets, PROFILES[name], np.random.default_rng(7))
    assert hashlib.sha256(np.round(pred, 9).tobytes()).hexdigest()[:32] == FINGERPRINTS[name]
    with_masks, _ = simulate_with_masks(gt, offsets, PROFILES[name], np.random.default_rng(7))
    np.testing.assert_array_equal(with_masks, pred)


def test_masks_mark_exactly_the_frames_the_rare_terms_change():
    gt, offsets = fixed_truth()
    profile = PROFILES["weak"]
    pred, masks = simulate_with_masks(gt, offsets, profile, np.random.default_rng(3))
    assert masks["occluded"].shape == (700, 5) and masks["gross"].shape == (700,)
    assert masks["occluded"].any() and masks["gross"].any() and not masks["occluded"].all()
    calm, _ = simulate_with_masks(gt, offsets, without(profile, ["occlusion bursts"]), np.random.default_rng(3))
    changed = np.abs(root_relative(pred) - root_relative(calm)).max(axis=-1) > 1e-9  # (N,21)
    for finger, chain in enumerate(FINGER_CHAINS):
        np.testing.assert_array_equal(changed[:, list(chain[1:])].any(axis=1), masks["occluded"][:, finger])
    steady, _ = simulate_with_masks(gt, offsets, without(profile, ["gross failures"]), np.random.default_rng(3))
    moved = np.abs(root_relative(pred) - root_relative(steady)).max(axis=(1, 2)) > 1e-9
    np.testing.assert_array_equal(moved, masks["gross"])


def test_removing_terms_keeps_the_others_exactly():
    gt, offsets = fixed_truth()
    profile = PROFILES["interwild"]
    np.testing.assert_allclose(simulate(gt, offsets, without(profile, TERMS), np.random.default_rng(5)), gt, atol=1e-9)
    np.testing.assert_array_equal(
        simulate(gt, offsets, without(profile, []), np.random.default_rng(5)),
        simulate(gt, offsets, profile, np.random.default_rng(5)),
    )
    # Removing the jitter removes a white per-joint term of the profile's size and nothing else.
    full = root_relative(simulate(gt, offsets, profile, np.random.default_rng(5)))
    calm = root_relative(simulate(gt, offsets, without(profile, ["jitter"]), np.random.default_rng(5)))
    difference = (full - calm)[:, 1:]  # (N,20,3) the wrist's own jitter is subtracted from every joint
    assert 0.8 * profile.jitter_mm * np.sqrt(2) < difference.std() < 1.2 * profile.jitter_mm * np.sqrt(2)
    only_bias = [term for term in TERMS if term != BIAS]
    assert without(profile, only_bias).bias_mm == profile.bias_mm and without(profile, only_bias).wobble_mm == 0
    with pytest.raises(ValueError, match="unknown error term"):
        without(profile, ["blur"])


def test_masks_are_stored_with_the_split(tmp_path):
    gt, offsets = fixed_truth()
    pred, masks = simulate_with_masks(gt, offsets, PROFILES["interwild"], np.random.default_rng(0))
    write_store(tmp_path / "s", pred, gt, offsets, {"dataset": "t"}, masks=masks)
    store = SequenceStore.open(tmp_path / "s")
    assert set(store.masks) == {"occluded", "gross"}
    np.testing.assert_array_equal(store.masks["occluded"], masks["occluded"])
    np.testing.assert_array_equal(store.masks["gross"], masks["gross"])
    write_store(tmp_path / "plain", pred, gt, offsets, {"dataset": "t"})
    assert SequenceStore.open(tmp_path / "plain").masks == {}
    np.save(tmp_path / "s" / "mask_gross.npy", np.ones(5, dtype=bool))
    with pytest.raises(Exception, match="mask 'gross' has 5 frames"):
        SequenceStore.open(tmp_path / "s")
