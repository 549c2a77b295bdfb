"""`handprior bench`: experiment files, command lines, resume logic, and a real run killed and restarted."""

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from handprior.cli import main
from handprior.errors import HandpriorInputError
from handprior.reporting import bench as bench_module
from handprior.reporting.bench import bench, load_experiment, plan_runs
from handprior.reporting.results import ResultRow, append_rows, read_rows
from handprior.reporting.tune import tuned_path

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((ROOT / "experiments" / "bench").glob("*.yaml"))


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def rows_for(run_id: str, method: str, value: float) -> list[ResultRow]:
    return [
        ResultRow("t", run_id, "exp", method, "0", "synthetic", "test", "mpjpe", value, "mm", "", ""),
        ResultRow("t", run_id, "exp", "input", "0", "synthetic", "test", "mpjpe", 10.0, "mm", "", ""),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"methods": [{"name": "a"}]}, "`name`"),
        ({"name": "x", "methods": []}, "non-empty list"),
        ({"name": "x", "methods": [{"name": "a", "command": "train"}]}, "command must be one of"),
        ({"name": "x", "methods": [{"name": "a", "arg": []}]}, "unknown keys ['arg']"),
        ({"name": "x", "seeds": [], "methods": [{"name": "a"}]}, "seeds must be a non-empty list"),
        ({"name": "x", "methods": [{"name": "a"}, {"name": "a"}]}, "unique"),
    ],
)
def test_bad_experiment_files_name_the_problem(tmp_path, data, message):
    path = write_yaml(tmp_path / "exp.yaml", data)
    with pytest.raises(HandpriorInputError, match="exp.yaml") as info:
        load_experiment(path)
    assert message in str(info.value)


def test_plan_puts_configs_first_and_the_writer_last(tmp_path):
    path = write_yaml(
        tmp_path / "exp.yaml",
        {
            "name": "exp",
            "base": ["configs/synthetic.yaml"],
            "seeds": [3, 4],
            "args": ["--trainer.max_epochs=1"],
            "methods": [
                {"name": "filter", "command": "test", "seeds": [0], "args": ["--model.net=X"]},
                {"name": "net", "configs": ["extra.yaml"]},
            ],
        },
    )
    runs = plan_runs(load_experiment(path), "out.csv")
    assert [r.run_id for r in runs] == ["exp/filter/seed0", "exp/net/seed3", "exp/net/seed4"]
    argv = list(runs[2].argv)
    assert argv[:5] == ["fit", "--config", "configs/synthetic.yaml", "--config", "extra.yaml"]
    assert argv.index("--trainer.max_epochs=1") < argv.index("--seed_everything=4")
    assert argv[-4:] == [
        "--trainer.callbacks+=handprior.reporting.results.ResultRowsWriter",
        "--trainer.callbacks.init_args.path=out.csv",
        "--trainer.callbacks.init_args.method=net",
        "--trainer.callbacks.init_args.group=exp",
    ]
    assert runs[0].argv[0] == "test" and "--model.net=X" in runs[0].argv


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda p: p.name)
def test_every_run_of_the_shipped_experiments_parses(experiment, monkeypatch, net_from_config, tmp_path):
    monkeypatch.chdir(ROOT)
    spec = load_experiment(experiment)
    assert len({m.name for m in spec.methods}) >= 2
    first_seed = {}
    results = str(tmp_path / "x.csv")  # a results folder without tuned files (the committed ones would label runs)
    for run in plan_runs(spec, results):
        first_seed.setdefault(run.method, run)  # seeds only change seed_everything: parse each method once
    tuned = {m.name: tuned_path(spec, m, results) for m in spec.methods if m.tune}
    for run in first_seed.values():
        argv, label = list(run.argv), run.method
        if run.method in tuned:  # the tuned config file is written by the tuning before the run
            at = argv.index(str(tuned[run.method]))
            argv, label = argv[: at - 1] + argv[at + 1 :], f"{run.method}(tuned)"
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), pytest.raises(SystemExit) as info:
            main([*argv, "--print_config"])
        assert info.value.code == 0, run.run_id
        config = yaml.safe_load(buffer.getvalue())
        assert config["seed_everything"] == run.seed
        assert config["trainer"]["callbacks"][-1]["init_args"]["method"] == label
        net = net_from_config(config)
        assert isinstance(net, torch.nn.Module)
        for name, _ in spec_method(spec, run.method).tune or ():
            assert hasattr(net, name), (run.method, name)  # every tuned setting is an argument of the filter


def spec_method(spec, name):
    return next(m for m in spec.methods if m.name == name)


def test_synthetic_experiment_has_the_paper_rows_tuned_filters_and_three_seeds():
    spec = load_experiment(ROOT / "experiments" / "bench" / "synthetic.yaml")
    filters = ["Savitzky-Golay", "Gaussian1d", "RTS", "Savitzky-Golay+bones", "Gaussian1d+bones", "One-Euro",
               "Kalman", "One-Euro+bones", "Kalman+bones"]  # fmt: skip
    assert [m.name for m in spec.methods] == ["input", *filters, "SmoothNet", "MotionBERT", "ours", "ours-recipe"]
    assert len(spec.seeds) >= 3
    recipe = spec.methods[-1]
    assert recipe.configs == ("configs/recipe.yaml",) and not recipe.args and recipe.seeds is None  # every seed
    assert all(m.command == "test" for m in spec.methods[:10]) and all(m.command == "fit" for m in spec.methods[10:])
    assert [m.name for m in spec.methods if m.tune] == filters
    bones = {m.name: [a for a in m.args if a.startswith("--model.bones=")] for m in spec.methods}
    assert {name: flag for name, flag in bones.items() if flag} == {
        "Savitzky-Golay+bones": ["--model.bones=sequence"], "Gaussian1d+bones": ["--model.bones=sequence"],
        "One-Euro+bones": ["--model.bones=running"], "Kalman+bones": ["--model.bones=running"],
    }  # fmt: skip


