"""The simulator's error terms by name, and a profile with some of them removed exactly (for the benchmark's
ceiling: what error is left when a term is gone).

A term is removed by setting its size to zero, not by skipping its draws: every random number is still drawn in
the same order, so the other terms are exactly the ones of the full simulation with the same seed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from handprior.data.synthetic.noise import NoiseProfile

# Term name -> the NoiseProfile sizes that make it (noise.py's docstring lists the terms in the order applied).
TERMS: dict[str, tuple[str, ...]] = {
    "slow bias": ("bias_mm",),
    "wobble": ("wobble_mm",),
    "bone length": ("bone_length_std",),
    "occlusion bursts": ("occlusion_deg",),
    "depth": ("depth_std",),
    "scale": ("scale_std",),
    "gross failures": ("gross_deg",),
    "jitter": ("jitter_mm",),
    "root position": ("root_mm",),
}
BIAS = "slow bias"


def without(profile: NoiseProfile, terms: Iterable[str]) -> NoiseProfile:
    """``profile`` with the named terms (keys of :data:`TERMS`) set to zero size, every draw kept."""
    sizes: dict[str, float] = {}
    for term in terms:
        if term not in TERMS:
            raise ValueError(f"unknown error term {term!r}; terms: {', '.join(TERMS)}")
        sizes.update(dict.fromkeys(TERMS[term], 0.0))
    return replace(profile, **sizes)
