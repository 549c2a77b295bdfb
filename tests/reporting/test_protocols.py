"""Evaluation settings of the protocols script: strides, the seamless blend, and scoring at each."""

import pytest
import torch

from experiments.bench.protocols import settings
from handprior.data.datasets import SequenceDataset
from handprior.data.store import SequenceStore
from handprior.data.synthetic.generate import generate_split
from handprior.inference.model import RefinementModel
from handprior.metrics.modules import sequence_scores
from handprior.models.checkpoint import build_net
from handprior.reporting.tune import score

NET = {"class_path": "handprior.models.nets.HandPriorNet", "init_args": {"dim": 16, "depth": 1, "num_heads": 2}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    generate_split(root, "test", 2, (60, 70), seed=5, profile="weak")
    return SequenceStore.open(root / "test")


def test_settings_list_each_stride_and_the_seamless_blend():
    model = RefinementModel(torch.nn.Identity(), window=27)
    assert settings(model, [27, 9], seamless=False) == {"eval_stride=27": (27, 0), "eval_stride=9": (9, 0)}
    assert settings(model, [27], seamless=True) == {"eval_stride=27": (27, 0), "seamless": (9, 13)}


def test_score_refines_at_the_given_stride_and_taper(store):
    torch.manual_seed(0)
    model = RefinementModel(build_net(NET).eval(), window=27)
    blended = score(model, store, stride=9, taper=13)
    expected = sequence_scores(
        (model.refine_sequence(item["pred"], 9, 13)["joints"], item["gt"], None) for item in SequenceDataset(store)
    )
    assert blended == pytest.approx(expected, abs=1e-6)
    assert blended["accel"] != pytest.approx(score(model, store, stride=27)["accel"], abs=1e-4)