def test_resume_runs_only_what_has_no_rows_and_reports_failures(tmp_path, monkeypatch, capsys):
    csv = tmp_path / "runs.csv"
    path = write_yaml(
        tmp_path / "exp.yaml", {"name": "exp", "seeds": [0], "methods": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}
    )
    append_rows(csv, rows_for("exp/a/seed0", "a", 5.0))
    started = []

    def fake_run(run, log_path, env, timeout=None):
        started.append(run.run_id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("boom\n")
        if run.method == "b":
            append_rows(csv, rows_for(run.run_id, "b", 7.0))
            return 0
        return 1  # c crashes

    monkeypatch.setattr(bench_module, "run_one", fake_run)
    with pytest.raises(SystemExit) as info:
        bench(str(path), results=str(csv), wandb="disabled")
    assert info.value.code == 1
    assert started == ["exp/b/seed0", "exp/c/seed0"]
    out = capsys.readouterr().out
    assert "exp/a/seed0: done before, skipped" in out and "exp/c/seed0: failed" in out and "boom" in out
    assert any(line.startswith("│ b ") for line in out.splitlines())  # the table has the new run's row
    started.clear()
    with pytest.raises(SystemExit):
        bench(str(path), results=str(csv), wandb="disabled")
    assert started == ["exp/c/seed0"]  # only the failed run is retried


def test_a_run_with_partial_rows_is_run_again_and_its_rows_replaced(tmp_path, monkeypatch, capsys):
    csv = tmp_path / "runs.csv"
    path = write_yaml(tmp_path / "exp.yaml", {"name": "exp", "seeds": [0], "methods": [{"name": "a"}, {"name": "b"}]})
    append_rows(csv, rows_for("exp/a/seed0", "a", 5.0))
    append_rows(csv, rows_for("exp/b/seed0", "b", 6.0)[:1])
    with csv.open("a", newline="") as handle:  # a crash cut b's second row short (an earlier, in-place append)
        handle.write("2026-01-01T00:00:00+00:00,exp/b/seed0,exp,inp")
    assert {r.run_id for r in read_rows(csv)} == {"exp/a/seed0"}  # b's partial rows count for nothing
    started = []

    def fake_run(run, log_path, env, timeout=None):
        started.append(run.run_id)
        append_rows(csv, rows_for(run.run_id, "b", 7.0))
        return 0

    monkeypatch.setattr(bench_module, "run_one", fake_run)
    bench(str(path), results=str(csv), wandb="disabled")
    assert started == ["exp/b/seed0"]
    out = capsys.readouterr().out
    assert "exp/a/seed0: done before, skipped" in out and "exp/b/seed0: running again" in out
    rows = read_rows(csv)
    assert [r for r in rows if r.run_id == "exp/a/seed0"] == rows_for("exp/a/seed0", "a", 5.0)
    assert [r for r in rows if r.run_id == "exp/b/seed0"] == rows_for("exp/b/seed0", "b", 7.0)  # replaced, once
    assert "inp\n" not in csv.read_text() and len(csv.read_text().splitlines()) == 1 + 4


def wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_smoke_bench_survives_sigkill_and_resumes(tmp_path):
    spec = yaml.safe_load((ROOT / "experiments" / "bench" / "smoke.yaml").read_text())
    spec["base"] = [str(ROOT / p) for p in spec["base"]]
    experiment = write_yaml(tmp_path / "smoke.yaml", spec)
    csv = tmp_path / "results" / "smoke.csv"
    first_run, second_run = "smoke/Savitzky-Golay/seed0", "smoke/ours/seed0"
    command = [sys.executable, "-m", "handprior.reporting.bench", str(experiment), "--wandb=disabled"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runner = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: any(r.run_id == first_run for r in read_rows(csv)), 240)
        assert wait_for(lambda: (tmp_path / "results" / "bench_logs" / "smoke__ours__seed0.log").exists(), 60)
        time.sleep(2.0)  # the second run is under way
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
    finally:
        runner.kill()
    first = read_rows(csv)
    assert {r.run_id for r in first} == {first_run}  # the killed run wrote nothing
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"{first_run}: done before, skipped" in result.stdout
    assert f"{second_run}: finished" in result.stdout
    rows = read_rows(csv)
    assert [r for r in rows if r.run_id == first_run] == first  # not redone
    second = [r for r in rows if r.run_id == second_run]
    # written once: the run killed with the bench did not live on as an orphan and finish later
    assert sorted((r.method, r.metric) for r in second) == sorted(
        [
            ("ours", "mpjpe"),
            ("ours", "mpvpe"),
            ("ours", "mpvpe_joints"),
            ("ours", "accel"),
            ("ours", "bone_cv"),
            ("input", "mpjpe"),
            ("input", "accel"),
            ("input", "bone_cv"),
        ]
    )
    for label in ("input", "Savitzky-Golay", "ours", "MPJPE", "seeds"):
        assert label in result.stdout
