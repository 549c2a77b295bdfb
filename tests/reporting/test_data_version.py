"""The data_version column of result rows: recorded from the test store, and files written without it still read."""

import csv
from types import SimpleNamespace

from handprior.reporting.results import COLUMNS, ResultRow, _data_version, append_rows, metric_rows, read_rows
from handprior.reporting.rows import LEGACY_COLUMNS

OLD_ROW = ["t", "old", "g", "ours", "0", "synthetic", "test", "mpjpe", "9.5", "mm", "c", "sha"]


def test_a_file_without_the_column_reads_and_the_next_write_adds_it(tmp_path):
    path = tmp_path / "runs.csv"
    with path.open("w", newline="") as file:
        csv.writer(file).writerows([LEGACY_COLUMNS, OLD_ROW])
    (old,) = read_rows(path)
    assert old.run_id == "old" and old.value == 9.5 and old.data_version == ""

    new = ResultRow("t", "new", "g", "ours", "0", "synthetic", "test", "mpjpe", 9.1, "mm", "c", "sha", "v2")
    append_rows(path, [new])
    lines = list(csv.reader(path.open(newline="")))
    assert lines[0] == list(COLUMNS) and COLUMNS[-1] == "data_version"
    assert all(len(line) == len(COLUMNS) for line in lines)
    assert [(r.run_id, r.data_version) for r in read_rows(path)] == [("old", ""), ("new", "v2")]


def test_metric_rows_carry_the_data_version_and_the_callback_reads_it_from_the_test_store():
    rows = metric_rows({"test/mpjpe": 9.0, "test/input_mpjpe": 10.0}, method="m", run_id="r", data_version="v2")
    assert {row.data_version for row in rows} == {"v2"}
    store = SimpleNamespace(meta={"benchmark_version": "v2"})
    assert _data_version(SimpleNamespace(datamodule=SimpleNamespace(stores={"test": store}))) == "v2"
    assert _data_version(SimpleNamespace(datamodule=SimpleNamespace(stores={"test": SimpleNamespace(meta={})}))) == ""
    assert _data_version(SimpleNamespace(datamodule=None)) == ""
