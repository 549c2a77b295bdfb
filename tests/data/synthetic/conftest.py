"""Shared ground truth for the synthetic-benchmark tests: one small sample posed through the stand-in MANO."""

import numpy as np
import pytest

from handprior.data.synthetic.generate import mano_layer, sample_ground_truth


@pytest.fixture(scope="session")
def mano():
    """The built-in stand-in right-hand model, flat-hand-mean convention."""
    return mano_layer()


@pytest.fixture(scope="session")
def truth(mano):
    """About 6,000 frames of generated motion: gt (N,21,3) mm, theta, beta, transl, offsets."""
    return sample_ground_truth(np.random.default_rng(2024), 24, (200, 300), mano)
