"""Result rows: metric -> row mapping, concurrent appends from several processes, the Lightning callback."""

import csv
import multiprocessing
import os
import sys
from types import SimpleNamespace

import pytest
import torch

from handprior.errors import HandpriorInputError
from handprior.reporting.results import (
    COLUMNS,
    ResultRow,
    ResultRowsWriter,
    append_rows,
    lock_for,
    metric_rows,
    read_rows,
)
from handprior.reporting.rows import partial_runs


def make_row(run_id: str, i: int) -> ResultRow:
    return ResultRow("t", run_id, "g", "ours", str(i % 3), "synthetic", "test", "mpjpe", float(i), "mm", "c", "sha")


def writer_process(path: str, run_id: str, count: int) -> None:
    for i in range(count):
        append_rows(path, [make_row(run_id, i), make_row(run_id, i + 1000)])


def test_metric_rows_split_input_and_refined():
    metrics = {
        "test/mpjpe": torch.tensor(7.5),
        "test/accel": 4.25,
        "test/input_mpjpe": torch.tensor(10.0),
        "test/input_accel": 7.0,
        "val/mpjpe": 1.0,
        "train/loss": 3.0,
    }
    rows = metric_rows(metrics, method="ours", run_id="r1", seed="2", dataset="synthetic", timestamp="now")
    by_key = {(r.method, r.metric): r for r in rows}
    assert set(by_key) == {("ours", "mpjpe"), ("ours", "accel"), ("input", "mpjpe"), ("input", "accel")}
    assert by_key[("ours", "mpjpe")].value == 7.5 and by_key[("ours", "mpjpe")].unit == "mm"
    assert by_key[("input", "accel")].value == 7.0 and by_key[("input", "accel")].unit == "mm/frame^2"
    assert all(r.split == "test" and r.seed == "2" and r.run_id == "r1" for r in rows)


