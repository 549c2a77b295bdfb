"""One consistent hand per track from HaMeR / WiLoR output: refine each track, one shape, MANO fitted.

For each track of a :class:`~handprior.inference.tracks_io.HandTracks` file:

1. **Joints.** The camera-frame joints ``keypoints_3d + cam_t`` of its detections, left hands mirrored
   (x -> -x) to right hands, are cut into runs at gaps longer than ``interpolate_gaps`` frames; shorter gaps
   are filled by linear interpolation for the network (and not written: the output has the input's rows).
   Each run is refined as one sequence by the :class:`~handprior.inference.refine.Refiner`.
2. **One shape.** The track's beta is the per-component ``median`` (default; robust to the frames where the
   shape flickers most) or ``mean`` of the per-frame betas of its detections: the network's (default) or the
   estimator's (``beta_source="input"``).
3. **Pose.** The MANO pose of every detection is fitted to the refined joints with the track's beta fixed:
   axis-angle theta (48) minimising the mean squared joint distance (translation solved in closed form:
   the mean offset) plus ``prior_weight`` times the squared distance of theta to a prior pose, from which the
   fit starts: the estimator's own pose (default: it saw the image, so it knows the twist of each finger
   bone, which joint positions do not determine) or the network's.
4. **Output joints are the fitted MANO joints**: ``keypoints_3d = MANO(theta, beta)`` (the MANO origin, as
   HaMeR writes them) and ``cam_t`` the fitted translation, so that the file's parameters reproduce its joints
   (:func:`round_trip_error`, within :data:`ROUND_TRIP_TOLERANCE_MM`); the network's refined joints are kept
   beside them as ``refined_joints`` (same frame as ``keypoints_3d``) and the distance between the two as
   ``fit_error`` (mean per joint, file units).

Left hands are fitted as mirrored right hands and mirrored back: their parameters are the left MANO model's
(``M R M``, ``M = diag(-1, 1, 1)``) and their joints the mirror of the right model's, as HaMeR's demo does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from scipy.spatial.transform import Rotation
from smplx.lbs import batch_rigid_transform, batch_rodrigues, blend_shapes, vertices2joints
from torch import Tensor

from handprior.body.joints import mirror_x
from handprior.body.mano import ManoLayer
from handprior.errors import HandpriorInputError
from handprior.inference.preprocess import TO_MM
from handprior.inference.tracks_io import MIRROR, HandTracks

if TYPE_CHECKING:
    from handprior.inference.refine import Refiner

BETA_AGGREGATES = ("median", "mean")
BETA_SOURCES = ("network", "input")
POSE_PRIORS = ("input", "network")
ROUND_TRIP_TOLERANCE_MM = 0.01  # max joint distance between a written file's joints and MANO of its parameters
FIT_STEPS = 100  # L-BFGS iterations
PRIOR_WEIGHT = 1.0  # mm² of mean squared joint error per rad² of summed squared distance to the prior pose


@dataclass
class TrackReport:
    """What happened to one track (for the command's messages)."""

    track_id: Any
    side: str
    detections: int
    runs: int
    filled: int
    fit_mean_mm: float
    fit_max_mm: float
    notes: list[str]

    def line(self) -> str:
        runs = "1 run" if self.runs == 1 else f"{self.runs} runs (gaps longer than --interpolate_gaps)"
        filled = f", {self.filled} missing frames filled for the network" if self.filled else ""
        return (f"track {self.track_id!r} ({self.side}): {self.detections} detections in {runs}{filled}; MANO fit "
                f"to the refined joints: mean {self.fit_mean_mm:.2f} mm, max {self.fit_max_mm:.2f} mm")  # fmt: skip


def aggregate_beta(beta: np.ndarray, how: str = "median") -> np.ndarray:
    """One shape from per-frame shapes: (N,10) -> (10,), the per-component median or the mean."""
    if how not in BETA_AGGREGATES:
        raise HandpriorInputError(f"beta aggregate must be one of {', '.join(BETA_AGGREGATES)}, got {how!r}")
    return np.median(beta, axis=0) if how == "median" else beta.mean(axis=0)


def runs_of(frames: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Split sorted frame indices (N,) into runs ``(start, stop)`` of positions (stop exclusive), a new run
    wherever more than ``max_gap`` frames are missing between consecutive detections."""
    breaks = np.flatnonzero(np.diff(frames) > max_gap + 1) + 1
    edges = [0, *breaks.tolist(), len(frames)]
    return list(zip(edges[:-1], edges[1:]))


def mirror_rotations(matrices: np.ndarray) -> np.ndarray:
    """Rotations (...,3,3) of a hand -> those of its mirror image (x -> -x): ``M R M``; its own inverse."""
    return MIRROR @ matrices @ MIRROR


def matrices_to_theta(global_orient: np.ndarray, hand_pose: np.ndarray) -> np.ndarray:
    """(N,3,3) and (N,15,3,3) rotation matrices -> (N,48) axis-angle (flat hand mean: identity = flat)."""
    stacked = np.concatenate([global_orient[:, None], hand_pose], axis=1)  # (N,16,3,3)
    return Rotation.from_matrix(stacked.reshape(-1, 3, 3)).as_rotvec().reshape(len(stacked), 48)


def theta_to_matrices(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,48) axis-angle -> global_orient (N,3,3), hand_pose (N,15,3,3)."""
    matrices = Rotation.from_rotvec(theta.reshape(-1, 3)).as_matrix().reshape(len(theta), 16, 3, 3)
    return matrices[:, 0], matrices[:, 1:]


class MANOJoints(torch.nn.Module):
    """The 21 joints of a :class:`~handprior.body.mano.ManoLayer` for fixed shapes, without the mesh: the 16
    joints through the kinematic chain and only the 5 fingertip vertices skinned (the fit's inner loop; equal
    to the layer's joints to float precision).

    Args:
        layer: the MANO layer (flat hand mean: theta = 0 is the flat hand).
        beta: (N,10) the shape of each hand that :meth:`forward` will pose.
    """

    def __init__(self, layer: ManoLayer, beta: Tensor) -> None:
        super().__init__()
        mano = layer.mano
        if not layer.flat_hand_mean:
            raise ValueError("MANOJoints needs a flat-hand-mean layer")
        v_shaped = mano.v_template[None] + blend_shapes(beta.to(mano.shapedirs), mano.shapedirs)  # (N,778,3) m
        tips = layer.tip_ids
        self.register_buffer("joints16", vertices2joints(mano.J_regressor, v_shaped))  # (N,16,3) rest joints
        self.register_buffer("tips", v_shaped[:, tips])  # (N,5,3)
        posedirs = mano.posedirs.reshape(mano.posedirs.shape[0], -1, 3)  # (135,778,3)
        self.register_buffer("tip_posedirs", posedirs[:, tips].reshape(posedirs.shape[0], -1))  # (135,15)
        self.register_buffer("tip_weights", mano.lbs_weights[tips])  # (5,16)
        self.register_buffer("parents", mano.parents.clone())
        self.register_buffer("canon_order", layer.canon_order.clone())

    def forward(self, theta: Tensor) -> Tensor:
        """theta (N,48) axis-angle -> joints (N,21,3) mm in the framework's order (MANO origin)."""
        count = len(theta)
        rot = batch_rodrigues(theta.reshape(-1, 3)).reshape(count, 16, 3, 3)
        eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
        pose_feature = (rot[:, 1:] - eye).reshape(count, -1)  # (N,135)
        tips = self.tips + (pose_feature @ self.tip_posedirs).reshape(count, -1, 3)  # (N,5,3)
        joints, transforms = batch_rigid_transform(rot, self.joints16, self.parents)  # (N,16,3), (N,16,4,4)
        skin = torch.einsum("kj,njab->nkab", self.tip_weights, transforms)  # (N,5,4,4)
        tips = (skin[..., :3, :3] @ tips[..., None])[..., 0] + skin[..., :3, 3]
        return torch.cat([joints, tips], dim=1)[:, self.canon_order] * 1000.0


def fit_pose(
    layer: ManoLayer,
    target: Tensor,
    beta: Tensor,
    prior: Tensor,
    steps: int = FIT_STEPS,
    prior_weight: float = PRIOR_WEIGHT,
) -> tuple[Tensor, Tensor]:
    """Fit MANO poses to joints with given shapes: target (N,21,3) mm, beta (N,10), prior (N,48) axis-angle
    (also the start) -> theta (N,48), translation (N,3) mm.

    Minimises, per hand, the mean squared joint distance ``|MANO(theta, beta) + t - target|²`` (with ``t`` the
    mean offset, its optimum for a given pose) plus ``prior_weight * |theta - prior|²``, by L-BFGS with a
    strong-Wolfe line search for at most ``steps`` iterations, every hand at once (the hands are independent).
    """
    target, prior = target.float(), prior.float()
    forward = MANOJoints(layer, beta.float()).to(target.device)
    theta = prior.clone().requires_grad_(True)
    optimiser = torch.optim.LBFGS([theta], lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-9, tolerance_change=1e-12)  # fmt: skip

    def closure() -> Tensor:
        optimiser.zero_grad()
        joints = forward(theta)  # (N,21,3) mm
        offset = (target - joints).mean(dim=1, keepdim=True).detach()  # (N,1,3)
        loss = ((joints + offset - target) ** 2).sum(-1).mean(-1) + prior_weight * ((theta - prior) ** 2).sum(-1)
        loss = loss.sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    theta = theta.detach()
    with torch.no_grad():
        _, joints = layer(theta, beta.float())
    return theta, (target - joints).mean(dim=1)


def network_theta_flat(theta: np.ndarray, layer_mean: np.ndarray | None) -> np.ndarray:
    """The network's theta (N,48) in the flat-hand-mean convention of rotation matrices: ``theta + hands
    mean`` when the checkpoint's pose convention adds one (``layer_mean (48,)``), else unchanged."""
    return theta if layer_mean is None else theta + layer_mean[None]


def refine_tracks(
    tracks: HandTracks,
    refiner: Refiner,
    units: str,
    beta: Literal["median", "mean"] = "median",
    beta_source: Literal["network", "input"] = "network",
    pose_prior: Literal["input", "network"] = "input",
    interpolate_gaps: int = 0,
    vertices: bool = False,
    fit_steps: int = FIT_STEPS,
    progress: Callable[[int], None] | None = None,
    **options: Any,
) -> tuple[dict[str, np.ndarray], list[TrackReport]]:
    """Refine every track of ``tracks`` (in file ``units``) with a :class:`~handprior.inference.refine.Refiner`.

    Returns the new per-detection values in the file's row order, in file units and rotation matrices (see
    :func:`~handprior.inference.tracks_io.write_tracks`): ``global_orient (D,3,3)``, ``hand_pose (D,15,3,3)``,
    ``betas (D,10)`` (one per track), ``keypoints_3d (D,21,3)`` (the fitted MANO joints, MANO origin),
    ``cam_t (D,3)``, ``refined_joints (D,21,3)`` (the network's, in the frame of ``keypoints_3d``),
    ``fit_error (D,)`` and, with ``vertices`` (or when the input has them), ``vertices (D,778,3)``; and a
    report per track. ``options`` go to ``Refiner.refine`` (windows, stride, taper, online, lag, compile).
    """
    for name, value, allowed in (("beta", beta, BETA_AGGREGATES), ("beta_source", beta_source, BETA_SOURCES),
                                 ("pose_prior", pose_prior, POSE_PRIORS)):  # fmt: skip
        if value not in allowed:
            raise HandpriorInputError(f"{name} must be one of {', '.join(allowed)}, got {value!r}", tracks.path)
    scale = TO_MM[units]
    model = refiner.model
    layer = ManoLayer(model_path=model.mano_model_path, side="right", flat_hand_mean=True).to(refiner.device)
    hands_mean = None
    if not model.flat_hand_mean and pose_prior == "network":
        hands_mean = model.mano.mano.pose_mean.detach().cpu().numpy().reshape(48)
    count = tracks.num_detections
    camera = tracks.camera_joints() * scale  # (D,21,3) mm, as seen
    left = ~tracks.is_right  # (D,)
    right_camera = camera.copy()
    right_camera[left] = mirror_x(camera[left])  # every hand as a right hand
    refined = np.zeros((count, 21, 3))  # the network's joints, right hands, camera frame, mm
    prior = np.zeros((count, 48))
    shapes = np.zeros((count, 10))
    reports = []
    for tid, rows in tracks.tracks():
        frames = tracks.frame[rows]
        theta_net, beta_net = np.zeros((len(rows), 48)), np.zeros((len(rows), 10))
        has_mano, filled, notes = True, 0, []
        runs = runs_of(frames, interpolate_gaps)
        for start, stop in runs:
            span = frames[start:stop] - frames[start]  # positions of the run's detections in its frames
            sequence = np.full((int(span[-1]) + 1, 21, 3), np.nan)
            sequence[span] = right_camera[rows[start:stop]]
            filled += len(sequence) - len(span)
            result = refiner.refine(sequence, "right", "mm", interpolate_gaps=interpolate_gaps,
                                    source=f"{tracks.path}[track {tid!r}]", progress=progress, **options)  # fmt: skip
            notes += [note for note in result["notes"][1:] if note not in notes]
            refined[rows[start:stop]] = result["joints"][span]
            if result["theta"] is None or result["beta"] is None:
                has_mano = False
            else:
                theta_net[start:stop] = result["theta"][span]
                beta_net[start:stop] = result["beta"][span]
        if (beta_source == "network" or pose_prior == "network") and not has_mano:
            raise HandpriorInputError(
                f"this network ({type(model.net).__name__}) predicts no MANO pose or shape: use --beta_source input "
                "and --pose_prior input",
                tracks.path,
            )
        shapes[rows] = aggregate_beta(beta_net if beta_source == "network" else tracks.betas[rows], beta)
        if pose_prior == "input":
            orient, pose = tracks.global_orient[rows], tracks.hand_pose[rows]
            if left[rows[0]]:
                orient, pose = mirror_rotations(orient), mirror_rotations(pose)
            prior[rows] = matrices_to_theta(orient, pose)
        else:
            prior[rows] = network_theta_flat(theta_net, hands_mean)
        reports.append(TrackReport(tid, "left" if left[rows[0]] else "right", len(rows), len(runs), filled, 0.0,
                                   0.0, notes))  # fmt: skip
    device = refiner.device
    as_tensor = lambda array: torch.from_numpy(array).float().to(device)  # noqa: E731
    theta, transl = fit_pose(layer, as_tensor(refined), as_tensor(shapes), as_tensor(prior), fit_steps)
    with torch.no_grad():
        verts, joints = layer(theta, as_tensor(shapes))  # (D,778,3), (D,21,3) mm, right hands, MANO origin
    theta_np, transl_np = theta.cpu().double().numpy(), transl.cpu().double().numpy()
    joints_np, verts_np = joints.cpu().double().numpy(), verts.cpu().double().numpy()
    error = np.linalg.norm(joints_np + transl_np[:, None] - refined, axis=-1)  # (D,21) mm
    for report, (_, rows) in zip(reports, tracks.tracks()):
        report.fit_mean_mm, report.fit_max_mm = float(error[rows].mean()), float(error[rows].max())
    orient, pose = theta_to_matrices(theta_np)
    relative = refined - transl_np[:, None]  # the network's joints in the frame of keypoints_3d
    orient[left], pose[left] = mirror_rotations(orient[left]), mirror_rotations(pose[left])
    for array in (joints_np, transl_np, relative, verts_np):
        array[left] = mirror_x(array[left])
    out = {
        "global_orient": orient,
        "hand_pose": pose,
        "betas": shapes,
        "keypoints_3d": joints_np / scale,
        "cam_t": transl_np / scale,
        "refined_joints": relative / scale,
        "fit_error": error.mean(axis=1) / scale,
    }
    if vertices or tracks.has_vertices:
        out["vertices"] = verts_np / scale
    return out, reports


def round_trip_error(tracks: HandTracks, layer: ManoLayer, units: str) -> np.ndarray:
    """How far a file's joints are from MANO of its parameters: (D,) max joint distance in mm between
    ``keypoints_3d`` and ``MANO(global_orient, hand_pose, betas)`` (right model, flat hand mean; left hands
    through the mirrored parameters and mirrored back)."""
    scale = TO_MM[units]
    orient, pose = tracks.global_orient.copy(), tracks.hand_pose.copy()
    left = ~tracks.is_right
    orient[left], pose[left] = mirror_rotations(orient[left]), mirror_rotations(pose[left])
    theta = torch.from_numpy(matrices_to_theta(orient, pose)).float()
    with torch.no_grad():
        _, joints = layer(theta, torch.from_numpy(tracks.betas).float())  # (D,21,3) mm, right hands
    joints_np = joints.double().numpy()
    joints_np[left] = mirror_x(joints_np[left])
    return np.linalg.norm(joints_np - tracks.keypoints_3d * scale, axis=-1).max(axis=1)
