"""W&B sweep files: their form, every grid point parses into a valid configuration, one grid point trains a step.

The command lines are built with the W&B agent's own function (``create_sweep_command_args``), so what is
tested is exactly what an agent would run.
"""

import contextlib
import io
import itertools
from pathlib import Path

import pytest
import torch
import yaml
from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

from handprior.cli import main

ROOT = Path(__file__).resolve().parents[2]
SWEEPS = sorted((ROOT / "experiments" / "sweeps").glob("*.yaml"))
PREFIX = ["${env}", "${interpreter}", "-m", "handprior", "fit"]
TINY = [
    "--data.init_args.train_sequences=4", "--data.init_args.val_sequences=2", "--data.init_args.test_sequences=2",
    "--data.init_args.min_frames=40", "--data.init_args.max_frames=60", "--data.init_args.batch_size=8",
    "--model.net.init_args.dim=16", "--model.net.init_args.depth=1", "--model.net.init_args.num_heads=2",
    "--model.net.init_args.dim_rep=16",
]  # fmt: skip


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def grid(sweep: dict) -> list[dict]:
    """Every grid point as {parameter: value}, in the order W&B's grid would produce them."""
    names = list(sweep["parameters"])
    choices = [sweep["parameters"][n].get("values", [sweep["parameters"][n].get("value")]) for n in names]
    return [dict(zip(names, point)) for point in itertools.product(*choices)]


def agent_argv(sweep: dict, point: dict) -> list[str]:
    """The handprior arguments an agent runs for a grid point (after `${interpreter} -m handprior`)."""
    flags = create_sweep_command_args({"args": {k: {"value": v} for k, v in point.items()}})["args"]
    argv = []
    for chunk in sweep["command"][len(PREFIX) - 1 :]:
        argv += flags if chunk == "${args}" else [chunk]
    return argv


def resolved_config(argv: list[str]) -> dict:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), pytest.raises(SystemExit) as info:
        main([*argv, "--print_config"])
    assert info.value.code == 0, argv
    return yaml.safe_load(buffer.getvalue())


def network_signature(net: torch.nn.Module) -> str:
    """Parameter shapes and the outputs for fixed random weights: equal only for the same computation."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.copy_(0.2 * torch.randn(parameter.shape, generator=generator))
        out = net.eval()(torch.randn(1, 27, 21, 3, generator=generator))
    parts = [out.joints, out.theta, out.beta, *out.beta_blocks]
    sums = [f"{p.double().sum():.5f}" for p in parts if p is not None]
    return str([tuple(p.shape) for p in net.parameters()]) + str(sums)


def test_there_is_one_sweep_per_ablation_table():
    assert {p.stem for p in SWEEPS} >= {"table1_joint_dtc", "table2_global_block", "table3_memory"}


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_sweep_form(path):
    sweep = load(path)
    assert sweep["method"] == "grid" and sweep["metric"] == {"name": "val/mpjpe", "goal": "minimize"}
    assert isinstance(sweep.get("program"), str) and (ROOT / sweep["program"]).is_file()
    params = sweep["parameters"]
    assert all("parameters" not in spec and set(spec) <= {"values", "value"} for spec in params.values())
    assert all((ROOT / row).is_file() for row in params.get("config", {}).get("values", []))
    assert len(set(params["seed_everything"]["values"])) >= 3
    assert all(isinstance(s, int) for s in params["seed_everything"]["values"])
    command = sweep["command"]
    assert command[: len(PREFIX)] == PREFIX and command.count("${args}") == 1
    config_positions = [i for i, chunk in enumerate(command) if chunk == "--config"]
    assert config_positions and max(config_positions) < command.index("${args}")  # files never override swept values
    assert (ROOT / command[config_positions[0] + 1]).is_file()
    flags = " ".join(command)
    for key in ("group", "job_type", "tags"):
        assert f"--trainer.logger.init_args.{key}=" in flags
    assert "ResultRowsWriter" in flags


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_every_grid_point_is_a_valid_configuration(path, monkeypatch, net_from_config):
    monkeypatch.chdir(ROOT)
    sweep = load(path)
    points = grid(sweep)
    variants = {}
    for point in points:  # seeds only set seed_everything: resolve each variant once, with its first seed
        variants.setdefault(tuple((k, str(v)) for k, v in point.items() if k != "seed_everything"), point)
    assert len(points) == len(variants) * len(sweep["parameters"]["seed_everything"]["values"])
    nets = []
    for point in variants.values():
        config = resolved_config(agent_argv(sweep, point))
        assert config["seed_everything"] == point["seed_everything"]
        for key, value in point.items():  # the swept values arrived (not silently overridden)
            expected = {key: value}
            if key == "config":  # a row file: its network switches must be in effect
                expected = _dotted(load(ROOT / value)["model"]["net"]["init_args"], "model.net.init_args")
            for dotted, wanted in expected.items():
                node = config
                for part in dotted.split("."):
                    node = node[part]
                assert node == wanted, (value, dotted)
        assert config["trainer"]["callbacks"][-1]["class_path"].endswith("ResultRowsWriter")
        wandb_logger = config["trainer"]["logger"][-1]["init_args"]
        assert wandb_logger["group"] == path.stem.replace("_", "-") and wandb_logger["job_type"] == "ablation"
        net_from_config(config)  # the swept network builds at its configured size
        tiny = {"dim": 16, "depth": 2, "num_heads": 2, "dim_rep": 16, "dtc": {"groups": 2}}
        config["model"]["net"]["init_args"].update(tiny)  # a small copy for comparing the computations
        nets.append(net_from_config(config))
    assert len({network_signature(net) for net in nets}) == len(nets), "two grid points build the same network"


@pytest.mark.slow
def test_one_grid_point_trains_a_step(tmp_path, monkeypatch):
    sweep = load(ROOT / "experiments" / "sweeps" / "table1_joint_dtc.yaml")
    argv = agent_argv(sweep, grid(sweep)[-1])
    argv = [a.replace("configs/", f"{ROOT}/configs/", 1) if "configs/" in a else a for a in argv]  # run elsewhere
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results" / "runs.csv"
    main([*argv, *TINY, f"--data.init_args.root={tmp_path / 'synthetic'}", "--trainer.fast_dev_run=1",
          f"--trainer.callbacks.init_args.path={results}"])  # fmt: skip
    assert results.is_file() and "table1-joint-dtc" in results.read_text()


def _dotted(settings: dict, prefix: str) -> dict[str, object]:
    """Nested settings as dotted keys: ``{"memory": {"tokens": 1}}`` -> ``{"prefix.memory.tokens": 1}``."""
    out: dict[str, object] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_dotted(value, f"{prefix}.{key}"))
        else:
            out[f"{prefix}.{key}"] = value
    return out
