"""`Refiner.refine` seamless by default (issue #22, item 1); `handprior refine` on many files (a folder or a glob, one model load, bad files skipped), the summary line per
file, and the progress bar's switches (issue #22, items 3-5)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from handprior.cli import main
from handprior.errors import HandpriorInputError
from handprior.inference import refine as refine_module
from handprior.inference.model import RefinementModel
from handprior.inference.refine import Refiner
from handprior.progress import progress_wanted
from tests.inference.test_seamless import WindowMean

SUMMARY = re.compile(
    r"(?P<name>\S+): (?P<frames>\d+) frames, (?P<fps>[\d.]+ fps|fps unknown), units (?P<units>mm|m) \((detected|given)\), "
    r"[\d.]+ s; jitter (?P<j0>[\d.]+) -> (?P<j1>[\d.]+) mm/frame², bone-length variation (?P<b0>[\d.]+)% -> (?P<b1>[\d.]+)%"
)


def _refine(checkpoint: Path, *args: str) -> None:
    main(["refine", "--ckpt", str(checkpoint), "--device", "cpu", *args])


def _clips(folder: Path, hand) -> None:
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps({"frames": hand(40, seed=1).tolist(), "fps": 30}))
    np.savetxt(folder / "b.csv", hand(30, seed=2).reshape(30, 63), delimiter=",")
    (folder / "c.json").write_text("[[1, 2, 3]")  # broken
    (folder / "notes.txt").write_text("not a sequence")


def test_a_folder_is_refined_file_by_file_with_one_model_load_and_bad_files_skipped(
    tmp_path: Path, checkpoint: Path, hand, capsys, monkeypatch
) -> None:
    _clips(tmp_path / "clips", hand)
    loads = []
    original = refine_module.Refiner.from_checkpoint
    monkeypatch.setattr(refine_module.Refiner, "from_checkpoint",
                        classmethod(lambda cls, *a, **k: loads.append(1) or original(*a, **k)))  # fmt: skip
    with pytest.raises(SystemExit) as info:
        _refine(checkpoint, "--input", str(tmp_path / "clips"), "--output", str(tmp_path / "out"))
    out = capsys.readouterr().out
    assert info.value.code == 1 and len(loads) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.json", "b.csv"]  # same names and formats
    assert np.array(json.loads((tmp_path / "out" / "a.json").read_text())["frames"]).shape == (40, 21, 3)
    assert np.loadtxt(tmp_path / "out" / "b.csv", delimiter=",").shape == (30, 63)
    assert f"skipped {tmp_path / 'clips' / 'c.json'}" in out
    assert f"2 of 3 files refined into {tmp_path / 'out'}; failed: {tmp_path / 'clips' / 'c.json'}" in out
    summaries = {m["name"]: m for m in SUMMARY.finditer(out)}
    assert set(summaries) == {"a.json", "b.csv"}
    assert summaries["a.json"]["frames"] == "40" and summaries["a.json"]["fps"] == "30 fps"
    assert summaries["b.csv"]["fps"] == "fps unknown" and summaries["b.csv"]["units"] == "mm"


def _jitter(joints: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(joints, n=2, axis=0), axis=-1).mean())


def _bone_cv(joints: np.ndarray) -> float:
    from handprior.body.joints import BONES

    lengths = np.stack([np.linalg.norm(joints[:, c] - joints[:, p], axis=-1) for p, c in BONES], axis=1)  # (L,20)
    return float(100 * (lengths.std(axis=0) / lengths.mean(axis=0)).mean())


def test_a_glob_with_every_file_good_exits_normally_and_the_summary_measures_input_and_output(
    tmp_path: Path, checkpoint: Path, hand, capsys
) -> None:
    _clips(tmp_path / "clips", hand)
    _refine(checkpoint, "--input", str(tmp_path / "clips" / "[ab].*"), "--output", str(tmp_path / "out"))
    out = capsys.readouterr().out
    assert "2 of 2 files refined" in out and "failed" not in out
    match = next(m for m in SUMMARY.finditer(out) if m["name"] == "a.json")
    refined = np.array(json.loads((tmp_path / "out" / "a.json").read_text())["frames"])
    assert float(match["j0"]) == pytest.approx(_jitter(hand(40, seed=1)), abs=0.01)
    assert float(match["j1"]) == pytest.approx(_jitter(refined), abs=0.01)
    assert float(match["b0"]) == pytest.approx(_bone_cv(hand(40, seed=1)), abs=0.1)
    assert float(match["b1"]) == pytest.approx(_bone_cv(refined), abs=0.1)


def test_many_files_refuse_outputs_over_their_inputs_before_any_work(
    tmp_path: Path, checkpoint: Path, hand, capsys
) -> None:
    _clips(tmp_path / "clips", hand)
    before = (tmp_path / "clips" / "a.json").read_text()
    with pytest.raises(SystemExit) as info:
        _refine(checkpoint, "--input", str(tmp_path / "clips"), "--output", str(tmp_path / "clips"))
    assert info.value.code == 2 and "would overwrite the input" in capsys.readouterr().err
    assert (tmp_path / "clips" / "a.json").read_text() == before
    (tmp_path / "twice" / "x").mkdir(parents=True)
    (tmp_path / "twice" / "y").mkdir()
    for sub in ("x", "y"):
        (tmp_path / "twice" / sub / "s.json").write_text(json.dumps(hand(30).tolist()))
    with pytest.raises(SystemExit):  # two inputs named s.json would write one output
        _refine(checkpoint, "--input", str(tmp_path / "twice" / "*" / "s.json"), "--output", str(tmp_path / "o2"))
    assert "s.json" in capsys.readouterr().err and not (tmp_path / "o2").exists()
    with pytest.raises(SystemExit):
        _refine(checkpoint, "--input", str(tmp_path / "none" / "*.json"), "--output", str(tmp_path / "o3"))
    assert "no .npz, .json or .csv file" in capsys.readouterr().err


def test_one_file_keeps_its_behaviour_and_prints_its_summary(tmp_path: Path, checkpoint: Path, hand, capsys) -> None:
    (tmp_path / "seq.json").write_text(json.dumps((hand(50) / 1000).tolist()))
    _refine(
        checkpoint, "--input", str(tmp_path / "seq.json"), "--output", str(tmp_path / "out.json"), "--quiet", "true"
    )
    match = SUMMARY.search(capsys.readouterr().out)
    assert match is not None and match["frames"] == "50" and match["units"] == "m"
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SystemExit) as info:  # a single bad file is an error, as before
        _refine(checkpoint, "--input", str(tmp_path / "bad.json"), "--output", str(tmp_path / "o.json"))
    assert info.value.code == 2


def test_progress_is_off_with_quiet_or_when_stdout_is_not_a_terminal(monkeypatch) -> None:
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert progress_wanted() and not progress_wanted(quiet=True)
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert not progress_wanted()


def test_the_progress_bar_counts_the_frames_of_every_file(tmp_path: Path, checkpoint: Path, hand, monkeypatch) -> None:
    _clips(tmp_path / "clips", hand)
    (tmp_path / "clips" / "c.json").unlink()
    advanced = []
    monkeypatch.setattr(refine_module, "progress_wanted", lambda quiet: not quiet)

    class Recorder:
        def __init__(self, *args, **kwargs) -> None: ...
        def __enter__(self):
            return self  # noqa: E704

        def __exit__(self, *args) -> None: ...  # noqa: E704
        def add_task(self, description: str, total: int) -> int:
            advanced.append(("total", total))
            return 0

        def update(self, task: int, **kwargs) -> None: ...  # noqa: E704
        def advance(self, task: int, frames: int) -> None:
            advanced.append(("frames", frames))

    monkeypatch.setattr(refine_module, "progress_bar", Recorder)
    _refine(checkpoint, "--input", str(tmp_path / "clips"), "--output", str(tmp_path / "out"))
    assert advanced[0] == ("total", 70) and sum(n for kind, n in advanced[1:]) == 70
    advanced.clear()
    _refine(checkpoint, "--input", str(tmp_path / "clips"), "--output", str(tmp_path / "o2"), "--quiet", "true")
    assert advanced == []


def test_refiner_is_seamless_by_default_and_evaluation_is_selectable(hand) -> None:
    refiner = Refiner(RefinementModel(WindowMean(), window=27))
    joints = hand(100)
    model = refiner.model
    default = refiner.refine(joints)["joints"]
    stride, taper = model.seamless()
    seamless = model.refine_sequence(torch.from_numpy(joints).float(), stride, taper)["joints"].numpy()
    evaluation = model.refine_sequence(torch.from_numpy(joints).float())["joints"].numpy()
    np.testing.assert_allclose(default, seamless, atol=1e-4)
    np.testing.assert_allclose(refiner.refine(joints, windows="evaluation")["joints"], evaluation, atol=1e-4)
    np.testing.assert_allclose(refiner.refine(joints, stride=27, taper=0)["joints"], evaluation, atol=1e-4)
    assert not np.allclose(default, evaluation, atol=1e-3)
    with pytest.raises(HandpriorInputError, match="offline"):
        refiner.refine(joints, online=True, stride=3)
    with pytest.raises(HandpriorInputError, match="stride"):
        refiner.refine(joints, stride=0)
