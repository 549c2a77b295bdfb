"""Load official MANO model files without chumpy and without running code from the pickle.

The official ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl`` are Python-2 pickles that hold NumPy arrays, a SciPy sparse
``J_regressor`` and ``chumpy`` arrays. A pickle can name any importable callable and have it called while
loading, so :class:`RestrictedUnpickler` resolves only the globals such a file needs: NumPy array and scalar
reconstruction, ``set``, and the sparse and chumpy classes, which are mapped to inert holders whose arrays are
read from their pickled state afterwards. Everything else is refused with a :class:`HandpriorInputError` that
names the file and the refused global. :func:`convert_mano` turns a pickle into a plain ``.npz`` once.
"""

from __future__ import annotations

import importlib
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from handprior.errors import HandpriorInputError

NUM_VERTS = 778
# Expected shapes; None matches any size (faces) and shapedirs may carry more than 10 directions.
MANO_SHAPES: dict[str, tuple[int | None, ...]] = {
    "v_template": (NUM_VERTS, 3),
    "f": (None, 3),
    "kintree_table": (2, 16),
    "weights": (NUM_VERTS, 16),
    "J_regressor": (16, NUM_VERTS),
    "shapedirs": (NUM_VERTS, 3, None),
    "posedirs": (NUM_VERTS, 3, 135),
    "hands_components": (45, 45),
    "hands_mean": (45,),
}
HOW_TO_GET_MANO = (
    "Download MANO_RIGHT.pkl / MANO_LEFT.pkl from https://mano.is.tue.mpg.de (free registration, licence), "
    "optionally convert them once with `handprior mano convert <file>`, or leave model_path unset to use the "
    "built-in stand-in model."
)


class _Holder:
    """Inert stand-in for a pickled class instance: it only records the state that the pickle gives it."""

    source: str = ""

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _ChumpyHolder(_Holder):
    """A pickled ``chumpy`` object (``Ch`` or one of its reordering operations)."""


class _SparseHolder(_Holder):
    """A pickled ``scipy.sparse`` CSC/CSR matrix."""


def _holder_class(base: type[_Holder], module: str, name: str, cache: dict[str, type]) -> type:
    key = f"{module}.{name}"
    if key not in cache:
        cache[key] = type(name, (base,), {"source": key})
    return cache[key]


def _numpy_helper(submodule: str, name: str) -> Any:
    """A NumPy reconstruction helper from ``numpy._core.<submodule>`` (NumPy 2) or ``numpy.core`` (NumPy 1),
    whichever name the pickle used."""
    try:
        module = importlib.import_module(f"numpy._core.{submodule}")
    except ImportError:
        module = importlib.import_module(f"numpy.core.{submodule}")
    return getattr(module, name)


