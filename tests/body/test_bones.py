"""One skeleton per sequence: bones out and back in are exact, fixed lengths keep directions and the wrist."""

import pytest
import torch

from handprior.body.bones import (
    bone_vectors,
    joints_from_bones,
    running_bone_lengths,
    sequence_bone_lengths,
    with_bone_lengths,
    with_running_bone_lengths,
    with_sequence_bone_lengths,
)
from handprior.inference.model import RefinementModel
from handprior.models.filters import Identity


def _hands(frames: int = 9, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.randn(frames, 21, 3, dtype=torch.float64) * 30 + torch.tensor([0.0, 0.0, 500.0], dtype=torch.float64)


def test_bones_out_and_back_in_are_exact():
    joints = _hands()
    rebuilt = joints_from_bones(bone_vectors(joints)) + joints[:, :1]
    torch.testing.assert_close(rebuilt, joints, rtol=0, atol=1e-9)


def test_fixed_lengths_keep_directions_and_the_wrist():
    joints = _hands()
    lengths = torch.linspace(20.0, 40.0, 20, dtype=torch.float64)
    fixed = with_bone_lengths(joints, lengths)
    bones, before = bone_vectors(fixed), bone_vectors(joints)
    torch.testing.assert_close(bones.norm(dim=-1), lengths.expand(9, -1), rtol=0, atol=1e-9)
    cosine = (bones * before).sum(-1) / (bones.norm(dim=-1) * before.norm(dim=-1))
    torch.testing.assert_close(cosine, torch.ones_like(cosine), rtol=0, atol=1e-12)
    torch.testing.assert_close(fixed[:, 0], joints[:, 0], rtol=0, atol=0)


def test_a_sequence_gets_its_median_bone_lengths():
    joints = _hands(frames=7)
    median = bone_vectors(joints).norm(dim=-1).median(dim=0).values
    torch.testing.assert_close(sequence_bone_lengths(joints), median)
    fixed = with_sequence_bone_lengths(joints)
    lengths = bone_vectors(fixed).norm(dim=-1)  # (7,20)
    assert lengths.std(dim=0).max() < 1e-9  # one skeleton for the whole sequence
    assert not torch.allclose(fixed, joints)


@pytest.mark.parametrize("bones", ["free", "sequence", "running"])
def test_the_refinement_model_applies_the_bone_mode_to_whole_sequences(bones):
    joints = _hands(frames=40).float()
    refined = RefinementModel(Identity(), window=27, bones=bones).refine_sequence(joints)["joints"]
    spread = bone_vectors(refined).norm(dim=-1).std(dim=0).max()
    if bones == "free":
        assert torch.allclose(refined, joints, atol=1e-4)
    elif bones == "sequence":
        assert spread < 1e-3
    else:
        torch.testing.assert_close(refined, with_running_bone_lengths(joints), rtol=0, atol=1e-4)


def test_an_unknown_bone_mode_is_refused():
    with pytest.raises(ValueError, match="bones must be one of free, sequence, running"):
        RefinementModel(Identity(), bones="rigid")


def test_running_bone_lengths_are_causal_means():
    joints = _hands(frames=6)
    running = running_bone_lengths(joints)  # (6,20)
    lengths = bone_vectors(joints).norm(dim=-1)
    for t in range(6):
        torch.testing.assert_close(running[t], lengths[: t + 1].mean(dim=0))
    later = joints.clone()
    later[4:] += 50 * torch.randn_like(later[4:])
    torch.testing.assert_close(with_running_bone_lengths(later)[:4], with_running_bone_lengths(joints)[:4])
