"""``handprior prepare <name>``: one typed function per dataset (their docstrings are the ``--help`` text).

Each dataset command reads the official annotation files under ``--root``, joins them with a predictions file
(``--predictions``, see docs/datasets.md; simulated with the noise simulator when omitted) and writes one
sequence store per split under ``--out`` (``out/train``, ``out/val`` where the dataset has one,
``out/test``), plus ``out/prepare.json`` with the summary.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from handprior.data.prepare.converters import convert_hamer, convert_interwild
from handprior.data.prepare.dexycb import DexYCB
from handprior.data.prepare.hanco import HanCo
from handprior.data.prepare.interhand26m import InterHand26M
from handprior.data.prepare.npz import prepare_npz
from handprior.data.prepare.pipeline import run_prepare
from handprior.data.prepare.reinterhand import ReInterHand


def prepare_interhand26m(
    *,
    root: str,
    out: str,
    predictions: str | None = None,
    split: str = "all",
    cameras: list[str | int] | None = None,
    with_mano: bool = True,
    drop_truncated: bool = False,
    min_length: int = 1,
    frame_step: int | None = None,
    fps: float = 30.0,
    profile: str = "interwild",
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """InterHand2.6M (30 fps, single and interacting hands) -> out/train, out/val, out/test.

    Args:
        root: dataset root holding ``annotations/<split>/InterHand2.6M_<split>_{data,camera,joint_3d,MANO_NeuralAnnot}.json``.
        out: output folder; one sequence store per split is written under it.
        predictions: predictions ``.npz`` keyed by image path (``images/<split>/Capture<c>/<seq>/cam<cam>/image<frame>.jpg``)
            with ``hands``; omitted: predictions are simulated with the noise simulator (meta.json says so).
        split: ``all`` or a comma-separated subset of ``train,val,test``.
        cameras: only these camera names (e.g. ``[400262, 400263]``); default all (with predictions: the views they cover).
        with_mano: carry MANO ground truth (NeuralAnnot) as gt_theta/gt_beta; frames without a fit are then dropped.
        drop_truncated: also drop hands with joints outside the image (image-level ``joint_valid``).
        min_length: drop continuous sequences shorter than this many frames (counted).
        frame_step: frame-index step of consecutive frames; default: the smallest step within each track.
        fps: frame rate written to meta.json.
        profile: noise-simulator profile used when no predictions are given (strong, interwild, weak).
        seed: seed of the simulated predictions.
        progress: show a progress bar on stderr (views done, views/s, time left); off anyway when stdout
            is not a terminal.
    """
    preparer = InterHand26M(Path(root), cameras=[str(c) for c in cameras] if cameras else None, with_mano=with_mano,
                            drop_truncated=drop_truncated, fps=fps)  # fmt: skip
    return run_prepare(preparer, out, split, predictions, profile, seed, min_length, frame_step, progress)


def prepare_reinterhand(
    *,
    root: str,
    out: str,
    predictions: str | None = None,
    split: str = "all",
    cameras: list[str | int] | None = None,
    with_mano: bool = True,
    min_truncation_ratio: float = 0.2,
    min_length: int = 1,
    frame_step: int | None = None,
    fps: float = 30.0,
    profile: str = "interwild",
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Re:InterHand (7 train / 3 test captures, as InterWild) -> out/train, out/test.

    Args:
        root: folder holding the capture folders (``<capture>/frame_list.txt``, ``orig_fits``, ``mano_fits``, ``*_cameras``),
            or its parent with a ``data/`` folder.
        out: output folder; one sequence store per split is written under it.
        predictions: predictions ``.npz`` keyed by image path
            (``<capture>/Mugsy_cameras/envmap_per_segment/images/<cam>/<frame:06d>.png`` or
            ``<capture>/Ego_cameras/envmap_per_segment/images/<frame:06d>.png``) with ``hands``; omitted: simulated.
        split: ``all`` or a comma-separated subset of ``train,test``.
        cameras: only these cameras (Mugsy names, ``ego:per_segment``, ``ego:per_frame``); default all.
        with_mano: carry MANO ground truth (mano_fits) as gt_theta/gt_beta; frames without a fit are then dropped.
        min_truncation_ratio: Ego frames whose truncation ratio is below this are dropped (InterWild uses 0.2).
        min_length: drop continuous sequences shorter than this many frames (counted).
        frame_step: frame-index step of consecutive frames; default: the smallest step within each track.
        fps: frame rate written to meta.json.
        profile: noise-simulator profile used when no predictions are given.
        seed: seed of the simulated predictions.
        progress: show a progress bar on stderr (views done, views/s, time left); off anyway when stdout
            is not a terminal.
    """
    preparer = ReInterHand(Path(root), cameras=[str(c) for c in cameras] if cameras else None, with_mano=with_mano,
                           min_truncation_ratio=min_truncation_ratio, fps=fps)  # fmt: skip
    return run_prepare(preparer, out, split, predictions, profile, seed, min_length, frame_step, progress)


