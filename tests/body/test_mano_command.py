"""`handprior mano convert` on the command line: an official-layout pickle converted, a malicious one refused."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from handprior.body.safe_pickle import MANO_SHAPES
from handprior.cli import main


class _RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_convert_an_official_layout_pickle(tmp_path: Path, standin, write_official_pkl, capsys) -> None:
    source = write_official_pkl(tmp_path / "MANO_RIGHT.pkl", standin)
    assert b"chumpy" in source.read_bytes()
    main(["mano", "convert", str(source), "--out", str(tmp_path / "converted")])
    target = tmp_path / "converted.npz"
    assert str(target) in capsys.readouterr().out
    with np.load(target, allow_pickle=False) as archive:
        assert set(archive.files) == set(MANO_SHAPES)
        np.testing.assert_allclose(archive["v_template"], standin["v_template"])


def test_a_malicious_pickle_is_refused_and_nothing_runs(tmp_path: Path, standin, capsys) -> None:
    marker = tmp_path / "pwned"
    source = tmp_path / "MANO_RIGHT.pkl"
    source.write_bytes(pickle.dumps({**standin, "hook": _RunsShell(marker)}, protocol=2))
    with pytest.raises(SystemExit) as info:
        main(["mano", "convert", str(source)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "refused to load" in err and "system" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "MANO_RIGHT.npz").exists()