def _codecs_encode(text: str, encoding: str = "latin1") -> bytes:
    """What ``_codecs.encode`` does for the byte strings of Python-3 protocol-2 pickles, and nothing else."""
    if not isinstance(text, str) or encoding.lower() not in ("latin1", "latin-1", "iso-8859-1"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed for latin-1 byte strings")
    return text.encode("latin1")


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals a MANO model file contains.

    Allowed: ``numpy.ndarray``, ``numpy.dtype``, NumPy's ``_reconstruct`` / ``scalar`` / ``_frombuffer``,
    ``builtins.set`` / ``frozenset`` / ``object``, ``copy_reg._reconstructor`` (for holders only),
    ``_codecs.encode`` (latin-1 only), ``scipy.sparse`` CSC/CSR classes (as holders) and classes of
    ``chumpy`` modules (as holders). Anything else raises :class:`HandpriorInputError`.
    """

    _NUMPY = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    _NUMPY_HELPERS = {"multiarray": ("_reconstruct", "scalar"), "numeric": ("_frombuffer",)}
    _SPARSE_MODULES = {"scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse.csr", "scipy.sparse._csr"}
    _SPARSE_NAMES = {"csc_matrix", "csr_matrix", "csc_array", "csr_array"}
    _BUILTINS = {"set": set, "frozenset": frozenset, "object": object}

    def __init__(self, file: io.BufferedIOBase, path: str | Path) -> None:
        super().__init__(file, encoding="latin1")
        self.path = Path(path)
        self._holders: dict[str, type] = {}

    def _reconstructor(self, cls: type, base: type, state: Any) -> Any:
        """``copy_reg._reconstructor`` of protocol-0/1 pickles, limited to the inert holders."""
        if not (isinstance(cls, type) and issubclass(cls, _Holder)) or base is not object or state is not None:
            raise HandpriorInputError(f"refused to load: _reconstructor called for {cls!r}", self.path)
        return object.__new__(cls)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._NUMPY:
            return self._NUMPY[(module, name)]
        package, _, submodule = module.rpartition(".")
        if package in ("numpy.core", "numpy._core") and name in self._NUMPY_HELPERS.get(submodule, ()):
            return _numpy_helper(submodule, name)
        if module in ("builtins", "__builtin__") and name in self._BUILTINS:
            return self._BUILTINS[name]
        if module in ("copyreg", "copy_reg") and name == "_reconstructor":
            return self._reconstructor
        if module == "_codecs" and name == "encode":
            return _codecs_encode
        if module in self._SPARSE_MODULES and name in self._SPARSE_NAMES:
            return _holder_class(_SparseHolder, module, name, self._holders)
        if (module == "chumpy" or module.startswith("chumpy.")) and name.isidentifier():
            return _holder_class(_ChumpyHolder, module, name, self._holders)
        raise HandpriorInputError(
            f"refused to load: the pickle asks for the global '{module}.{name}', which a MANO model file never "
            "contains (the file is corrupt, not a MANO model, or malicious)",
            self.path,
        )


def _sparse_to_dense(holder: _SparseHolder, path: Path) -> np.ndarray:
    import scipy.sparse as sp

    state = holder.state if isinstance(holder.state, dict) else {}
    try:
        shape = tuple(int(s) for s in state.get("_shape", state.get("shape")))
        kind = sp.csc_matrix if "csc" in holder.source else sp.csr_matrix
        matrix = kind((np.asarray(state["data"]), np.asarray(state["indices"]), np.asarray(state["indptr"])), shape)
    except (KeyError, TypeError, ValueError) as err:
        raise HandpriorInputError(f"unreadable sparse matrix {holder.source}: {err}", path) from err
    return np.asarray(matrix.toarray(), dtype=np.float64)


def _chumpy_value(holder: _ChumpyHolder, path: Path, depth: int = 0) -> np.ndarray:
    """The array a pickled chumpy object stands for: a plain ``Ch`` keeps it in ``x``; the reordering
    operations ``Reshape``, ``transpose`` and ``Select`` are applied to their operand ``a``."""
    if depth > 32:
        raise HandpriorInputError("chumpy objects nested too deeply", path)
    state = holder.state if isinstance(getattr(holder, "state", None), dict) else {}
    name = holder.source.rsplit(".", 1)[-1]

    def value(key: str) -> np.ndarray:
        return np.asarray(_plain(state[key], path, depth + 1))

    try:
        if "x" in state and "a" not in state:
            return value("x")
        if name == "Reshape":
            return value("a").reshape(state["newshape"])
        if name == "transpose":
            return np.transpose(value("a"), axes=state.get("axes"))
        if name == "Select":
            out = value("a").ravel()[np.asarray(state["idxs"])]
            return out.reshape(state["preferred_shape"]) if "preferred_shape" in state else out
    except (KeyError, TypeError, ValueError) as err:
        raise HandpriorInputError(f"unreadable chumpy object {holder.source}: {err}", path) from err
    raise HandpriorInputError(
        f"holds a chumpy object of kind {holder.source} that this loader does not evaluate; convert the file with "
        "smplx's tools/clean_ch.py in an environment that has chumpy",
        path,
    )


def _plain(obj: Any, path: Path, depth: int = 0) -> Any:
    """Replace holders by arrays, recursively through dicts, lists and tuples."""
    if isinstance(obj, _ChumpyHolder):
        return _chumpy_value(obj, path, depth)
    if isinstance(obj, _SparseHolder):
        return _sparse_to_dense(obj, path)
    if isinstance(obj, dict):
        return {k: _plain(v, path, depth) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_plain(v, path, depth) for v in obj)
    return obj


def _read_pickle(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            raw = RestrictedUnpickler(handle, path).load()
    except HandpriorInputError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError, UnicodeDecodeError) as err:  # fmt: skip
        raise HandpriorInputError(
            f"not a readable MANO pickle (truncated or corrupt: {type(err).__name__}: {err})", path
        ) from err
    return _plain(raw, path)


def _read_npz(path: Path) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise HandpriorInputError(
            f"not a readable MANO .npz (truncated, corrupt, or holding Python objects: {err})", path
        ) from err


def validate_mano_model(data: Any, path: str | Path) -> dict[str, np.ndarray]:
    """Check that ``data`` holds a MANO hand model and return its nine arrays as plain NumPy arrays
    (``float64`` except ``f`` and ``kintree_table``: ``int64``). Raises :class:`HandpriorInputError` naming
    the missing keys or the wrong shapes."""
    if not isinstance(data, dict):
        raise HandpriorInputError(
            f"not a MANO model file: it holds a {type(data).__name__}, not a dict of arrays", path
        )
    missing = [key for key in MANO_SHAPES if key not in data]
    if missing:
        raise HandpriorInputError(
            f"not a MANO model file: missing {', '.join(missing)} (found keys: {', '.join(sorted(map(str, data)))})",
            path,
        )
    model: dict[str, np.ndarray] = {}
    problems = []
    for key, expected in MANO_SHAPES.items():
        try:
            dtype = np.int64 if key in ("f", "kintree_table") else np.float64
            array = np.asarray(data[key], dtype=dtype)
        except (TypeError, ValueError, OverflowError):
            problems.append(f"{key} is not numeric")
            continue
        shape_ok = array.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, array.shape))
        if not shape_ok:
            want = "(" + ", ".join("N" if e is None else str(e) for e in expected) + ")"
            problems.append(f"{key} has shape {array.shape}, expected {want}")
        elif dtype is np.float64 and not np.all(np.isfinite(array)):
            problems.append(f"{key} has NaN or infinite values")
        model[key] = array
    if not problems:
        if model["shapedirs"].shape[2] < 10:
            problems.append(f"shapedirs has {model['shapedirs'].shape[2]} shape directions, expected at least 10")
        if model["f"].size == 0 or model["f"].min() < 0 or model["f"].max() >= NUM_VERTS:
            problems.append("f has vertex indices outside 0..777")
    if problems:
        raise HandpriorInputError("not a valid MANO model file: " + "; ".join(problems), path)
    return model


def load_mano_file(path: str | Path) -> dict[str, np.ndarray]:
    """Load a MANO model file (official ``.pkl`` or converted ``.npz``) safely and check it.

    ``.pkl`` files go through :class:`RestrictedUnpickler` (no chumpy needed, no code executed, Python-2
    pickles read with ``encoding="latin1"``); ``.npz`` files are read with ``allow_pickle=False``. Returns the
    nine arrays ``smplx.MANO`` needs (see :data:`MANO_SHAPES`); raises :class:`HandpriorInputError` for a
    missing, corrupt, refused or wrong-kind file.
    """
    path = Path(path)
    if not path.is_file():
        raise HandpriorInputError(f"MANO model file not found. {HOW_TO_GET_MANO}", path)
    with path.open("rb") as handle:
        head = handle.read(4)
    if path.suffix == ".npz" or head.startswith(b"PK"):
        data: Any = _read_npz(path)
    elif path.suffix in (".pkl", ".pickle") or head[:1] in (b"\x80", b"("):
        data = _read_pickle(path)
    else:
        raise HandpriorInputError("not a MANO model file (expected a .pkl pickle or an .npz archive)", path)
    return validate_mano_model(data, path)


def convert_mano(src: str | Path, out: str | Path | None = None) -> Path:
    """Convert a MANO model file to a plain ``.npz`` that loads without pickle, and return its path.

    Reads ``src`` with :func:`load_mano_file` (the official ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl``, chumpy
    not needed) and writes the nine arrays ``smplx.MANO`` uses under their official names, unchanged (the
    left-hand ``shapedirs`` fix is applied when the model is used, not here). ``out`` defaults to ``src`` with
    the suffix ``.npz`` in the same folder; point ``model_path`` at the result or at its folder.
    """
    src = Path(src)
    target = src.with_suffix(".npz") if out is None else Path(out)
    if target.suffix != ".npz":
        target = target.with_name(target.name + ".npz")
    if target.resolve() == src.resolve():
        raise HandpriorInputError("is already an .npz; give a different output path", src)
    model = load_mano_file(src)
    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez(target, **model)
    return target
