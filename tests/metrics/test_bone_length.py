"""Bone-length consistency (issue #22, item 2): the pure function, the torchmetrics class, the refiner's test and
validation metrics, the printed results table and the bench tables."""

from __future__ import annotations

import io

import pytest
import torch
from rich.console import Console

from handprior.body.joints import BONES
from handprior.lightning_cli import print_results_table
from handprior.metrics.functional import bone_length_variation, bone_lengths
from handprior.metrics.modules import BoneLengthVariation
from handprior.models.checkpoint import build_net
from handprior.models.refiner import HandRefiner
from handprior.reporting.rows import ResultRow
from handprior.reporting.table import summarize, to_markdown

NET = {
    "class_path": "handprior.models.nets.HandPriorNet",
    "init_args": {"dim": 8, "depth": 1, "num_heads": 1, "dim_rep": 8},
}


def _skeleton(frames: int = 30) -> torch.Tensor:
    """A rigid hand moving and turning: (frames,21,3) mm, every bone of constant length."""
    torch.manual_seed(0)
    pose = torch.randn(21, 3) * 30
    angle = torch.linspace(0, 1, frames)
    rotation = torch.zeros(frames, 3, 3)
    rotation[:, 0, 0], rotation[:, 0, 1], rotation[:, 1, 0], rotation[:, 1, 1] = (
        angle.cos(), -angle.sin(), angle.sin(), angle.cos())  # fmt: skip
    rotation[:, 2, 2] = 1
    return torch.einsum("tij,nj->tni", rotation, pose) + torch.randn(frames, 1, 3) * 5


def test_a_rigid_hand_has_no_variation_and_a_stretched_bone_its_coefficient_of_variation() -> None:
    joints = _skeleton()
    assert bone_lengths(joints).shape == (30, len(BONES)) == (30, 20)
    assert float(bone_length_variation(joints).abs().max()) < 1e-6
    stretched = joints.clone().double()
    factor = torch.tensor([0.9, 1.1]).repeat(15).double()  # the pinky tip bone alternates +-10 %
    stretched[:, 20] = stretched[:, 19] + (stretched[:, 20] - stretched[:, 19]) * factor[:, None]
    variation = bone_length_variation(stretched)
    assert float(variation[-1]) == pytest.approx(0.1, rel=1e-6) and float(variation[:-1].abs().max()) < 1e-6


def test_the_metric_averages_bones_and_sequences_in_percent_and_merges_by_summing() -> None:
    first, second = _skeleton(), _skeleton(20) + torch.randn(20, 21, 3)
    expected = 100 * torch.cat([bone_length_variation(first), bone_length_variation(second)]).mean()
    metric = BoneLengthVariation()
    metric.update(first)
    metric.update(second)
    assert float(metric.compute()) == pytest.approx(float(expected), rel=1e-5)
    one, other = BoneLengthVariation(), BoneLengthVariation()  # two processes' shares, reduced by summing
    one.update(first)
    other.update(second)
    one.merge_state(other)
    assert float(one.compute()) == pytest.approx(float(expected), rel=1e-5)


def test_the_refiner_scores_input_and_refined_bone_lengths() -> None:
    model = HandRefiner(net=build_net(NET)).eval()
    gt = _skeleton(40)
    pred = gt + torch.randn_like(gt) * 3
    refined = model._evaluate({"pred": pred, "gt": gt, "has_mano": False}, "test")
    metrics = model.metrics["test"]
    assert float(metrics["input_bone_cv"].compute()) == pytest.approx(
        100 * float(bone_length_variation(pred).mean()), rel=1e-5
    )
    assert float(metrics["bone_cv"].compute()) == pytest.approx(
        100 * float(bone_length_variation(refined["joints"]).mean()), rel=1e-5
    )


def test_tables_show_the_bone_length_column() -> None:
    buffer = io.StringIO()
    metrics = {"test/mpjpe": 9.5, "test/accel": 1.8, "test/bone_cv": 2.25, "test/input_mpjpe": 10.1,
               "test/input_accel": 6.8, "test/input_bone_cv": 7.75}  # fmt: skip
    print_results_table(metrics, "test", Console(file=buffer, width=200))
    text = buffer.getvalue()
    assert "Bone CV %" in text and "2.25" in text and "7.75" in text
    row = dict(timestamp="t", run_id="r", group="g", seed="0", dataset="synthetic", split="test", config="", git_sha="")
    rows = [ResultRow(method="ours", metric="bone_cv", value=2.5, unit="%", **row),
            ResultRow(method="input", metric="bone_cv", value=8.0, unit="%", **row)]  # fmt: skip
    markdown = to_markdown(summarize(rows))
    assert "Bone CV %" in markdown.splitlines()[0] and "| 2.50 |" in markdown and "| 8.00 |" in markdown
