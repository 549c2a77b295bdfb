"""Refine your own sequences with a trained checkpoint: a Python API and the ``handprior refine`` command.

    from handprior.inference.refine import Refiner

    refiner = Refiner.from_checkpoint("logs/synthetic/version_0/checkpoints/last.ckpt")
    result = refiner.refine(joints, side="left", units="auto")  # joints: (L,21,3) array, mm or m
    result["joints"]  # (L,21,3) refined, in the input's units and hand side

The checkpoint alone rebuilds the model: it is loaded weights-only (no pickled code runs) and names its
network as configuration, which is only resolved against handprior's registry of networks and filters.
"""

from __future__ import annotations

import contextlib
import glob
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from handprior.body.joints import SIDES, mirror_x
from handprior.body.mano import ManoLayer
from handprior.data.file_checks import check_no_clash, check_writable
from handprior.data.user_npz import check_joints
from handprior.errors import HandpriorInputError
from handprior.inference.devices import resolve_device
from handprior.inference.io import (
    FORMATS,
    SequenceFile,
    check_command_files,
    check_layout,
    output_files,
    read_sequence,
    write_output,
)
from handprior.inference.model import RefinementModel
from handprior.inference.preprocess import TO_MM, fill_gaps, resolve_units
from handprior.inference.streaming import StreamingRefiner
from handprior.inference.tracks import ROUND_TRIP_TOLERANCE_MM, refine_tracks, round_trip_error, runs_of
from handprior.inference.tracks_io import HandTracks, check_track_output, is_track_file, read_tracks, write_tracks
from handprior.metrics.functional import acceleration, bone_length_variation
from handprior.progress import progress_bar, progress_wanted

TRAINING_FPS = 30.0  # the built-in benchmark and handprior's datasets
MIRROR_THETA = torch.tensor([1.0, -1.0, -1.0])  # axis-angle of a mirrored (x -> -x) rotation, per joint
MAX_PLOTTED = 5  # sequences plotted by `handprior refine --plot`
WINDOWS = ("seamless", "evaluation")  # how offline refinement joins its windows


