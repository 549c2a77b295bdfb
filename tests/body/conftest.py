"""Fixtures for the body tests: the stand-in model and writers of files in the official MANO layout."""

from __future__ import annotations

import io
import pickle
import struct
import sys
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from handprior.body.mano import ManoLayer
from handprior.body.standin import build_standin


class FakeCh:
    """Pickles exactly like ``chumpy.ch.Ch``: ``copyreg.__newobj__`` of class ``chumpy.ch.Ch`` then a state dict
    (its ``__dict__`` minus ``_parents`` and ``_cache``, as ``Ch.__getstate__`` returns), holding the array in ``x``."""

    def __init__(self, x: np.ndarray) -> None:
        self.__dict__.update(
            {
                "_dirty_vars": set(),
                "_itr": None,
                "_parents": {},
                "_cache": {"r": None, "drs": {}},
                "_depends_on_deps": {},
                "_make_dense": False,
                "_make_sparse": False,
                "x": np.asarray(x, dtype=np.float64),
            }
        )

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_parents"], state["_cache"]
        return state


class FakeReshape(FakeCh):
    """Pickles like ``chumpy.reordering.Reshape`` of a ``Ch`` (dterm ``a``, term ``newshape``)."""

    def __init__(self, a: FakeCh, newshape: tuple[int, ...]) -> None:
        super().__init__(np.zeros(0))
        del self.__dict__["x"]
        self.__dict__.update({"a": a, "newshape": newshape})


def _fake_chumpy_modules() -> dict[str, types.ModuleType]:
    chumpy, ch, reordering = (types.ModuleType(n) for n in ("chumpy", "chumpy.ch", "chumpy.reordering"))
    for cls, module, name in ((FakeCh, ch, "Ch"), (FakeReshape, reordering, "Reshape")):
        cls.__module__, cls.__name__, cls.__qualname__ = module.__name__, name, name
        setattr(module, name, cls)
    chumpy.ch, chumpy.reordering = ch, reordering
    return {"chumpy": chumpy, "chumpy.ch": ch, "chumpy.reordering": reordering}


def official_layout(model: dict[str, np.ndarray]) -> dict[str, object]:
    """The model as the official MANO pickle holds it: chumpy arrays, a sparse CSC regressor, extra keys."""
    return {
        "v_template": FakeCh(model["v_template"]),
        "shapedirs": FakeCh(model["shapedirs"]),
        "posedirs": FakeReshape(FakeCh(model["posedirs"].reshape(-1)), model["posedirs"].shape),
        "weights": FakeCh(model["weights"]),
        "J_regressor": sp.csc_matrix(model["J_regressor"]),
        "J": model["J_regressor"] @ model["v_template"],
        "f": model["f"].astype(np.uint32),
        "kintree_table": model["kintree_table"],
        "hands_components": model["hands_components"],
        "hands_coeffs": np.zeros((1554, 45)),
        "hands_mean": model["hands_mean"],
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


class Python2StylePickler(pickle._Pickler):
    """Writes byte strings as Python 2 did (``BINSTRING`` opcodes, read back as latin-1 ``str``), not through
    ``_codecs.encode``; used with protocol 2 like the official files."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


# Module names as Python-2-era NumPy / SciPy wrote them (GLOBAL opcodes are newline-terminated text).
_PY2_NAMES = {b"numpy._core.multiarray": b"numpy.core.multiarray", b"scipy.sparse._csc": b"scipy.sparse.csc"}


@pytest.fixture
def write_official_pkl(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """``write(path, model, protocol=2, python2=False)``: write ``model`` as an official-layout MANO pickle
    (``python2=True``: byte strings and module names as a Python 2 pickle has them). A fake ``chumpy`` exists
    only while writing, so reading it back proves the loader needs no chumpy."""

    def write(path: Path, model: dict[str, np.ndarray], protocol: int = 2, python2: bool = False) -> Path:
        with monkeypatch.context() as patch:
            for name, module in _fake_chumpy_modules().items():
                patch.setitem(sys.modules, name, module)
            if python2:
                buffer = io.BytesIO()
                Python2StylePickler(buffer, protocol=2).dump(official_layout(model))
                raw = buffer.getvalue()
                for new, old in _PY2_NAMES.items():
                    raw = raw.replace(b"c" + new + b"\n", b"c" + old + b"\n")
            else:
                raw = pickle.dumps(official_layout(model), protocol=protocol)
            path.write_bytes(raw)
        assert "chumpy" not in sys.modules
        return path

    return write


@pytest.fixture(scope="session")
def standin() -> dict[str, np.ndarray]:
    return build_standin()


@pytest.fixture(scope="session")
def layer() -> ManoLayer:
    """The stand-in ManoLayer (right hand, flat hand mean), shared by read-only tests."""
    return ManoLayer()
