"""Untrusted sequence files stay inert: read/write clashes, missing-value CSV cells, and one clear line (not a
stack trace) for oversized, corrupt, mislabelled or unwritable files, all checked before any work starts."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from handprior.cli import main
from handprior.data.prepare.converters import convert_interwild
from handprior.data.prepare.npz import prepare_npz
from handprior.errors import HandpriorInputError
from handprior.inference.devices import resolve_device
from handprior.inference.io import read_sequence
from handprior.inference.preprocess import resolve_units


def _refine_error(capsys, *args: str) -> str:
    """Run `handprior refine` expecting one clean error line; returns it."""
    with pytest.raises(SystemExit) as info:
        main(["refine", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    return err


# ------------------------------------------------------------------------------ item 3: reads vs writes
def test_a_mano_sidecar_never_overwrites_the_input(tmp_path: Path, checkpoint: Path, hand, capsys) -> None:
    source = tmp_path / "x.mano.npz"
    np.savez(source, pred=hand(30))
    before = source.read_bytes()
    err = _refine_error(capsys, "--ckpt", str(checkpoint), "--device", "cpu", "--input", str(source),
                        "--output", str(tmp_path / "x.json"), "--mano", "true")  # fmt: skip
    assert "sidecar" in err and err.count(str(source)) == 2  # names the written and the read file
    assert source.read_bytes() == before and not (tmp_path / "x.json").exists()


def test_outputs_and_figures_reached_through_links_are_refused(tmp_path: Path, checkpoint: Path, hand, capsys) -> None:
    source = tmp_path / "seq.json"
    source.write_text(json.dumps(hand(30).tolist()))
    before = source.read_bytes()
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "seq_refined.png").symlink_to(source)  # the figure would be written through the link
    err = _refine_error(capsys, "--ckpt", str(checkpoint), "--device", "cpu", "--input", str(source),
                        "--output", str(tmp_path / "out.json"), "--plot", str(plots))  # fmt: skip
    assert "seq_refined.png" in err and str(source) in err and "through a link" in err
    (tmp_path / "ckpt_link.npz").symlink_to(checkpoint)
    err = _refine_error(capsys, "--ckpt", str(checkpoint), "--device", "cpu", "--input", str(source),
                        "--output", str(tmp_path / "ckpt_link.npz"))  # fmt: skip
    assert "would overwrite the checkpoint" in err and str(checkpoint) in err
    assert source.read_bytes() == before and not (tmp_path / "out.json").exists()


def test_prepare_commands_refuse_to_overwrite_what_they_read(tmp_path: Path, hand) -> None:
    source = tmp_path / "interwild.npz"
    np.savez(source, img_path=np.array(["a.jpg"]), rmano_joint_cam=hand(1) / 1000, lmano_joint_cam=hand(1) / 1000)
    before = source.read_bytes()
    with pytest.raises(HandpriorInputError, match="the output would overwrite the input") as info:
        convert_interwild(source, source)
    assert info.value.path == source and source.read_bytes() == before
    (tmp_path / "out" / "test").mkdir(parents=True)
    (tmp_path / "out" / "test" / "gt.npy").symlink_to(source)
    with pytest.raises(HandpriorInputError, match=r"store file test/gt.npy would overwrite the input .*through a link"):
        prepare_npz(source, tmp_path / "out")
    assert source.read_bytes() == before


# ------------------------------------------------------------------------------ item 5: missing-value tokens
def test_a_headerless_csv_starting_with_missing_values_is_data(tmp_path: Path) -> None:
    values = np.arange(63 * 4, dtype=np.float64).reshape(4, 63) + 1
    rows = [[f"{v:g}" for v in row] for row in values]
    rows[0][:3] = ["n/a", "nan", ""]  # a first frame with missing values is not a header
    rows[2] = ["NA"] * 63  # a whole missing frame
    rows[3][5] = "null"
    (tmp_path / "plain.csv").write_text("\n".join(",".join(row) for row in rows) + "\n")
    read = read_sequence(tmp_path / "plain.csv")
    assert read.csv_header is None and len(read.pred) == 4
    flat = read.pred.reshape(4, 63)
    assert np.isnan(flat[0, :3]).all() and np.array_equal(flat[0, 3:], values[0, 3:])
    assert np.isnan(flat[2]).all() and np.isnan(flat[3, 5]) and np.array_equal(flat[1], values[1])


# ------------------------------------------------------------------------------ item 7: one line, not a trace
def _npz_declaring(path: Path, shape: tuple[int, ...]) -> Path:
    """An .npz whose 'pred' header declares ``shape`` float64 but holds a few bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pred.npy", header.getvalue() + bytes(64))
    return path


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("huge.npz", lambda p, j: _npz_declaring(p, (10**12, 21, 3)), r"declares \(1000000000000, 21, 3\) float64.*limit"),
        ("short.npz", lambda p, j: _npz_declaring(p, (1000, 21, 3)), "holds 64 bytes of data"),
        ("uint64.npz", lambda p, j: np.savez(p, pred=j, offsets=np.array([0, 2**63 + 5, 12], dtype=np.uint64)),
         "'offsets' must rise strictly"),
        ("deep.json", lambda p, j: p.write_text("[" * 200_000 + "]" * 200_000), "nested too deeply"),
        ("missing.json", lambda p, j: p.write_text(json.dumps([[[None] * 3] * 21] * 5)), "every frame is missing"),
        ("missing.csv", lambda p, j: p.write_text(",".join(["nan"] * 63) + "\n" + ",".join([""] * 63) + "\n"),
         "every frame is missing"),
        ("missing.npz", lambda p, j: np.savez(p, pred=np.full((4, 21, 3), np.nan)), "'pred': every frame is missing"),
        ("json.csv", lambda p, j: p.write_text(json.dumps(j.tolist())), "this .csv file looks like JSON"),
        ("json.npz", lambda p, j: p.write_text(json.dumps(j.tolist())), "this .npz file looks like JSON"),
        ("csv.json", lambda p, j: p.write_text("\n".join(",".join(map(str, f)) for f in j.reshape(-1, 63))),
         "this .json file looks like CSV"),
        ("npz.csv", lambda p, j: p.write_bytes(_npz_bytes(pred=j)), r"this .csv file looks like a .npz \(zip\)"),
        ("npy.npz", lambda p, j: p.write_bytes(_npy_bytes(j)), "looks like a single .npy array"),
        ("pickle.npz", lambda p, j: p.write_bytes(pickle.dumps({"pred": j}, protocol=4)), "looks like a Python pickle"),
        ("torch.npz", lambda p, j: torch.save({"pred": j}, p), "member 'torch/data.pkl' is not a numpy array"),
        ("folder.json", lambda p, j: p.mkdir(), "is a folder"),
    ],
)  # fmt: skip
def test_bad_files_get_one_line_naming_the_file(tmp_path: Path, name: str, make, message: str) -> None:
    path = tmp_path / name
    make(path, np.random.default_rng(0).normal(0, 50, (12, 21, 3)))
    with pytest.raises(HandpriorInputError, match=message) as info:
        read_sequence(path)
    assert info.value.path == path


