"""The built-in synthetic benchmark (docs/architecture.md, "Synthetic benchmark"): realistic right-hand motion
posed through MANO, and an estimator-noise simulator that turns its ground truth into single-frame predictions.

Modules: :mod:`.motion` (MANO parameters over time), :mod:`.articulation` (joint limits, synergies),
:mod:`.axes` (joint axes from a model's rest joints), :mod:`.noise` (the simulator and its profiles),
:mod:`.generate` (splits as sequence stores, cached), :mod:`.stats` (comparison with real statistics).
"""

from handprior.data.synthetic.generate import SPLITS, SyntheticConfig, ensure_synthetic, generate_split
from handprior.data.synthetic.motion import MotionConfig, sample_sequence
from handprior.data.synthetic.noise import PROFILES, NoiseProfile, get_profile, simulate

__all__ = [
    "PROFILES",
    "SPLITS",
    "MotionConfig",
    "NoiseProfile",
    "SyntheticConfig",
    "ensure_synthetic",
    "generate_split",
    "get_profile",
    "sample_sequence",
    "simulate",
]
