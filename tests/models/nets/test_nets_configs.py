"""Every shipped ablation/size fragment names real HandPriorNet arguments and builds a working network."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
import yaml

from handprior.models.nets import HandPriorNet

CONFIGS = Path(__file__).parents[3] / "configs"
ABLATIONS = sorted((CONFIGS / "ablations").glob("*.yaml"))
TINY = dict(seq_len=9, dim=16, depth=2, num_heads=2, dim_rep=8, dtc_groups=2, dtc_kernel=4)


def init_args(path: Path) -> dict:
    cfg = yaml.safe_load(path.read_text())
    assert set(cfg) == {"model"} and set(cfg["model"]) == {"net"} and set(cfg["model"]["net"]) == {"init_args"}
    return cfg["model"]["net"]["init_args"]


def test_one_file_per_table_row() -> None:
    counts = {t: sum(p.name.startswith(t) for p in ABLATIONS) for t in ("t1_", "t2_", "t3_")}
    assert counts == {"t1_": 7, "t2_": 6, "t3_": 6}
    readme = (CONFIGS / "ablations" / "README.md").read_text()
    assert all(f"`{p.name}`" in readme for p in ABLATIONS)


@pytest.mark.parametrize("path", ABLATIONS, ids=lambda p: p.stem)
def test_ablation_builds(path: Path) -> None:
    args = init_args(path)
    net = HandPriorNet(**{**args, **TINY})
    out = net(torch.randn(1, 9, 21, 3))
    assert out.joints.shape == (1, 9, 21, 3)


def test_rows_differ_from_each_other() -> None:
    defaults = {name: p.default for name, p in inspect.signature(HandPriorNet).parameters.items()}
    seen = {}
    for path in ABLATIONS:
        key = tuple(sorted({**defaults, **init_args(path)}.items()))
        seen.setdefault(key, []).append(path.stem)
    duplicates = [names for names in seen.values() if len(names) > 1]
    assert duplicates == [["t1_dynamic_dual", "t2_none"]]  # the same network closes Table 1 and opens Table 2


def test_paper_size_names_real_arguments() -> None:
    cfg = yaml.safe_load((CONFIGS / "paper.yaml").read_text())
    assert cfg["trainer"]["max_epochs"] == 50 and cfg["model"]["lr"] == 1e-4 and cfg["data"]["init_args"]["batch_size"] == 64
    args = cfg["model"]["net"]["init_args"]
    assert args == {"dim": 512, "depth": 5, "num_heads": 8, "dim_rep": 512, "dtc_kernel": 8, "dtc_groups": 8}
    inspect.signature(HandPriorNet).bind(**args)
