"""Safe MANO loading: official-layout pickles without chumpy, refusal of foreign globals, clear errors."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from handprior.body.safe_pickle import MANO_SHAPES, convert_mano, load_mano_file
from handprior.errors import HandpriorInputError


def _assert_same_model(loaded: dict[str, np.ndarray], model: dict[str, np.ndarray]) -> None:
    assert set(loaded) == set(MANO_SHAPES)
    for key in MANO_SHAPES:
        assert loaded[key].shape == model[key].shape, key
        assert np.allclose(loaded[key], model[key]), key


@pytest.mark.parametrize("protocol, python2", [(0, False), (2, False), (2, True)])
def test_official_layout_pickle_loads_without_chumpy(
    tmp_path: Path, standin, write_official_pkl, protocol: int, python2: bool
) -> None:
    path = write_official_pkl(tmp_path / "MANO_RIGHT.pkl", standin, protocol=protocol, python2=python2)
    raw = path.read_bytes()
    assert b"chumpy.ch" in raw and b"csc_matrix" in raw
    if python2:
        assert b"_codecs" not in raw and b"cnumpy.core.multiarray\n" in raw and b"cscipy.sparse.csc\n" in raw
    loaded = load_mano_file(path)
    _assert_same_model(loaded, standin)
    assert "chumpy" not in sys.modules
    assert loaded["f"].dtype == np.int64 and loaded["J_regressor"].dtype == np.float64


def test_convert_writes_a_plain_npz(tmp_path: Path, standin, write_official_pkl) -> None:
    src = write_official_pkl(tmp_path / "MANO_RIGHT.pkl", standin)
    out = convert_mano(src)
    assert out == tmp_path / "MANO_RIGHT.npz"
    with np.load(out, allow_pickle=False) as archive:
        assert set(archive.files) == set(MANO_SHAPES)
    _assert_same_model(load_mano_file(out), standin)
    other = convert_mano(src, tmp_path / "sub" / "converted")
    assert other.name == "converted.npz" and other.is_file()
    with pytest.raises(HandpriorInputError, match="already an .npz"):
        convert_mano(out)


class _RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evaluates:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_malicious_pickle_is_refused_before_running(tmp_path: Path, standin, protocol: int) -> None:
    marker = tmp_path / "pwned"
    payload = {**{k: np.asarray(v) for k, v in standin.items()}, "hook": _RunsShell(marker)}
    path = tmp_path / "MANO_RIGHT.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=protocol))
    with pytest.raises(HandpriorInputError, match=r"refused.*(posix|nt|os)\.system") as info:
        load_mano_file(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_eval_global_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"v_template": _Evaluates()}, protocol=2))
    with pytest.raises(HandpriorInputError, match=r"(__builtin__|builtins)\.eval"):
        load_mano_file(path)


def test_truncated_pickle(tmp_path: Path, standin, write_official_pkl) -> None:
    path = write_official_pkl(tmp_path / "MANO_RIGHT.pkl", standin)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(HandpriorInputError, match="truncated or corrupt") as info:
        load_mano_file(path)
    assert info.value.path == path


def test_garbage_and_wrong_kind_files(tmp_path: Path, standin) -> None:
    garbage = tmp_path / "MANO_RIGHT.pkl"
    garbage.write_bytes(b"\x80\x02this is not a pickle at all")
    with pytest.raises(HandpriorInputError, match="corrupt"):
        load_mano_file(garbage)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(HandpriorInputError, match="not a MANO model file"):
        load_mano_file(text)
    a_list = tmp_path / "list.pkl"
    a_list.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(HandpriorInputError, match="holds a list"):
        load_mano_file(a_list)
    smpl_like = tmp_path / "SMPL_NEUTRAL.pkl"
    smpl_like.write_bytes(pickle.dumps({"v_template": np.zeros((6890, 3)), "f": np.zeros((10, 3))}, protocol=2))
    with pytest.raises(HandpriorInputError, match="missing .*weights"):
        load_mano_file(smpl_like)
    with pytest.raises(HandpriorInputError, match="not found.*mano.is.tue.mpg.de"):
        load_mano_file(tmp_path / "absent.pkl")


def test_npz_problems_are_named(tmp_path: Path, standin) -> None:
    wrong_shape = tmp_path / "wrong.npz"
    np.savez(wrong_shape, **{**standin, "weights": np.zeros((778, 15))})
    with pytest.raises(HandpriorInputError, match=r"weights has shape \(778, 15\), expected \(778, 16\)"):
        load_mano_file(wrong_shape)
    non_finite = tmp_path / "nan.npz"
    np.savez(non_finite, **{**standin, "v_template": np.full((778, 3), np.nan)})
    with pytest.raises(HandpriorInputError, match="v_template has NaN"):
        load_mano_file(non_finite)
    objects = tmp_path / "objects.npz"
    np.savez(objects, **{**standin, "f": np.array([object()] * 3)})
    with pytest.raises(HandpriorInputError, match="Python objects"):
        load_mano_file(objects)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(wrong_shape.read_bytes()[:3000])
    with pytest.raises(HandpriorInputError, match="corrupt"):
        load_mano_file(cut)
