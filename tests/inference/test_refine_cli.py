"""`handprior refine` end to end on files: formats, units, sides, MANO outputs, plots, and bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from handprior.cli import main
from handprior.inference.io import CSV_COLUMNS


def _refine(checkpoint: Path, *args: str) -> None:
    main(["refine", "--ckpt", str(checkpoint), "--device", "cpu", *args])


def test_npz_in_npz_out_with_mano(tmp_path: Path, checkpoint: Path, hand, capsys) -> None:
    pred = np.concatenate([hand(40, seed=1), hand(12, seed=2)])
    np.savez(tmp_path / "seqs.npz", pred=pred, offsets=np.array([0, 40, 52]), names=np.array(["long", "short"]))
    _refine(checkpoint, "--input", str(tmp_path / "seqs.npz"), "--output", str(tmp_path / "out.npz"), "--mano", "true")
    out = capsys.readouterr().out
    assert "units: detected mm" in out and "short: the sequence has 12 frames" in out and "padded" in out
    with np.load(tmp_path / "out.npz", allow_pickle=False) as saved:
        assert saved["refined"].shape == (52, 21, 3) and saved["vertices"].shape == (52, 778, 3)
        assert saved["theta"].shape == (52, 48) and saved["beta"].shape == (52, 10) and saved["faces"].shape[1] == 3
        assert list(saved["names"]) == ["long", "short"] and str(saved["units"]) == "mm"
        np.testing.assert_array_equal(saved["input"], pred)


def test_json_in_metres_left_hand_with_gaps(tmp_path: Path, checkpoint: Path, hand, capsys) -> None:
    frames = (hand(30) / 1000).tolist()
    frames[5] = [[float("nan")] * 3] * 21  # a missing frame (JSON NaN)
    (tmp_path / "left.json").write_text(json.dumps({"frames": frames, "fps": 30}))
    args = ["--input", str(tmp_path / "left.json"), "--output", str(tmp_path / "out.json"), "--side", "left"]
    with pytest.raises(SystemExit) as info:
        _refine(checkpoint, *args)
    assert info.value.code == 2 and "--interpolate_gaps" in capsys.readouterr().err
    _refine(checkpoint, *args, "--interpolate_gaps", "1", "--mano", "true")
    out = capsys.readouterr().out
    assert "detected m " in out and "filled 1 missing frames" in out and "out.mano.npz" in out
    saved = json.loads((tmp_path / "out.json").read_text())
    refined = np.array(saved["frames"])
    assert saved["fps"] == 30 and refined.shape == (30, 21, 3)
    assert 0.05 < np.median(np.linalg.norm(refined[:, 9] - refined[:, 0], axis=-1)) < 0.2  # still metres
    with np.load(tmp_path / "out.mano.npz") as mano:
        assert mano["vertices"].shape == (30, 778, 3) and str(mano["side"]) == "left"
        assert np.abs(mano["vertices"]).max() < 5  # metres, like the input


def test_csv_to_csv_keeps_the_layout_and_plots(tmp_path: Path, checkpoint: Path, hand, capsys) -> None:
    joints = hand(30).reshape(30, 63)
    with (tmp_path / "seq.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", *CSV_COLUMNS])
        writer.writerows([[f"{i / 30:.3f}", *row] for i, row in enumerate(joints)])
    _refine(checkpoint, "--input", str(tmp_path / "seq.csv"), "--output", str(tmp_path / "out.csv"),
            "--plot", str(tmp_path / "plots"))  # fmt: skip
    rows = list(csv.reader((tmp_path / "out.csv").open()))
    assert rows[0] == ["time", *CSV_COLUMNS] and len(rows) == 31 and rows[2][0] == "0.033"
    assert {p.suffix for p in (tmp_path / "plots").iterdir()} == {".png", ".gif"}
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name, content, options, message",
    [
        ("empty.npz", b"", [], "file is empty"),
        ("bad.json", b"[[[1, 2, 3]", [], "not valid JSON"),
        ("twenty.json", json.dumps([[[0.0, 0.0, 0.0]] * 20]).encode(), [], "frame 0 has shape (20, 3)"),
        ("mm.json", None, ["--units", "mm"], "declared in mm but look like m"),
        ("seq.json", None, ["--output_is_input"], "overwrite the input"),
        ("seq.json", None, ["--mano_model", "/nonexistent/mano", "--mano", "true"], "/nonexistent/mano"),
    ],
)
def test_bad_input_is_one_clean_line(tmp_path: Path, checkpoint: Path, hand, capsys, name, content, options, message):
    path = tmp_path / name
    path.write_bytes(content if content is not None else json.dumps((hand(30) / 1000).tolist()).encode())
    output = str(path) if "--output_is_input" in options else str(tmp_path / "out.json")
    options = [o for o in options if o != "--output_is_input"]
    with pytest.raises(SystemExit) as info:
        _refine(checkpoint, "--input", str(path), "--output", output, *options)
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err and "Traceback" not in err
    assert err.startswith("handprior: error: ") and err.count("\n") == 1