def test_prepare_npz_refuses_uint64_offsets_past_int64(tmp_path: Path, hand) -> None:
    offsets = np.array([0, 2**63 + 5, 12], dtype=np.uint64)
    np.savez(tmp_path / "mine.npz", joints=hand(12), pred=hand(12), offsets=offsets)
    with pytest.raises(HandpriorInputError, match="'offsets' must rise strictly"):
        prepare_npz(tmp_path / "mine.npz", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_every_frame_missing_is_said_as_such() -> None:
    with pytest.raises(HandpriorInputError, match="every frame is missing"):
        resolve_units(np.full((5, 21, 3), np.nan), "auto", "seq.json")


@pytest.mark.skipif(torch.cuda.device_count() >= 8, reason="this machine has a cuda:7")
def test_a_device_this_machine_lacks_is_refused_before_any_work(tmp_path: Path, hand, capsys) -> None:
    with pytest.raises(HandpriorInputError, match="--device cuda:7: this machine has"):
        resolve_device("cuda:7")
    (tmp_path / "seq.json").write_text(json.dumps(hand(30).tolist()))
    err = _refine_error(capsys, "--ckpt", str(tmp_path / "absent.ckpt"), "--device", "cuda:7",
                        "--input", str(tmp_path / "seq.json"), "--output", str(tmp_path / "out.json"))  # fmt: skip
    assert "cuda:7" in err  # refused before the (absent) checkpoint is even looked at


def test_unwritable_outputs_are_refused_before_any_work(tmp_path: Path, hand, capsys) -> None:
    (tmp_path / "seq.json").write_text(json.dumps(hand(30).tolist()))
    absent = str(tmp_path / "absent.ckpt")  # errors below come before the checkpoint is looked at
    (tmp_path / "folder.json").mkdir()
    common = ["--ckpt", absent, "--device", "cpu", "--input", str(tmp_path / "seq.json")]
    err = _refine_error(capsys, *common, "--output", str(tmp_path / "folder.json"))
    assert "folder.json: is a folder" in err
    (tmp_path / "file").write_text("")
    err = _refine_error(capsys, *common, "--output", str(tmp_path / "file" / "out.json"))
    assert "cannot be written" in err and "is a file, not a folder" in err
    err = _refine_error(capsys, *common, "--output", str(tmp_path / "out.json"), "--plot", str(tmp_path / "file"))
    assert "is a file, not a folder to write into" in err
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        err = _refine_error(capsys, *common, "--output", str(locked / "out.json"))
        assert "no write permission" in err
