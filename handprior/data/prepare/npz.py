"""A user's own data as one ``.npz`` -> a sequence store, with the same validation as the dataset preparers.

Keys (``N`` frames, ``S`` sequences)::

    joints    (N,21,3)  ground truth, canonical joint order, camera frame, in ``units`` (default mm)
    pred      (N,21,3)  per-frame estimates, same conventions (optional: simulated when absent)
    offsets   (S+1,)    int, sequence s is frames offsets[s]:offsets[s+1]
    names     (S,)      str, optional
    sides     (S,)      str "right" | "left", optional (default right); left hands are mirrored here
    fps       ()        optional, default 30
    units     ()        str "mm" | "m", optional (default "mm"), checked against the joints' magnitude
    gt_theta  (N,48)    optional MANO pose (store convention, handprior/data/prepare/mano.py), with gt_beta
    gt_beta   (N,10)    optional MANO shape
    valid     (N,21)    optional bool (or 0/1): which ground-truth joints are annotated; absent = all

Frames whose ground truth, prediction or MANO values are not finite are dropped (counted) and split their
sequence in two. With ``valid``, a joint marked invalid may hold anything (NaN included): the frame is kept with
that joint masked (``valid.npy`` in the store, counted as ``joint marked invalid``), unless it is the wrist, which
drops the frame (``invalid wrist``). Everything else that is wrong raises :class:`HandpriorInputError` naming the
file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from handprior.body.joints import SIDES
from handprior.data.file_checks import check_no_clash, check_writable, store_files
from handprior.data.prepare.geometry import check_hand_size_mm
from handprior.data.prepare.mano import STORED_CONVENTION
from handprior.data.prepare.predictions import (
    UNIT_SCALE,
    as_strings,
    check_joint_array,
    read_npz,
    scalar,
    simulate_predictions,
)
from handprior.data.prepare.report import (
    INVALID_WRIST,
    JOINT_MARKED_INVALID,
    PREDICTION_NOT_FINITE,
    RunReport,
    SplitReport,
    print_summary,
)
from handprior.data.prepare.sequences import SplitBuilder, Track
from handprior.data.store import check_offsets, write_store
from handprior.data.user_npz import check_valid
from handprior.errors import HandpriorInputError

KEYS = ("joints", "pred", "offsets", "names", "sides", "fps", "units", "gt_theta", "gt_beta", "valid")
GT_NOT_FINITE = "ground truth not finite"
MANO_NOT_FINITE = "MANO values not finite"


def read_user_arrays(path: Path) -> dict[str, Any]:
    """Load and validate the file; returns joints/pred in mm, offsets, names, sides, fps, theta, beta, valid."""
    data = read_npz(path)
    unknown = sorted(set(data) - set(KEYS))
    missing = [key for key in ("joints", "offsets") if key not in data]
    if unknown or missing:
        raise HandpriorInputError(f"missing keys {missing}, unknown keys {unknown}; allowed: {list(KEYS)}", path)
    units = scalar(data, "units", "mm")
    if units not in UNIT_SCALE:
        raise HandpriorInputError(f"'units' must be 'mm' or 'm', found {units!r}", path)
    joints = check_joint_array(data["joints"], "joints", path) * UNIT_SCALE[units]  # (N,21,3) mm
    check_hand_size_mm(joints, f"'joints' declared in {units!r}", path)
    out: dict[str, Any] = {"joints": joints, "pred": None, "theta": None, "beta": None}
    out["valid"] = check_valid(data["valid"], len(joints), path) if "valid" in data else None  # (N,21) bool
    if "pred" in data:
        out["pred"] = check_joint_array(data["pred"], "pred", path) * UNIT_SCALE[units]
        if len(out["pred"]) != len(joints):
            raise HandpriorInputError(f"'joints' has {len(joints)} frames but 'pred' has {len(out['pred'])}", path)
        check_hand_size_mm(out["pred"], f"'pred' declared in {units!r}", path)
    if ("gt_theta" in data) != ("gt_beta" in data):
        raise HandpriorInputError("'gt_theta' and 'gt_beta' must be given together", path)
    for key, width, name in (("gt_theta", 48, "theta"), ("gt_beta", 10, "beta")):
        if key in data:
            if data[key].shape != (len(joints), width) or not np.issubdtype(data[key].dtype, np.number):
                raise HandpriorInputError(f"{key!r} must be numeric (N,{width}) with N={len(joints)}, found {data[key].shape}", path)
            out[name] = data[key].astype(np.float64)
    offsets = check_offsets(data["offsets"], len(joints), path)
    count = len(offsets) - 1
    out["offsets"] = offsets
    out["names"] = as_strings(data["names"], "names", path, count) if "names" in data else [f"seq{s:05d}" for s in range(count)]
    out["sides"] = as_strings(data["sides"], "sides", path, count) if "sides" in data else ["right"] * count
    bad = sorted({side for side in out["sides"] if side not in SIDES})
    if bad:
        raise HandpriorInputError(f"'sides' must hold 'right' or 'left', found {bad[:3]}", path)
    out["fps"] = float(scalar(data, "fps", 30.0))
    if not np.isfinite(out["fps"]) or out["fps"] <= 0:
        raise HandpriorInputError(f"'fps' must be a positive number, found {out['fps']}", path)
    return out


def user_tracks(arrays: dict[str, Any]) -> list[Track]:
    """One track per sequence of the file; non-finite frames are marked dropped."""
    tracks = []
    offsets = arrays["offsets"]
    for s, (start, stop) in enumerate(zip(offsets[:-1], offsets[1:])):
        rows = slice(int(start), int(stop))
        part = {key: None if arrays[key] is None else arrays[key][rows] for key in ("joints", "pred", "theta", "beta")}
        n = stop - start
        hand = Track(arrays["names"][s], arrays["sides"][s], (arrays["names"][s],), np.arange(n), part["joints"],
                     np.full(n, "", dtype=object), part["theta"], part["beta"], part["pred"])  # fmt: skip
        finite = np.isfinite(part["joints"]).all(axis=2)  # (n,21)
        if arrays["valid"] is None:
            hand.drop(~finite.all(axis=1), GT_NOT_FINITE)
        else:
            valid = arrays["valid"][rows]  # (n,21)
            hand.drop(~valid[:, 0], INVALID_WRIST)
            hand.drop((valid & ~finite).any(axis=1), GT_NOT_FINITE)
            hand.mask(~valid, JOINT_MARKED_INVALID)
        if part["pred"] is not None:
            hand.drop(~np.isfinite(part["pred"]).all(axis=(1, 2)), PREDICTION_NOT_FINITE)
        if part["theta"] is not None:
            hand.drop(~(np.isfinite(part["theta"]).all(axis=1) & np.isfinite(part["beta"]).all(axis=1)), MANO_NOT_FINITE)
        tracks.append(hand)
    return tracks


def prepare_npz(
    path: str | Path,
    out: str | Path,
    split: str = "test",
    profile: str = "interwild",
    seed: int = 0,
    min_length: int = 1,
) -> dict[str, Any]:
    """Validate a user ``.npz`` and write it as the store ``out/<split>``; returns the summary."""
    path, out = Path(path), Path(out)
    check_writable(out / split, folder=True)
    check_no_clash({"the input": path}, store_files(out / split))
    arrays = read_user_arrays(path)
    report = SplitReport(split)
    builder = SplitBuilder(report, min_length, step=1)
    for hand in user_tracks(arrays):
        builder.add(hand)
    if not builder.num_sequences:
        raise HandpriorInputError(f"no frame left after validation ({dict(report.dropped)})", path)
    packed = builder.finish()
    pred = packed.pred
    predictions: dict[str, Any] = {"simulated": False, "file": str(path), "root_relative": False}
    if pred is None:
        pred = simulate_predictions(packed.gt, packed.offsets, profile, seed, arrays["fps"])
        predictions = {"simulated": True, "profile": profile, "seed": seed, "root_relative": False}
    meta = {"dataset": path.stem, "split": split, "fps": arrays["fps"], "source_root": str(path),
            "estimator": "user" if not predictions["simulated"] else f"simulated:{profile}",
            "predictions": predictions, "root_relative": False, "mirrored_left_hands": True,
            "mano": {"available": packed.theta is not None, **(STORED_CONVENTION if packed.theta is not None else {})},
            "prepare": report.to_dict(), **packed.sequence_meta()}  # fmt: skip
    write_store(out / split, pred, packed.gt, packed.offsets, meta, packed.theta, packed.beta, valid=packed.valid)
    run = RunReport(path.stem, [report])
    print_summary(run, Console(stderr=True))
    return run.to_dict()