def test_concurrent_writers_lose_no_row(tmp_path):
    path = str(tmp_path / "results" / "runs.csv")
    context = multiprocessing.get_context("fork")  # the children only write CSV rows
    workers = [context.Process(target=writer_process, args=(path, f"run{k}", 40)) for k in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    with open(path, newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == list(COLUMNS)
    assert sum(1 for line in lines if line == list(COLUMNS)) == 1  # one header despite two creators
    assert all(len(line) == len(COLUMNS) for line in lines)
    rows = read_rows(path)
    assert len(rows) == 2 * 40 * 2
    for run_id in ("run0", "run1"):
        values = sorted(r.value for r in rows if r.run_id == run_id)
        assert values == sorted([float(i) for i in range(40)] + [float(i + 1000) for i in range(40)])


def test_a_writer_waits_for_the_lock(tmp_path):
    path = tmp_path / "runs.csv"
    context = multiprocessing.get_context("fork")
    with lock_for(path):  # another writer holds the lock
        worker = context.Process(target=writer_process, args=(str(path), "late", 1))
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive() and not path.exists()
    worker.join(timeout=30)
    assert worker.exitcode == 0 and len(read_rows(path)) == 2


def test_read_rows_skips_a_truncated_last_line(tmp_path):
    path = tmp_path / "runs.csv"
    append_rows(path, [make_row("a", 1)])
    with path.open("a") as handle:
        handle.write("2026-01-01,b,g,ours")  # a crash mid-write
    assert [r.run_id for r in read_rows(path)] == ["a"]
    append_rows(path, [make_row("c", 2)])  # the next writer starts on a fresh line
    assert [r.run_id for r in read_rows(path)] == ["a", "c"]
    assert read_rows(tmp_path / "missing.csv") == []


def test_a_crash_while_writing_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "runs.csv"
    append_rows(path, [make_row("a", 1)])
    before = path.read_bytes()

    def dies(*args) -> None:
        raise KeyboardInterrupt  # as if the process were stopped before the rename

    monkeypatch.setattr(os, "replace", dies)
    with pytest.raises(KeyboardInterrupt):
        append_rows(path, [make_row("b", 1), make_row("b", 2)])
    monkeypatch.undo()
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["runs.csv", "runs.csv.lock"]


def test_partial_runs_are_named_left_out_and_dropped_by_the_next_write(tmp_path):
    path = tmp_path / "runs.csv"
    append_rows(path, [make_row("a", 1), make_row("b", 1)])
    with path.open("a", newline="") as handle:
        handle.write("2026-01-01,b")  # cut within b's run id: it belongs to the line before
    assert partial_runs(path) == {"b"} and [r.run_id for r in read_rows(path)] == ["a"]
    append_rows(path, [make_row("c", 1)])
    assert partial_runs(path) == set() and [r.run_id for r in read_rows(path)] == ["a", "c"]
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(HandpriorInputError, match="other.csv: not a results CSV"):
        read_rows(tmp_path / "other.csv")


class FakeNet(torch.nn.Module):
    pass


@pytest.mark.parametrize(("method", "expected"), [(None, "FakeNet"), ("SmoothNet", "SmoothNet")])
def test_callback_writes_test_metrics_on_rank_zero(tmp_path, monkeypatch, method, expected):
    monkeypatch.setenv("PL_GLOBAL_SEED", "3")
    monkeypatch.setenv("HANDPRIOR_RUN_ID", "bench-run")
    trainer = SimpleNamespace(
        is_global_zero=True,
        sanity_checking=False,
        callback_metrics={"test/mpjpe": torch.tensor(5.0), "test/input_mpjpe": torch.tensor(9.0), "val/mpjpe": 1.0},
        loggers=[],
        datamodule=SimpleNamespace(root="data/synthetic"),
        log_dir=str(tmp_path),
    )
    module = SimpleNamespace(net=FakeNet())
    path = tmp_path / "runs.csv"
    callback = ResultRowsWriter(path=str(path), method=method, group="table1")
    callback.on_test_end(trainer, module)
    rows = read_rows(path)
    assert {(r.method, r.metric, r.value) for r in rows} == {(expected, "mpjpe", 5.0), ("input", "mpjpe", 9.0)}
    assert all(r.seed == "3" and r.group == "table1" and r.dataset == "synthetic" for r in rows)
    assert all(r.run_id == "bench-run" for r in rows)
    trainer.is_global_zero = False
    callback.on_test_end(trainer, module)
    assert len(read_rows(path)) == 2


def test_net_label_names_the_changed_init_args():
    from handprior.reporting.results import net_label

    net = {"class_path": "handprior.models.filters.SavitzkyGolay", "init_args": {"window_length": 31, "polyorder": 3}}
    assert net_label({"model": {"net": net}}) == "SavitzkyGolay(polyorder=3)"
    net["init_args"]["polyorder"] = 2
    assert net_label({"model": {"net": net}}) == "SavitzkyGolay"
    assert net_label({"model": {}}) is None


def test_net_label_never_imports_the_class_a_config_names(tmp_path, monkeypatch):
    from handprior.reporting.results import net_label

    marker = tmp_path / "imported"
    (tmp_path / "label_plugin.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Net:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    net = {"class_path": "label_plugin.Net", "init_args": {"width": 3}}
    assert net_label({"model": {"net": net}}) == "Net(width=3)"
    assert not marker.exists() and "label_plugin" not in sys.modules


def test_callback_labels_a_sweep_variant_from_the_saved_config(tmp_path):
    (tmp_path / "config.yaml").write_text(
        "model:\n  net:\n    class_path: handprior.models.filters.Gaussian1d\n    init_args: {sigma: 5.0}\n"
    )
    trainer = SimpleNamespace(
        is_global_zero=True, sanity_checking=False, callback_metrics={"test/mpjpe": 4.0}, loggers=[],
        datamodule=None, log_dir=str(tmp_path),
    )  # fmt: skip
    callback = ResultRowsWriter(path=str(tmp_path / "runs.csv"))
    callback.on_test_end(trainer, SimpleNamespace(net=FakeNet()))
    (row,) = read_rows(tmp_path / "runs.csv")
    assert row.method == "Gaussian1d(sigma=5.0)" and row.config == str((tmp_path / "config.yaml").resolve())
