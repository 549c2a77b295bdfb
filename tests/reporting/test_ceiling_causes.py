"""The ceiling (terms removed exactly from a stored split) and the error by cause (the stored masks)."""

import pytest

from experiments.bench.causes import cause_weights, errors_by_cause
from experiments.bench.ceiling import ceiling
from handprior.data.store import SequenceStore
from handprior.data.synthetic.generate import generate_split
from handprior.inference.model import RefinementModel
from handprior.models.filters import Gaussian1d


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    generate_split(root, "test", 3, (120, 150), seed=4, profile="weak")
    return SequenceStore.open(root / "test")


def test_ceiling_resimulates_the_stored_input_and_the_floor_is_lower(store):
    scenarios = ceiling(store, "test")
    base, floor = scenarios["input (every term)"], scenarios["slow bias only (the floor)"]
    assert 0 < floor["mpjpe"] < base["mpjpe"] and floor["accel"] < 0.2 * base["accel"]
    assert scenarios["without root position"] == pytest.approx(base, abs=1e-4)  # the metrics align the wrist
    # Removing a term never adds error beyond the interaction of the metric's scale alignment with the other terms
    # (0.002 mm for the global scale term here, which the alignment already removes almost entirely).
    assert all(v["mpjpe"] <= base["mpjpe"] + 0.01 for v in scenarios.values())


def test_errors_by_cause_split_the_joint_frames(store):
    weights = cause_weights(store)
    assert weights["all"].all() and not (weights["rest"] & weights["gross failures"]).any()
    assert not (weights["rest"] & weights["occluded fingers"]).any()
    assert weights["gross failures"].any() and weights["occluded fingers"].any()
    raw = errors_by_cause(None, store)
    assert raw["gross failures"] > 2 * raw["rest"] and raw["occluded fingers"] > raw["rest"]
    smoothed = errors_by_cause(RefinementModel(Gaussian1d(3.0)), store)
    assert smoothed["gross failures"] < raw["gross failures"]
    shares = {cause: mask.sum() for cause, mask in weights.items()}
    assert shares["rest"] + shares["gross failures"] <= shares["all"]