class Refiner:
    """A trained refiner for sequences in memory: validation, units, left hands, short sequences, gaps.

    Args:
        model: the network with its normalisation and windowing (put in eval mode on ``device``).
        device: where the network runs.
    """

    def __init__(self, model: RefinementModel, device: str | torch.device = "cpu") -> None:
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str = "auto",
        mano_model: str | None = None,
        net: nn.Module | None = None,
        bones: str | None = None,
    ) -> Refiner:
        """Rebuild a refiner from a checkpoint file alone (loaded weights-only; the network only from
        handprior's registry of networks and filters).

        Args:
            path: a checkpoint written by ``handprior fit``.
            device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, ...
            mano_model: the MANO model to use instead of the one the checkpoint was trained with (a folder or
                file; only needed for meshes).
            net: the network, for checkpoints that do not carry its configuration (written outside the CLI).
            bones: ``free``, ``sequence`` or ``running`` instead of the checkpoint's setting (one skeleton per
                sequence, :class:`~handprior.inference.model.RefinementModel`); None keeps the checkpoint's.
        """
        target = resolve_device(device)
        settings = {} if bones is None else {"bones": bones}
        return cls(RefinementModel.from_checkpoint(path, target, mano_model=mano_model, net=net, **settings), target)

    @property
    def window(self) -> int:
        """Frames per window, T, that the network was trained on."""
        return int(self.model.window)

    @torch.no_grad()
    def refine(
        self,
        joints: np.ndarray | Tensor,
        side: str = "right",
        units: str = "mm",
        mano: bool = False,
        interpolate_gaps: int = 0,
        source: str | Path | None = None,
        online: bool = False,
        lag: int = 0,
        compile: bool = False,
        windows: Literal["seamless", "evaluation"] = "seamless",
        stride: int | None = None,
        taper: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Refine one sequence of any length.

        Args:
            joints: ``(L,21,3)`` per-frame joints, framework order (wrist, thumb..pinky from palm to tip).
            side: ``right`` or ``left`` (left hands are mirrored x -> -x for the network and back).
            units: ``mm``, ``m`` or ``auto`` (detected from the wrist-middle MCP bone length).
            mano: also return the MANO mesh: ``vertices (L,778,3)`` and ``faces``.
            interpolate_gaps: fill runs of up to this many NaN/inf frames by linear interpolation (0: refuse).
            source: a file name for error messages.
            online: refine as a live stream would (:class:`~handprior.inference.streaming.StreamingRefiner`):
                each frame from a causal window of itself and the T-1 frames before it, no future frames.
            lag: with ``online``, frames of delay: each frame is read ``lag`` frames back in the causal window,
                so the network sees ``lag`` frames after it (0 <= lag < T).
            compile: with ``online``, ``torch.compile`` the per-frame call (faster frames after a one-off compile).
            windows: offline, how overlapping windows are joined. ``seamless``: windows every third of a window,
                blended with weights that ramp down over half a window at each end, so a frame's value moves
                smoothly from one window to the next (no step where windows meet); ``evaluation``: the protocol
                of ``handprior test``, each frame from one window (stride = the window, equal weights).
            stride: offline, frames between window starts (default: the ``windows`` setting's).
            taper: offline, frames over which a window's weight ramps down at each end (0: equal weights;
                default: the ``windows`` setting's).
            progress: called with the number of frames finished, as refinement goes (they add up to L).

        Returns:
            ``joints (L,21,3)`` refined, in the input's units and side; ``theta (L,48)`` and ``beta (L,10)``
            MANO parameters (None for networks without a MANO head; for a left hand, in the left MANO
            model's convention); with ``mano``, ``vertices`` and ``faces``; ``units``, ``side``,
            ``interpolated (L,)`` (frames that were filled), ``notes`` (what was detected or done), and
            ``jitter`` and ``bone_cv``: (input, refined) mean acceleration (mm/frame²) and bone-length variation
            (%, per bone std / mean over the sequence) of the input as refined (gaps filled) and of the output.
        """
        if side not in SIDES:
            raise HandpriorInputError(f"side must be 'right' or 'left', got {side!r}", source)
        if interpolate_gaps < 0:
            raise HandpriorInputError(f"interpolate_gaps must be >= 0, got {interpolate_gaps}", source)
        if not online and (lag or compile):
            raise HandpriorInputError("lag and compile apply to online (streaming) refinement: add --online")
        if windows not in WINDOWS:
            raise HandpriorInputError(f"windows must be one of {', '.join(WINDOWS)}, got {windows!r}", source)
        if online and (windows != "seamless" or stride is not None or taper is not None):
            raise HandpriorInputError("windows, stride and taper apply to offline refinement: drop --online")
        stride, taper = self._blending(windows, stride, taper, source)
        array = joints.detach().cpu().numpy() if isinstance(joints, Tensor) else np.asarray(joints)
        check_layout(array, "joints", source)
        if len(array) == 0:
            raise HandpriorInputError("the sequence has no frames", source)
        notes: list[str] = []
        filled, interpolated, gap_note = fill_gaps(array.astype(np.float64), interpolate_gaps, source)
        units, unit_note = resolve_units(filled, units, source)
        notes += [unit_note] if gap_note is None else [unit_note, gap_note]
        mm = filled * TO_MM[units]
        mm = check_joints(mirror_x(mm) if side == "left" else mm, "joints", source)  # finite, mm, float32
        if online:
            delay = f", read {lag} frames back (it sees {lag} frames after it)" if lag else ""
            notes.append(f"online: each frame refined from a causal window of {self.window} frames (itself and the "
                         f"frames before it; the first frame repeated before the start){delay}")  # fmt: skip
            try:
                stream = StreamingRefiner(self.model, self.window, compile=compile, lag=lag)
            except ValueError as error:  # the lag's range is StreamingRefiner's to check
                raise HandpriorInputError(str(error), source) from None
            out = stream.refine_sequence(torch.from_numpy(mm).to(self.device), progress)
        else:
            if len(mm) < self.window and not self.model.sequence_level:
                notes.append(
                    f"the sequence has {len(mm)} frames, fewer than the network's window of {self.window}: it was "
                    "padded by repeating its last frame"
                )
            out = self.model.refine_sequence(torch.from_numpy(mm).to(self.device), stride, taper, progress)
        result: dict[str, Any] = {"units": units, "side": side, "interpolated": interpolated, "notes": notes}
        before, after = torch.from_numpy(mm).double(), out["joints"].detach().double().cpu()  # (L,21,3) mm
        result["jitter"] = (_jitter(before), _jitter(after))
        result["bone_cv"] = tuple(100.0 * float(bone_length_variation(j).mean()) for j in (before, after))
        result["joints"] = self._to_user(out["joints"], side, units)
        theta, beta = out["theta"], out["beta"]
        result["theta"] = None if theta is None else self._theta_to_user(theta, side).cpu().numpy()
        result["beta"] = None if beta is None else beta.float().cpu().numpy()
        if mano:
            result.update(self._mesh(out["joints"], theta, beta, side, units, notes))
        return result

    def _blending(self, windows: str, stride: int | None, taper: int | None, source: Any) -> tuple[int, int]:
        """The stride and taper of offline refinement: the ``windows`` setting's, with the given ones instead."""
        default = self.model.seamless() if windows == "seamless" else (self.window, 0)
        stride = default[0] if stride is None else stride
        taper = default[1] if taper is None else taper
        if stride < 1 or taper < 0:
            raise HandpriorInputError(f"stride must be >= 1 and taper >= 0, got {stride} and {taper}", source)
        return stride, taper

    def _to_user(self, points_mm: Tensor, side: str, units: str) -> np.ndarray:
        """Right-hand mm (...,3) -> the user's side and units, as numpy."""
        points = points_mm.float().cpu().numpy() / TO_MM[units]
        return mirror_x(points) if side == "left" else points

    @staticmethod
    def _theta_to_user(theta: Tensor, side: str) -> Tensor:
        if side == "right":
            return theta.float()
        return (theta.float().reshape(len(theta), 16, 3) * MIRROR_THETA.to(theta.device)).reshape(len(theta), 48)

    def _mesh(
        self, joints_mm: Tensor, theta: Tensor | None, beta: Tensor | None, side: str, units: str, notes: list[str]
    ) -> dict[str, np.ndarray]:
        if theta is None:
            raise HandpriorInputError(
                f"this network ({type(self.model.net).__name__}) predicts no MANO parameters: drop --mano"
            )
        if beta is None:
            beta = theta.new_zeros(len(theta), 10)
            notes.append("the network predicts no hand shape: the mesh uses the mean shape (beta = 0)")
        try:
            layer = self.model.mano
        except HandpriorInputError as error:
            raise HandpriorInputError(
                f"{error} (the MANO model of the checkpoint; point --mano_model at a copy of it)"
            ) from None
        verts = self.model.mesh(theta, beta, joints_mm[:, 0])  # (L,778,3) mm, right hand at the refined wrist
        faces = layer.faces.cpu().numpy().astype(np.int64)
        return {
            "vertices": self._to_user(verts, side, units),
            "faces": faces[:, ::-1].copy() if side == "left" else faces,  # mirroring flips the winding
        }


def refine(
    *,
    ckpt: str,
    input: str,
    output: str,
    side: Literal["right", "left"] = "right",
    fps: float | None = None,
    units: Literal["mm", "m", "auto"] = "auto",
    mano: bool = False,
    mano_model: str | None = None,
    plot: str | None = None,
    interpolate_gaps: int = 0,
    device: str = "auto",
    online: bool = False,
    lag: int = 0,
    compile: bool = False,
    windows: Literal["seamless", "evaluation"] = "seamless",
    stride: int | None = None,
    taper: int | None = None,
    quiet: bool = False,
    beta: Literal["median", "mean"] = "median",
    beta_source: Literal["network", "input"] = "network",
    pose_prior: Literal["input", "network"] = "input",
    bones: Literal["free", "sequence"] | None = None,
) -> None:
    """Refine your own per-frame 3D hand joints with a trained checkpoint: one file, or many at once.

    Joints are 21 per frame in handprior's order: wrist, then thumb, index, middle, ring, pinky, each from the
    palm to the tip. The refined joints are written in the input's units and layout, in the format of the
    output's extension. A line per file says its frames, fps, units, the time taken, and the input -> refined
    jitter (mean acceleration, mm/frame²) and bone-length variation (per bone std / mean, %).

    Args:
        ckpt: a checkpoint written by `handprior fit` (loaded weights-only; it alone rebuilds the model), or a
            pretrained model's name: synthetic (offline) or synthetic-live (for --online --lag 0); README,
            "Pretrained models".
        input: the sequence file, or a folder or a quoted glob ("clips/*.json") of them (then --output is a
            folder). A file: .npz with pred (N,21,3) (optional: joints = ground truth, offsets (S+1,) for
            several sequences, names, fps); .json, a list of frames of 21 [x, y, z] (or 63 numbers), or
            {"frames": [...], "fps": N}; .csv, one row per frame with 63 columns (header optional) or
            joint-named columns wrist_x, ..., pinky4_z (+ frame/time/timestamp, copied through). Or HaMeR / WiLoR
            output over a video (several hands per frame with track ids; .npz or .json, detected by its keys;
            docs/estimator_tracks.md): each track is refined with one shape, its MANO pose fitted to the refined
            joints, and written in the input's layout (--beta, --beta_source, --pose_prior).
        output: where to write the refined sequence (.npz, .json or .csv); .npz also keeps the input and, with
            --mano, theta/beta/vertices/faces; for .json/.csv those go to <output stem>.mano.npz. For a folder
            or glob input, a folder (created if needed): one output per input, same name and format. The model
            is loaded once; a file that cannot be read or refined is reported and skipped, the others are
            refined, and the command ends with a summary and exit status 1 if any failed.
        side: the hand: left hands are mirrored (x -> -x) for the network and back (track files: each hand's
            is_right says).
        fps: frame rate of the input (default: the file's, if it has one); recorded in the .npz output.
        units: mm, m, or auto (detected from the wrist-middle MCP bone length, and said).
        mano: also write the MANO pose, shape and mesh vertices.
        mano_model: the MANO model folder or file, instead of the one the checkpoint was trained with.
        plot: a folder for figures and a GIF of input vs refined (and ground truth, if the .npz has it); for
            several inputs, a subfolder per input.
        interpolate_gaps: fill runs of up to N missing (NaN/inf) frames by linear interpolation; 0 refuses them.
            Track files: a track's gaps of up to N frames are filled for the network (not written), longer
            gaps split it into runs refined separately.
        device: auto (GPU if available), cpu, cuda, ...
        online: refine as a live stream would: each frame from a causal window of itself and the frames before
            it (no future frames; see handprior.inference.streaming), one network call per frame.
        lag: with --online, frames of delay (0 <= lag < window): each frame is refined with `lag` frames after
            it in view, at `lag` frames of latency (33 ms each at 30 fps); lag 4 reaches offline accuracy on the
            synthetic test set (README).
        compile: with --online, torch.compile the per-frame call (a one-off compile, then faster frames;
            timed in the README, "Real-time refinement").
        windows: offline, how overlapping windows are joined. seamless (default): windows every third of a
            window, blended with weights that ramp down over half a window at each end, so a frame moves
            smoothly from one window's output to the next (no step where windows meet; about 3x the time);
            evaluation: the protocol of `handprior test`, each frame from one window.
        stride: offline, frames between window starts (default: the --windows setting's: 9 or 27 for T = 27).
        taper: offline, frames over which a window's weight ramps down at each end, 0 = equal weights
            (default: the --windows setting's: 13 or 0 for T = 27).
        quiet: no progress bar (there is none either when stdout is not a terminal).
        beta: HaMeR/WiLoR track files (detected by their keys, docs/estimator_tracks.md): how a track's one
            shape is made from its per-frame betas: median (per component; robust to the frames where the shape
            flickers most) or mean.
        beta_source: track files: whose per-frame betas are aggregated: network (the refiner's MANO shape) or
            input (the estimator's).
        pose_prior: track files: the pose each detection's MANO fit to the refined joints starts from and is
            held near: input (the estimator's, which saw the image and knows each finger bone's twist) or
            network (the refiner's theta).
        bones: one skeleton per sequence: sequence gives every frame the sequence's median bone lengths (with
            --online, the running mean of the frames so far); free leaves the network's joints as they are.
            Default: the checkpoint's setting (free unless it was trained with --model.bones).
    """
    resolve_device(device)  # everything below up to the checkpoint is checked before any work starts
    if fps is not None and not fps > 0:
        raise HandpriorInputError(f"--fps must be positive, got {fps}")
    inputs, many = resolve_inputs(input)
    reads = {"the checkpoint": ckpt, "the MANO model": mano_model}
    pairs = [(path, output_for(path, output, many)) for path in inputs]
    if many:
        check_writable(output, folder=True)
        writes = {f"{role} of {path}": file for path, out in pairs for role, file in output_files(out, mano).items()}
        check_no_clash({**{f"the input {path}": path for path, _ in pairs}, **reads}, writes)
    settings = {"side": side, "fps": fps, "units": units, "mano": mano, "interpolate_gaps": interpolate_gaps,
                "online": online, "lag": lag, "compile": compile, "windows": windows, "stride": stride,
                "taper": taper, "beta": beta, "beta_source": beta_source, "pose_prior": pose_prior}  # fmt: skip
    jobs, failed = [], {}
    for path, out in pairs:  # every file read and checked before the model loads
        try:
            figures = None if plot is None else (Path(plot) / path.stem if many else Path(plot))
            jobs.append(_check_file(path, out, figures, reads, settings))
        except HandpriorInputError as error:
            if not many:
                raise
            failed[str(path)] = str(error)
            print(f"handprior refine: skipped {path}: {error}")
    if not jobs:
        raise HandpriorInputError(f"no file to refine ({len(failed)} failed)", input)
    refiner = Refiner.from_checkpoint(ckpt, device=device, mano_model=mano_model, bones=bones)
    total = sum(_job_frames(job) for job in jobs)
    with contextlib.ExitStack() as stack:
        bar, task = None, None
        if progress_wanted(quiet):
            bar = stack.enter_context(progress_bar("frames"))
            task = bar.add_task("refining", total=total)
        for job in jobs:
            if bar is not None:
                bar.update(task, description=job.source.path.name)
            advance = None if bar is None else (lambda frames: bar.advance(task, frames))
            try:
                _refine_file(refiner, job, settings, advance)
            except HandpriorInputError as error:
                if not many:
                    raise
                failed[str(job.source.path)] = str(error)
                print(f"handprior refine: skipped {job.source.path}: {error}")
    if many:
        done = len(inputs) - len(failed)
        print(f"handprior refine: {done} of {len(inputs)} files refined into {output}"
              + (f"; failed: {', '.join(failed)}" if failed else ""))  # fmt: skip
        if failed:
            raise SystemExit(1)


def resolve_inputs(input: str) -> tuple[list[Path], bool]:
    """The files an ``--input`` names, and whether it names many (a folder or a glob pattern): a folder's
    .npz/.json/.csv files (not .mano.npz sidecars), or the files a pattern matches, sorted."""
    path = Path(input)
    if path.is_dir():
        found = [file for file in sorted(path.iterdir()) if file.is_file() and file.suffix.lower() in FORMATS]
        found = [file for file in found if not file.name.lower().endswith(".mano.npz")]
    elif any(char in input for char in "*?[") and not path.exists():
        found = [Path(name) for name in sorted(glob.glob(input)) if Path(name).is_file()]
    else:
        return [path], False
    if not found:
        raise HandpriorInputError(f"no .npz, .json or .csv file {'in' if path.is_dir() else 'matches'} {input}")
    return found, True


def output_for(path: Path, output: str, many: bool) -> Path:
    """Where the refined ``path`` goes: ``output`` itself, or for many inputs ``output/<input's name>``."""
    return Path(output) / path.name if many else Path(output)


@dataclass
class _Job:
    """One input file, read and checked: where it goes, its units and figures."""

    source: SequenceFile
    output: Path
    kind: str
    units: str
    unit_note: str
    plot: Path | None


def _check_file(path: Path, output: Path, plot: Path | None, reads: dict[str, Any], settings: dict) -> _Job | _TrackJob:
    """Read one input and check it and its outputs before any work (clashes, units, missing frames)."""
    if is_track_file(path):
        return _check_track_file(path, output, plot, reads, settings)
    source = read_sequence(path)
    kind = check_command_files(source, output, sidecar=settings["mano"], plot=plot, reads=reads)
    if settings["fps"] is not None:
        source.fps = float(settings["fps"])
    units, unit_note = resolve_units(source.pred, settings["units"], source.path)
    for index in range(source.num_sequences):  # missing frames of every sequence, before the first is refined
        fill_gaps(source.pred[source.sequence(index)], settings["interpolate_gaps"], source.label(index))
    return _Job(source, output, kind, units, unit_note, plot)


def _refine_file(
    refiner: Refiner, job: _Job | _TrackJob, settings: dict, progress: Callable[[int], None] | None
) -> None:
    """Refine every sequence of one file, write the output (and figures), print the file's summary line."""
    if isinstance(job, _TrackJob):
        _refine_track_file(refiner, job, settings, progress)
        return
    begin = time.perf_counter()
    source, side, mano = job.source, settings["side"], settings["mano"]
    print(f"handprior refine: {job.unit_note}")
    if source.fps is not None and abs(source.fps - TRAINING_FPS) > 0.1 * TRAINING_FPS:
        print(f"handprior refine: the input is {source.fps:g} fps; refiners are trained on {TRAINING_FPS:g} fps "
              "sequences, so motion per window differs (consider resampling)")  # fmt: skip
    options = {key: settings[key] for key in ("online", "lag", "compile", "windows", "stride", "taper")}
    results = []
    for index in range(source.num_sequences):
        frames = source.sequence(index)
        name = source.names[index]
        result = refiner.refine(source.pred[frames], side, job.units, mano, settings["interpolate_gaps"],
                                source.label(index), progress=progress, **options)  # fmt: skip
        for note in result["notes"][1:]:  # the units were reported once for the file
            print(f"handprior refine: {name}: {note}")
        results.append(result)
    refined = np.concatenate([r["joints"] for r in results])
    arrays = _extra_arrays(results, source, side, job.units, refiner, mano)
    if not mano and job.kind != "npz":
        arrays = {}  # nothing for a sidecar file
    written = write_output(job.output, source, refined, arrays, decimals=4 if job.units == "mm" else 7)
    for path in written:
        print(f"handprior refine: wrote {path}")
    if job.plot is not None:
        _plot(str(job.plot), source, results, job.units)
    print(f"handprior refine: {file_summary(job, results, time.perf_counter() - begin, settings['units'])}")


@dataclass
class _TrackJob:
    """One HaMeR/WiLoR track file, read and checked."""

    source: HandTracks
    output: Path
    units: str
    unit_note: str
    frames: int  # frames the network refines (the tracks' runs, gaps filled)


def _job_frames(job: _Job | _TrackJob) -> int:
    """Frames the network will refine for a job (the progress bar's share)."""
    return job.frames if isinstance(job, _TrackJob) else len(job.source.pred)


def _check_track_file(path: Path, output: Path, plot: Path | None, reads: dict[str, Any], settings: dict) -> _TrackJob:
    """Read a track file and check it and its output before any work."""
    tracks = read_tracks(path)
    check_track_output(output, tracks)
    check_writable(output)
    check_no_clash({"the input": path, **reads}, {"the output": output})
    if settings["fps"] is not None:
        tracks.fps = float(settings["fps"])
    if plot is not None:
        print(f"handprior refine: {path.name}: no figures for a HaMeR/WiLoR track file (--plot skipped)")
    units, unit_note = resolve_units(tracks.camera_joints(), settings["units"], path)
    frames = 0
    for _, rows in tracks.tracks():
        detected = tracks.frame[rows]
        runs = runs_of(detected, settings["interpolate_gaps"])
        frames += sum(int(detected[b - 1] - detected[a]) + 1 for a, b in runs)
    return _TrackJob(tracks, output, units, unit_note, frames)


def _refine_track_file(
    refiner: Refiner, job: _TrackJob, settings: dict, progress: Callable[[int], None] | None
) -> None:
    """Refine every track of a HaMeR/WiLoR file (one shape per track, MANO fitted), write it in its own layout,
    check the written file's round trip, print a line per track and the file's summary line."""
    begin = time.perf_counter()
    tracks = job.source
    print(f"handprior refine: {job.unit_note}")
    if tracks.fps is not None and abs(tracks.fps - TRAINING_FPS) > 0.1 * TRAINING_FPS:
        print(f"handprior refine: the input is {tracks.fps:g} fps; refiners are trained on {TRAINING_FPS:g} fps "
              "sequences, so motion per window differs (consider resampling)")  # fmt: skip
    print(f"handprior refine: {tracks.path.name}: rotations given as "
          f"{'rotation matrices' if tracks.rotation == 'matrix' else 'axis-angle'}, written back the same way")  # fmt: skip
    options = {key: settings[key] for key in ("online", "lag", "compile", "windows", "stride", "taper")}
    values, reports = refine_tracks(tracks, refiner, job.units, settings["beta"], settings["beta_source"],
                                    settings["pose_prior"], settings["interpolate_gaps"], settings["mano"],
                                    progress=progress, **options)  # fmt: skip
    for report in reports:
        print(f"handprior refine: {report.line()}")
        for note in report.notes:
            print(f"handprior refine: track {report.track_id!r}: {note}")
    path = write_tracks(job.output, tracks, values, decimals=8 if job.units == "m" else 5)
    print(f"handprior refine: wrote {path}")
    layer = ManoLayer(model_path=refiner.model.mano_model_path, side="right", flat_hand_mean=True)
    round_trip = float(round_trip_error(read_tracks(path), layer, job.units).max())
    if round_trip > ROUND_TRIP_TOLERANCE_MM:
        raise HandpriorInputError(f"round trip failed: MANO of the written parameters is {round_trip:.3g} mm from "
                                  f"its keypoints_3d (tolerance {ROUND_TRIP_TOLERANCE_MM} mm)", path)  # fmt: skip
    fit = np.concatenate([[r.fit_mean_mm] * r.detections for r in reports]).mean()
    how = "detected" if settings["units"] == "auto" else "given"
    print(f"handprior refine: {tracks.path.name}: {tracks.num_detections} detections in {len(reports)} tracks, units "
          f"{job.units} ({how}), {time.perf_counter() - begin:.1f} s; one shape per track ({settings['beta']} of the "
          f"{settings['beta_source']}'s betas); MANO fit to the refined joints: mean {fit:.2f} mm; round trip: "
          f"MANO(theta, beta) reproduces keypoints_3d within {round_trip:.2g} mm")  # fmt: skip


def file_summary(job: _Job, results: list[dict[str, Any]], seconds: float, stated_units: str) -> str:
    """One line per file: frames, fps, units, time, and input -> refined jitter and bone-length variation
    (jitter averaged over the frames of all sequences, bone-length variation over the sequences)."""
    weights = np.array([max(len(r["joints"]) - 2, 0) for r in results], dtype=np.float64)  # (S,) accelerations
    jitter = np.array([r["jitter"] for r in results])  # (S,2) input, refined
    jitter = (np.nansum(jitter * weights[:, None], axis=0) / weights.sum()) if weights.sum() else [np.nan] * 2
    bone_cv = np.mean([r["bone_cv"] for r in results], axis=0)  # (2,)
    fps = "fps unknown" if job.source.fps is None else f"{job.source.fps:g} fps"
    how = "detected" if stated_units == "auto" else "given"
    return (f"{job.source.path.name}: {len(job.source.pred)} frames, {fps}, units {job.units} ({how}), "
            f"{seconds:.1f} s; jitter {jitter[0]:.2f} -> {jitter[1]:.2f} mm/frame², "
            f"bone-length variation {bone_cv[0]:.1f}% -> {bone_cv[1]:.1f}%")  # fmt: skip


def _jitter(joints: Tensor) -> float:
    """Mean acceleration magnitude of a sequence, mm/frame²: (L,21,3) mm -> a number (NaN under 3 frames)."""
    if len(joints) < 3:
        return float("nan")
    return float(acceleration(joints).norm(dim=-1).mean())


def _extra_arrays(
    results: list[dict[str, Any]], source: SequenceFile, side: str, units: str, refiner: Refiner, mano: bool
) -> dict[str, np.ndarray]:
    """What the .npz output (or the sidecar of a .json/.csv) holds besides the joints."""
    arrays: dict[str, np.ndarray] = {
        "side": np.array(side),
        "units": np.array(units),
        "interpolated": np.concatenate([r["interpolated"] for r in results]),
    }
    if mano:
        arrays["theta"] = np.concatenate([r["theta"] for r in results])
        beta = [r["beta"] for r in results]
        if all(b is not None for b in beta):
            arrays["beta"] = np.concatenate(beta)
        arrays["vertices"] = np.concatenate([r["vertices"] for r in results])
        arrays["faces"] = results[0]["faces"]
        arrays["flat_hand_mean"] = np.array(bool(refiner.model.flat_hand_mean))
        arrays["offsets"] = source.offsets
    return arrays


def _plot(folder: str, source: SequenceFile, results: list[dict[str, Any]], units: str) -> None:
    """Figures of the first sequences, in mm."""
    try:
        from handprior.inference.plots import write_refine_plots
    except ImportError as error:
        print(f"handprior refine: plots skipped ({error})")
        return
    count = min(source.num_sequences, MAX_PLOTTED)
    if source.num_sequences > count:
        print(f"handprior refine: plotting the first {count} of {source.num_sequences} sequences")
    for index in range(count):
        frames = source.sequence(index)
        scale = TO_MM[units]  # figures are in mm
        gt = None if source.gt is None else source.gt[frames] * scale
        inputs = source.pred[frames] * scale  # NaN where frames were missing
        paths = write_refine_plots(inputs, results[index]["joints"] * scale, folder, source.names[index], gt)
        for path in paths:
            print(f"handprior refine: wrote {path}")
