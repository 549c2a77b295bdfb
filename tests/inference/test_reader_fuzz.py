"""Property-based fuzzing of the three user sequence readers (npz, JSON, CSV) with Hypothesis.

Valid files are truncated, have bytes flipped or inserted, hold arrays or JSON values of other types and
shapes, or declare huge arrays in their headers. Every case must end in a :class:`HandpriorInputError` naming
the file or in a valid :class:`SequenceFile`, never another exception; and nothing is written but the output
asked for. Bounded and derandomized, so it takes a few seconds and gives the same cases on every run.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handprior.errors import HandpriorInputError
from handprior.inference.io import CSV_COLUMNS, NPZ_KEYS, SequenceFile, read_sequence, sidecar_path, write_output

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
KINDS = ("npz", "json", "csv")
HUGE = 10**400  # past any float
TOKENS = ["", "n/a", "NA", "nan", "null", "None", "inf", "-inf", "1e999", "wrist_x", "frame", "x", "[", "{", '"']


def _joints(frames: int = 6) -> np.ndarray:
    joints = np.random.default_rng(frames).normal(0, 50, (frames, 21, 3)).round(2)
    joints[:, 9] = joints[:, 0] + [0.0, 90.0, 0.0]  # a plausible hand size, in mm
    joints[2, 4] = np.nan
    return joints


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _valid(kind: str) -> bytes:
    joints = _joints()
    if kind == "npz":
        return _npz_bytes(pred=joints, joints=joints, offsets=np.array([0, 2, 6]), names=np.array(["a", "b"]),
                          fps=np.array(30.0))  # fmt: skip
    if kind == "json":
        return json.dumps({"frames": joints.tolist(), "fps": 30}).encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["frame", *CSV_COLUMNS])
    writer.writerows([[index, *frame] for index, frame in enumerate(joints.reshape(-1, 63))])
    return buffer.getvalue().encode()


def _check(kind: str, content: bytes) -> None:
    """Read ``content`` as a .kind file: an error naming it or a valid result, which is then written back out;
    the folder then holds the input and what :func:`write_output` says it wrote, nothing else."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input.{kind}"
        path.write_bytes(content)
        try:
            source = read_sequence(path)
        except HandpriorInputError as error:
            assert error.path == path and "\n" not in str(error)
            assert list(Path(folder).iterdir()) == [path]
            return
        assert isinstance(source, SequenceFile)
        assert source.pred.dtype == np.float64 and source.pred.ndim == 3 and source.pred.shape[1:] == (21, 3)
        assert source.offsets.dtype == np.int64 and source.offsets[0] == 0 and source.offsets[-1] == len(source.pred)
        assert np.all(np.diff(source.offsets) > 0) and len(source.names) == source.num_sequences
        assert np.isfinite(source.pred).all(axis=(1, 2)).any()
        output = Path(folder) / f"output.{kind}"
        try:
            written = write_output(output, source, source.pred + 1, {"theta": np.zeros((len(source.pred), 48))})
        except HandpriorInputError as error:
            assert error.path == output
            written = []
        assert set(written) <= {output, sidecar_path(output)}
        assert set(Path(folder).iterdir()) == {path, *written}


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid file, truncated, with bytes flipped, or with bytes inserted."""
    kind = draw(st.sampled_from(KINDS))
    content = bytearray(_valid(kind))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["truncate", "flip", "insert"]))
        at = draw(st.integers(0, max(len(content) - 1, 0)))
        if action == "truncate":
            del content[at:]
        elif action == "flip" and content:
            content[at] ^= 1 << draw(st.integers(0, 7))
        else:
            content[at:at] = draw(st.binary(min_size=1, max_size=8))
    return kind, bytes(content)


@FUZZ
@given(_mutated())
def test_truncated_and_flipped_files(case: tuple[str, bytes]) -> None:
    _check(*case)


_DTYPES = st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(max_len=3), hnp.unicode_string_dtypes(max_len=3))
_ARRAYS = hnp.arrays(_DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))
_JOINT_LIKE = hnp.arrays(_DTYPES, st.sampled_from([(4, 21, 3), (0, 21, 3), (4, 63), (4, 21, 3, 1), (21, 3)]))


@FUZZ
@given(
    st.dictionaries(st.sampled_from([*NPZ_KEYS, "other"]), st.one_of(_ARRAYS, _JOINT_LIKE), min_size=1, max_size=4),
    st.booleans(),
)
def test_npz_with_arrays_of_any_type_and_shape(arrays: dict[str, np.ndarray], keep_pred: bool) -> None:
    if keep_pred:
        arrays = {**arrays, "pred": _joints(4)}
    _check("npz", _npz_bytes(**arrays))


@FUZZ
@given(
    st.lists(st.integers(0, 2**62), min_size=0, max_size=4).map(tuple),
    st.sampled_from(["<f8", "<i8", "<u2", "<c16", "|b1", "<U8", "|S3", "|V0", "<M8[s]", "|O"]),
    st.integers(0, 300),
)
def test_npz_declaring_huge_or_inconsistent_arrays(shape: tuple[int, ...], descr: str, data: int) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pred.npy", header.getvalue() + bytes(data))
    _check("npz", buffer.getvalue())


_LEAF = st.one_of(
    st.floats(), st.integers(-(2**70), 2**70), st.just(HUGE), st.none(), st.booleans(), st.text(max_size=3)
)
_JSON = st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=12)  # fmt: skip
_FRAME = st.one_of(
    st.lists(st.lists(_LEAF, min_size=3, max_size=3), min_size=21, max_size=21),  # leaves of any type
    st.lists(_LEAF, min_size=63, max_size=63),
    _JSON,
)


@FUZZ
@given(st.lists(_FRAME, max_size=3), st.one_of(st.none(), _LEAF, _JSON), st.sampled_from(["list", "wrapped", "other"]))
def test_json_of_any_value_types_and_shapes(frames: list, fps: object, layout: str) -> None:
    if layout == "list":
        content: object = frames
    elif layout == "wrapped":
        content = {"frames": frames, **({} if fps is None else {"fps": fps})}
    else:
        content = fps
    _check("json", json.dumps(content).encode())


_CELL = st.one_of(st.floats().map(repr), st.integers(-(10**6), 10**6).map(str), st.sampled_from(TOKENS),
                  st.text(max_size=4))  # fmt: skip


@FUZZ
@given(
    st.lists(st.lists(_CELL, min_size=60, max_size=66), min_size=1, max_size=4),
    st.sampled_from(["none", "canonical", "shuffled"]),
)
def test_csv_of_any_cells_and_widths(rows: list[list[str]], header: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header != "none":
        names = ["time", *CSV_COLUMNS]
        writer.writerow(names if header == "canonical" else names[::-1])
    writer.writerows(rows)
    _check("csv", buffer.getvalue().encode())
