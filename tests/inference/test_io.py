"""Readers and writers of user sequence files: layouts, round trips, and clear errors for bad files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from handprior.errors import HandpriorInputError
from handprior.inference.io import CSV_COLUMNS, read_sequence, sidecar_path, write_output


def _joints(frames: int = 12, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 50, (frames, 21, 3)).round(3)


def test_npz_with_only_pred_and_with_every_key(tmp_path: Path) -> None:
    pred = _joints()
    np.savez(tmp_path / "a.npz", pred=pred)
    one = read_sequence(tmp_path / "a.npz")
    assert one.format == "npz" and one.num_sequences == 1 and one.names == ["a"] and one.gt is None
    np.testing.assert_array_equal(one.pred, pred)
    np.savez(tmp_path / "b.npz", pred=pred, joints=pred + 1, offsets=np.array([0, 5, 12]), names=np.array(["x", "y"]),
             fps=np.array(25.0))  # fmt: skip
    many = read_sequence(tmp_path / "b.npz")
    assert many.num_sequences == 2 and many.names == ["x", "y"] and many.fps == 25.0
    assert many.sequence(1) == slice(5, 12)
    out = write_output(tmp_path / "out.npz", many, pred * 2, {"side": np.array("left")})
    with np.load(out[0], allow_pickle=False) as saved:
        assert set(saved.files) == {"refined", "input", "offsets", "names", "fps", "joints", "side"}
        np.testing.assert_array_equal(saved["refined"], pred * 2)
        np.testing.assert_array_equal(saved["offsets"], [0, 5, 12])


def test_json_list_and_wrapped_flat_frames_round_trip(tmp_path: Path) -> None:
    pred = _joints()
    (tmp_path / "list.json").write_text(json.dumps(pred.tolist()))
    listed = read_sequence(tmp_path / "list.json")
    np.testing.assert_array_equal(listed.pred, pred)
    write_output(tmp_path / "list_out.json", listed, pred + 1, {})
    assert np.allclose(json.loads((tmp_path / "list_out.json").read_text()), pred + 1)
    flat = pred.reshape(len(pred), 63).tolist()
    flat[3] = [None] * 63  # a missing frame
    (tmp_path / "wrapped.json").write_text(json.dumps({"frames": flat, "fps": 60}))
    wrapped = read_sequence(tmp_path / "wrapped.json")
    assert wrapped.fps == 60.0 and np.isnan(wrapped.pred[3]).all() and wrapped.json_flat
    write_output(tmp_path / "wrapped_out.json", wrapped, pred, {"theta": np.zeros((12, 48))})
    saved = json.loads((tmp_path / "wrapped_out.json").read_text())
    assert saved["fps"] == 60 and len(saved["frames"][0]) == 63
    assert sidecar_path(tmp_path / "wrapped_out.json").is_file()  # arrays a .json cannot hold


def test_csv_keeps_its_header_column_order_and_frame_column(tmp_path: Path) -> None:
    pred = _joints()
    header = ["frame", *CSV_COLUMNS[::-1]]
    with (tmp_path / "named.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for index, frame in enumerate(pred.reshape(-1, 63)):
            writer.writerow([f"f{index}", *frame[::-1]])
    named = read_sequence(tmp_path / "named.csv")
    np.testing.assert_allclose(named.pred, pred)
    write_output(tmp_path / "named_out.csv", named, pred + 1, {})
    rows = list(csv.reader((tmp_path / "named_out.csv").open()))
    assert rows[0] == header and rows[1][0] == "f0"
    assert float(rows[1][-1]) == pytest.approx(pred[0, 0, 0] + 1)  # wrist_x is the last column
    plain = "\n".join(",".join(map(str, frame)) for frame in pred.reshape(-1, 63)) + "\n"
    (tmp_path / "plain.csv").write_text(plain.replace(str(pred[2, 4, 1]), "", 1))
    headerless = read_sequence(tmp_path / "plain.csv")
    assert headerless.csv_header is None and np.isnan(headerless.pred[2, 4, 1])
    write_output(tmp_path / "from_npz.csv", headerless, pred, {})
    assert next(csv.reader((tmp_path / "from_npz.csv").open()))[0] != "wrist_x"  # no header in, none out


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("empty.npz", lambda p: p.write_bytes(b""), "file is empty"),
        ("empty.json", lambda p: p.write_text("  \n"), "file is empty"),
        ("empty.csv", lambda p: p.write_text(""), "file is empty"),
        ("cut.npz", lambda p: p.write_bytes(_npz(p.with_name("full.npz"), pred=_joints(500)).read_bytes()[:900]),
         "not a valid .npz archive or truncated"),
        ("cut.json", lambda p: p.write_text(json.dumps(_joints().tolist())[:-40]), r"not valid JSON \(line 1"),
        ("cut.csv", lambda p: p.write_text("\n".join(["1.0," * 62 + "1.0"] * 3 + ["1.0,2.0"])), "row 4 has 2 cells"),
        ("joints20.npz", lambda p: _npz(p, pred=np.zeros((5, 20, 3))), r"shape \(N,21,3\), found \(5, 20, 3\)"),
        ("rank2.npz", lambda p: _npz(p, pred=np.zeros((5, 63))), r"shape \(N,21,3\), found \(5, 63\)"),
        ("rank0.npz", lambda p: _npz(p, pred=np.array(1.0)), r"found \(\)"),
        ("text.npz", lambda p: _npz(p, pred=np.array([["a"] * 3] * 21)[None]), "must be numeric"),
        ("objects.npz", lambda p: _npz(p, pred=np.array([object()])), "Python objects"),
        ("extra.npz", lambda p: _npz(p, pred=_joints(), gt=_joints()), r"unknown keys \['gt'\]"),
        ("nopred.npz", lambda p: _npz(p, joints=_joints()), "missing 'pred'"),
        ("offsets.npz", lambda p: _npz(p, pred=_joints(), offsets=np.array([0, 7, 5, 12])), "'offsets' must rise"),
        ("joints20.json", lambda p: p.write_text(json.dumps([np.zeros((20, 3)).tolist()])), "frame 0 has shape"),
        ("ragged.json", lambda p: p.write_text(json.dumps([[[1, 2, 3]] * 20 + [[1, 2]]])), "ragged or non-numeric"),
        ("keys.json", lambda p: p.write_text(json.dumps({"frames": [], "units": "mm"})), r"unknown keys \['units'\]"),
        ("none.json", lambda p: p.write_text("[]"), "holds no frames"),
        ("scalar.json", lambda p: p.write_text("3"), "found int"),
        ("columns.csv", lambda p: p.write_text(",".join([*CSV_COLUMNS, "speed"]) + "\n" + "1," * 63 + "2\n"),
         r"unknown columns \['speed'\]"),
        ("missing.csv", lambda p: p.write_text(",".join(CSV_COLUMNS[:-3]) + "\n" + "1," * 59 + "2\n"),
         r"missing columns \['pinky4_x'"),
        ("count.csv", lambda p: p.write_text("a,b,c\n1,2,3\n"), "expected 63 value columns"),
        ("cell.csv", lambda p: p.write_text(",".join(CSV_COLUMNS) + "\n" + "1," * 10 + "x" + ",1" * 52 + "\n"),
         "row 2, column 11: 'x' is not a number"),
        ("header.csv", lambda p: p.write_text(",".join(CSV_COLUMNS) + "\n"), "a header only"),
        ("binary.json", lambda p: p.write_bytes(b"\xff\xfe\x00\x81"), "not a UTF-8 text file"),
        ("joints.txt", lambda p: p.write_text("1 2 3"), "unsupported file type '.txt'"),
        ("absent.csv", lambda p: None, "does not exist"),
    ],
)  # fmt: skip
def test_bad_files_get_an_error_naming_the_file_and_the_problem(tmp_path: Path, name: str, make, message: str) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(HandpriorInputError, match=message) as info:
        read_sequence(path)
    assert info.value.path == path


def test_outputs_that_cannot_be_written_are_refused(tmp_path: Path) -> None:
    source = read_sequence(_npz(tmp_path / "two.npz", pred=_joints(), offsets=np.array([0, 6, 12])))
    with pytest.raises(HandpriorInputError, match="holds 2 sequences.*write a .npz"):
        write_output(tmp_path / "out.json", source, _joints(), {})
    with pytest.raises(HandpriorInputError, match="overwrite the input"):
        write_output(tmp_path / "two.npz", source, _joints(), {})
    with pytest.raises(HandpriorInputError, match="unsupported file type"):
        write_output(tmp_path / "out.h5", source, _joints(), {})
