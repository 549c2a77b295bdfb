"""`handprior tune` and tuned methods in `handprior bench`: grids, tuned files, labels, live/offline tables."""

from pathlib import Path

import pytest
import yaml

from handprior.errors import HandpriorInputError
from handprior.reporting.bench import load_experiment, plan_runs
from handprior.reporting.live_offline import is_causal_method, split_live_offline
from handprior.reporting.rows import read_rows
from handprior.reporting.table import TableRow
from handprior.reporting.tune import grid_points, read_tuned, tune, tuned_label, tuned_path

ROOT = Path(__file__).resolve().parents[2]
SMOKE_DATA = [
    "--data.init_args.train_sequences=2",
    "--data.init_args.val_sequences=2",
    "--data.init_args.test_sequences=1",
    "--data.init_args.min_frames=30",
    "--data.init_args.max_frames=40",
]


def experiment(tmp_path: Path, grid: dict) -> Path:
    data = {
        "name": "t",
        "results": str(tmp_path / "results" / "r.csv"),
        "base": [str(ROOT / "configs" / "synthetic.yaml")],
        "seeds": [0],
        "args": [f"--data.init_args.root={tmp_path / 'data'}", *SMOKE_DATA],
        "methods": [
            {"name": "input", "command": "test", "args": ["--model.net=handprior.models.filters.Identity"]},
            {"name": "One-Euro", "command": "test", "args": ["--model.net=handprior.models.filters.OneEuro"],
             "tune": grid},
        ],
    }  # fmt: skip
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_grid_points_and_labels():
    points = grid_points((("min_cutoff", (0.5, 1.0)), ("beta", (0.0, 0.01, 0.1))))
    assert len(points) == 6 and points[0] == {"min_cutoff": 0.5, "beta": 0.0} and points[-1]["beta"] == 0.1
    assert tuned_label("One-Euro", {"min_cutoff": 0.5, "beta": 0.01}) == "One-Euro(min_cutoff=0.5, beta=0.01)"
    assert (
        tuned_label("Savitzky-Golay", {"window_length": 31, "polyorder": 2})
        == "Savitzky-Golay(window_length=31, polyorder=2)"
    )


@pytest.mark.parametrize("grid", [[], {"beta": []}, {"beta": [[1]]}, {"beta": 0.1}])
def test_bad_grids_name_the_method(tmp_path, grid):
    with pytest.raises(HandpriorInputError, match=r"methods\[1\].tune"):
        load_experiment(experiment(tmp_path, grid))


def test_tuned_path_follows_the_grid_and_the_data(tmp_path):
    spec = load_experiment(experiment(tmp_path, {"beta": [0.0, 0.01]}))
    first = tuned_path(spec, spec.methods[1], spec.results)
    other = load_experiment(experiment(tmp_path, {"beta": [0.0, 0.02]}))
    assert tuned_path(other, other.methods[1], other.results) != first
    assert first.parent == Path(spec.results).parent / "tuned" / "t" and first.name.startswith("One-Euro-")


def test_tune_writes_the_best_setting_and_bench_runs_with_it(tmp_path):
    path = experiment(tmp_path, {"min_cutoff": [0.05, 3.0], "beta": [0.0, 0.01]})
    spec = load_experiment(path)
    assert "--trainer.callbacks.init_args.method=One-Euro(tuned)" in plan_runs(spec, spec.results)[1].argv
    tune(str(path))
    tuned = tuned_path(spec, spec.methods[1], spec.results)
    rows = [row for row in read_rows(spec.results) if row.split == "val"]
    assert len(rows) == 8 and {row.group for row in rows} == {"t/tune"}  # 4 settings x (mpjpe, accel)
    assert {row.data_version for row in rows} == {"v2"}  # the tuning store's benchmark version
    mpjpe = {row.method: row.value for row in rows if row.metric == "mpjpe"}
    best = min(mpjpe, key=mpjpe.get)
    assert tuned_label("One-Euro", read_tuned(tuned)) == best
    assert yaml.safe_load(tuned.read_text())["model"]["net"]["class_path"] == "handprior.models.filters.OneEuro"
    argv = plan_runs(spec, spec.results)[1].argv
    assert ["--config", str(tuned)] == list(argv[argv.index(str(tuned)) - 1 : argv.index(str(tuned)) + 1])
    assert f"--trainer.callbacks.init_args.method={best}" in argv
    stamp = tuned.stat().st_mtime_ns
    tune(str(path))  # done before: kept
    assert tuned.stat().st_mtime_ns == stamp and len([r for r in read_rows(spec.results) if r.split == "val"]) == 8


def test_live_and_offline_tables():
    rows = [TableRow("d", name) for name in ("input", "ours", "One-Euro(min_cutoff=1, beta=0.01)", "Kalman(process_noise=1)",
                                             "RTS(process_noise=1)", "Gaussian1d(sigma=3)", "OneEuro")]  # fmt: skip
    views = split_live_offline(rows)
    assert [r.method for r in views["live"]] == [
        "input",
        "One-Euro(min_cutoff=1, beta=0.01)",
        "OneEuro",
        "Kalman(process_noise=1)",
    ]
    assert [r.method for r in views["offline"]] == ["input", "Gaussian1d(sigma=3)", "RTS(process_noise=1)", "ours"]
    assert not is_causal_method("input") and not is_causal_method("RTSSmoother") and is_causal_method("kalman")
    assert set(split_live_offline([TableRow("d", "input"), TableRow("d", "ours")])) == {"offline"}
