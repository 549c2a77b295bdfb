"""Every shipped ablation/size fragment names real HandPriorNet arguments and builds a working network; old flat
settings load from checkpoints (with a warning) and are refused in config files with one line."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import torch
import yaml

from handprior.errors import HandpriorInputError
from handprior.models.checkpoint import build_net
from handprior.models.nets import HandPriorNet
from handprior.models.nets.block_layout import LAYOUTS
from handprior.models.nets.config import JointDTCPlacement
from handprior.models.nets.handprior_net import typed_settings
from handprior.models.nets.legacy_args import main as convert
from handprior.models.nets.legacy_args import refuse_flat_settings, upgrade_flat_args

CONFIGS = Path(__file__).parents[3] / "configs"
ABLATIONS = sorted((CONFIGS / "ablations").glob("*.yaml"))
TINY = dict(seq_len=9, dim=16, depth=2, num_heads=2, dim_rep=8, dtc={"groups": 2, "kernel_size": 4})


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
    net = HandPriorNet(**typed_settings({**args, **TINY}))
    out = net(torch.randn(1, 9, 21, 3))
    assert out.joints.shape == (1, 9, 21, 3)


def resolved(args: dict) -> dict:
    """Every HandPriorNet setting, flat by dotted name, with ``args`` over the defaults."""
    defaults = {name: p.default for name, p in inspect.signature(HandPriorNet).parameters.items()}
    typed = {**defaults, **typed_settings(args)}
    flat = {}
    for name, value in typed.items():
        items = dataclasses.asdict(value).items() if dataclasses.is_dataclass(value) else [(None, value)]
        flat.update({name if field is None else f"{name}.{field}": v for field, v in items})
    return flat


def test_rows_differ_from_each_other() -> None:
    seen = {}
    for path in ABLATIONS:
        key = tuple(sorted(resolved(init_args(path)).items()))
        seen.setdefault(key, []).append(path.stem)
    duplicates = [names for names in seen.values() if len(names) > 1]
    assert duplicates == [["t1_dynamic_dual", "t2_none"]]  # the same network closes Table 1 and opens Table 2


def test_paper_size_names_real_arguments() -> None:
    cfg = yaml.safe_load((CONFIGS / "paper.yaml").read_text())
    assert (
        cfg["trainer"]["max_epochs"] == 50
        and cfg["model"]["lr"] == 1e-4
        and cfg["data"]["init_args"]["batch_size"] == 64
    )
    args = cfg["model"]["net"]["init_args"]
    assert args == {"dim": 512, "depth": 5, "num_heads": 8, "dim_rep": 512, "dtc": {"kernel_size": 8, "groups": 8}}
    inspect.signature(HandPriorNet).bind(**typed_settings(args))


def test_every_table1_placement_has_a_layout() -> None:
    assert set(LAYOUTS) == set(JointDTCPlacement.__args__)


# The full default network as checkpoints of before the typed settings store it, and a Table 2 row.
FLAT_DEFAULT = {
    "num_joints": 21, "seq_len": 27, "dim": 32, "depth": 2, "num_heads": 2, "mlp_ratio": 2.0, "dim_rep": 32,
    "joint_dtc": "dual", "dtc_groups": 2, "dtc_kernel": 8, "dtc_max_offset": 2.0, "dtc_formulation": "matrix",
    "hand_dtc_replaces_joint": False, "global_block": True, "global_attention": True, "global_dtc": True,
    "global_placement": "serial", "memory_tokens": 8, "memory_style": "prior", "beta_supervision": "final",
    "dropout": 0.0,
}  # fmt: skip
FLAT_DC_REPLACE = {
    "global_block": False,
    "global_placement": "parallel",
    "hand_dtc_replaces_joint": True,
    "memory_tokens": 0,
}


@pytest.mark.parametrize(
    ("flat", "nested"),
    [(FLAT_DEFAULT, {}), (FLAT_DC_REPLACE, init_args(CONFIGS / "ablations" / "t2_dc_replace.yaml"))],
    ids=["default", "t2_dc_replace"],
)
def test_flat_checkpoint_settings_build_the_same_network(flat: dict, nested: dict) -> None:
    """A network stored with the flat settings of before is rebuilt (with a warning) as the same network, with
    the same parameter names: old checkpoints load."""
    torch.manual_seed(0)
    with pytest.warns(FutureWarning, match="legacy_args"):
        old = build_net({"class_path": "handprior.models.nets.HandPriorNet", "init_args": flat})
    torch.manual_seed(0)
    new = build_net({"class_path": "handprior.models.nets.HandPriorNet", "init_args": nested})
    assert resolved(upgrade_flat_args(flat)) == resolved(nested)
    old_state, new_state = old.state_dict(), new.state_dict()
    assert list(old_state) == list(new_state)
    assert all(torch.equal(old_state[k], new_state[k]) for k in old_state)


def test_flat_config_file_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump({"model": {"net": {"init_args": FLAT_DC_REPLACE}}}))
    with pytest.raises(
        HandpriorInputError, match=r"convert the file with: python -m handprior.models.nets.legacy_args"
    ) as error:
        refuse_flat_settings(["fit", "--config", "configs/synthetic.yaml", f"--config={old}"])
    assert "\n" not in str(error.value)
    with pytest.raises(HandpriorInputError, match=r"use --model.net.init_args.dtc.groups$"):
        refuse_flat_settings(["fit", "--model.net.init_args.dtc_groups=4"])
    refuse_flat_settings(["fit", "--config", str(ABLATIONS[0]), "--model.net.init_args.dtc.groups=4"])  # the new form
    convert([str(old)])  # the conversion the message names
    converted = yaml.safe_load(capsys.readouterr().out)
    assert converted == {"model": {"net": {"init_args": init_args(CONFIGS / "ablations" / "t2_dc_replace.yaml")}}}


def test_net_label_names_changed_nested_settings() -> None:
    from handprior.reporting.results import net_label

    path = "handprior.models.nets.HandPriorNet"
    changed = {"dim": 32, "joint_dtc": {"placement": "head", "level": "joint"}, "memory": {"tokens": 0}}
    label = net_label({"model": {"net": {"class_path": path, "init_args": changed}}})
    assert label == "HandPriorNet(joint_dtc.placement=head, memory.tokens=0)"
    defaults = {"dtc": {"groups": 2, "kernel_size": 8}, "global_block": {"placement": "serial"}}
    assert net_label({"model": {"net": {"class_path": path, "init_args": defaults}}}) == "HandPriorNet"