def prepare_hanco(
    *,
    root: str,
    out: str,
    predictions: str | None = None,
    split: str = "all",
    train_sequences: int = 1200,
    test_sequences: int = 317,
    cameras: list[int] | None = None,
    with_mano: bool = True,
    min_length: int = 1,
    fps: float = 30.0,
    profile: str = "interwild",
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """HanCo (first 1200 sequences train, last 317 test) -> out/train, out/test.

    Args:
        root: HanCo root holding ``meta.json``, ``xyz/``, ``calib/`` and ``shape/``.
        out: output folder; one sequence store per split is written under it.
        predictions: predictions ``.npz`` keyed by image path (``rgb/<sid:04d>/cam<c>/<fid:08d>.jpg``, any ``rgb_*``
            folder); ``hands`` optional (right hands only); omitted: simulated.
        split: ``all`` or a comma-separated subset of ``train,test``.
        train_sequences: the first this many sequence ids form the train split.
        test_sequences: the last this many sequence ids form the test split.
        cameras: only these cameras (0-7); default all eight.
        with_mano: carry the world MANO fits as gt_theta/gt_beta; frames without a fit are then dropped.
        min_length: drop continuous sequences shorter than this many frames (counted).
        fps: frame rate written to meta.json (HanCo's rate is not documented).
        profile: noise-simulator profile used when no predictions are given.
        seed: seed of the simulated predictions.
        progress: show a progress bar on stderr (views done, views/s, time left); off anyway when stdout
            is not a terminal.
    """
    preparer = HanCo(Path(root), train_sequences=train_sequences, test_sequences=test_sequences, cameras=cameras,
                     with_mano=with_mano, fps=fps)  # fmt: skip
    return run_prepare(preparer, out, split, predictions, profile, seed, min_length, 1, progress)


def prepare_dexycb(
    *,
    root: str,
    out: str,
    predictions: str | None = None,
    split: str = "all",
    cameras: list[str | int] | None = None,
    mano_model: str | None = None,
    min_length: int = 1,
    fps: float = 30.0,
    profile: str = "interwild",
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """DexYCB, split s0 -> out/train, out/val, out/test (MANO ground truth only with --mano_model, see meta.json).

    Args:
        root: ``$DEX_YCB_DIR`` holding the ``<date>-subject-<nn>/<sequence>/`` folders.
        out: output folder; one sequence store per split is written under it.
        predictions: predictions ``.npz`` keyed by image path (``<subject>/<sequence>/<serial>/color_<frame:06d>.jpg``);
            ``hands`` optional (one hand per sequence); omitted: simulated.
        split: ``all`` or a comma-separated subset of ``train,val,test``.
        cameras: only these camera serials; default all eight.
        mano_model: folder (or file) of the official MANO model; its PCA basis turns DexYCB's 45 PCA coefficients
            into axis-angle MANO ground truth. Omitted: the stores carry joints only.
        min_length: drop continuous sequences shorter than this many frames (counted).
        fps: frame rate written to meta.json.
        profile: noise-simulator profile used when no predictions are given.
        seed: seed of the simulated predictions.
        progress: show a progress bar on stderr (views done, views/s, time left); off anyway when stdout
            is not a terminal.
    """
    preparer = DexYCB(Path(root), cameras=[str(c) for c in cameras] if cameras else None,
                      mano_model=Path(mano_model) if mano_model else None, fps=fps)  # fmt: skip
    return run_prepare(preparer, out, split, predictions, profile, seed, min_length, 1, progress)


def prepare_user_npz(
    *, input: str, out: str, split: str = "test", profile: str = "interwild", seed: int = 0, min_length: int = 1
) -> dict[str, Any]:
    """Your own data as one ``.npz`` (joints, pred, offsets[, names, sides, fps, units]) -> out/<split>.

    Args:
        input: the ``.npz`` (keys in docs/datasets.md); ``pred`` may be omitted to simulate it.
        out: output folder; the store is written to ``out/<split>``.
        split: name of the split folder (train, val or test); prepare each split from its own file.
        profile: noise-simulator profile used when the file has no ``pred``.
        seed: seed of the simulated predictions.
        min_length: drop continuous sequences shorter than this many frames (counted).
    """
    return prepare_npz(input, out, split, profile, seed, min_length)


def convert_interwild_predictions(*, input: str, output: str) -> str:
    """Stacked InterWild outputs (img_path, rmano_joint_cam, lmano_joint_cam) -> a predictions ``.npz``.

    Args:
        input: ``.npz`` of InterWild's test-mode outputs stacked over images (docs/datasets.md).
        output: predictions file to write (metres, wrist-relative, both hands per image).
    """
    return str(convert_interwild(input, output))


def convert_hamer_predictions(*, input: str, output: str, use_translation: bool = False) -> str:
    """Stacked HaMeR outputs (img_path, right, pred_keypoints_3d[, pred_cam_t_full]) -> a predictions ``.npz``.

    Args:
        input: ``.npz`` of HaMeR's outputs stacked over detected hands (docs/datasets.md).
        output: predictions file to write (metres; wrist-relative unless use_translation).
        use_translation: add ``pred_cam_t_full`` to place hands in the camera frame (HaMeR assumes a focal length).
    """
    return str(convert_hamer(input, output, use_translation))


PREPARE_COMMANDS: dict[str, Callable[..., Any]] = {
    "interhand26m": prepare_interhand26m,
    "reinterhand": prepare_reinterhand,
    "hanco": prepare_hanco,
    "dexycb": prepare_dexycb,
    "npz": prepare_user_npz,
    "interwild": convert_interwild_predictions,
    "hamer": convert_hamer_predictions,
}
