"""Units and missing frames of a user's joints."""

from __future__ import annotations

import numpy as np
import pytest

from handprior.errors import HandpriorInputError
from handprior.inference.preprocess import fill_gaps, gap_runs, infer_units, median_bone, resolve_units


def _hand(frames: int = 40, bone_mm: float = 90.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    joints = rng.normal(0, 30, (frames, 21, 3)) + np.array([0.0, 0.0, 400.0])
    joints[:, 9] = joints[:, 0] + np.array([0.0, bone_mm, 0.0])  # wrist -> middle MCP
    return joints


def test_units_are_detected_from_the_bone_length() -> None:
    hand = _hand()
    assert median_bone(hand) == pytest.approx(90.0)
    assert resolve_units(hand, "auto")[0] == "mm" and resolve_units(hand / 1000, "auto")[0] == "m"
    units, message = resolve_units(hand / 1000, "auto")
    assert "detected m" in message and "0.09" in message
    assert infer_units(9.0) is None  # centimetres


@pytest.mark.parametrize("stated, scale, says", [("mm", 1e-3, "look like m"), ("m", 1.0, "look like mm")])
def test_stated_units_that_contradict_the_bones_are_refused(stated: str, scale: float, says: str) -> None:
    with pytest.raises(HandpriorInputError, match=f"declared in {stated} but {says}.*--units"):
        resolve_units(_hand() * scale, stated, "seq.csv")


def test_units_that_fit_nothing_are_refused() -> None:
    with pytest.raises(HandpriorInputError, match="cannot tell the units.*centimetres"):
        resolve_units(_hand() / 10, "auto")
    with pytest.raises(HandpriorInputError, match="'mm', 'm' or 'auto'"):
        resolve_units(_hand(), "cm")


def test_gaps_are_filled_linearly_up_to_the_limit() -> None:
    hand = _hand()
    holed = hand.copy()
    holed[10:12] = np.nan  # a 2-frame gap inside
    holed[0, 3, 1] = np.inf  # one bad coordinate at the start
    assert gap_runs(np.isnan(holed).any(axis=(1, 2)) | np.isinf(holed).any(axis=(1, 2))) == [(0, 1), (10, 12)]
    filled, mask, message = fill_gaps(holed, 2)
    assert mask.sum() == 3 and "3 missing frames in 2 gaps" in message
    np.testing.assert_allclose(filled[10], hand[9] + (hand[12] - hand[9]) / 3)
    np.testing.assert_allclose(filled[11], hand[9] + 2 * (hand[12] - hand[9]) / 3)
    np.testing.assert_allclose(filled[0], hand[1])  # the end holds its valid neighbour
    assert np.isfinite(filled).all()
    untouched, none, no_message = fill_gaps(hand, 2)
    assert untouched is hand and not none.any() and no_message is None


def test_gaps_that_cannot_be_filled_are_named() -> None:
    holed = _hand()
    holed[5:9] = np.nan
    with pytest.raises(HandpriorInputError, match=r"NaN/inf in 4 frames \(first: \[5, 6, 7, 8\]\).*--interpolate_gaps"):
        fill_gaps(holed, 0)
    with pytest.raises(HandpriorInputError, match=r"longer than --interpolate_gaps 3: 5-8 \(4 frames\)"):
        fill_gaps(holed, 3)
    with pytest.raises(HandpriorInputError, match="every frame"):
        fill_gaps(np.full((4, 21, 3), np.nan), 10)
