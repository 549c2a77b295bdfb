"""The project's own MANO-format hand model, so that everything runs without the licensed MANO file.

:func:`build_standin` returns the same arrays, under the same keys, as the official ``MANO_RIGHT.pkl`` that
``smplx.MANO`` consumes, in metres:

* ``v_template (778, 3)``: the mean hand, flat (geometry and axes in :mod:`handprior.body.standin_shape`);
* ``f (1538, 3)``: outward triangles; the only border is the 16-vertex wrist loop, as in MANO;
* ``kintree_table (2, 16)``: MANO16 parents (root 4294967295) over joint ids;
* ``weights (778, 16)``: skinning weights blending smoothly across every joint, rows summing to 1;
* ``J_regressor (16, 778)``: each joint is the mean of a symmetric loop of vertices around it;
* ``shapedirs (778, 3, 10)``: 10 named shape directions, beta ~ N(0, 1) across people;
* ``posedirs (778, 3, 135)``: a small volume-keeping bulge around each bent joint;
* ``hands_components (45, 45)``: the identity (the stand-in has no learned pose PCA);
* ``hands_mean (45,)``: a relaxed, slightly curled hand (added when ``flat_hand_mean=False``).

The tip vertex of each digit has the smplx fingertip id (744, 320, 443, 554, 671 for thumb..pinky), and the
manopth ids (745, 317, 444, 556, 673) are vertices of the ring just below each tip, 3-4 mm away. The shape
directions are, in order: size, palm width, palm length, finger length, thumb length, finger thickness,
pinky length, index/ring ratio, hand thickness, finger spread (``standin_shape.SHAPE_NAMES``). The model is
generated deterministically (no randomness) and takes a fraction of a second to build.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from handprior.body.joints import FINGERTIP_VERTEX_IDS_MANOPTH, FINGERTIP_VERTEX_IDS_SMPLX, MANO16_PARENTS
from handprior.body.standin_shape import (
    DIGIT_JOINTS,
    FINGER_PARTS,
    NUM_SHAPE,
    NUM_VERTS,
    PALM,
    THUMB,
    HandGeometry,
    hand_geometry,
)

MANO_KEYS: tuple[str, ...] = (
    "v_template",
    "f",
    "kintree_table",
    "weights",
    "J_regressor",
    "shapedirs",
    "posedirs",
    "hands_components",
    "hands_mean",
)
ROOT_PARENT = 4294967295  # how the official files mark the root (uint32 -1)

# Half-widths (mm) of the skinning blend across each digit's three joints (the thumb's first is unused).
_BLEND_MM = {"finger": (14.0, 5.0, 4.0), "thumb": (10.0, 7.0, 5.0)}
_MCP_BLEND_SHIFT_MM = 0.0  # where the knuckle blend is centred, along the finger from the MCP
_BULGE_MM = 1.2  # posedirs: outward push per unit of (3 - trace R) near a bent joint
# Relaxed pose (radians of flexion per joint, base to distal) for hands_mean.
_MEAN_FLEX = {"finger": (0.30, 0.50, 0.25), "thumb": (0.15, 0.30, 0.20)}
_FD_STEP = 1e-3  # finite-difference step on beta for the shape directions


def _smoothstep(a: np.ndarray, center: float, half_width: float) -> np.ndarray:
    """0 below ``center - half_width``, 1 above ``center + half_width``, C1-smooth in between."""
    t = np.clip((a - center + half_width) / (2.0 * half_width), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _digit_coordinates(g: HandGeometry, part: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Axial position ``(N,)`` of every vertex along a digit from its base joint, unit radial directions
    ``(N, 3)`` away from the digit's axis, and the axial positions of its 2nd and 3rd joints."""
    j1, j2, j3 = DIGIT_JOINTS[part]
    base, axis = g.joints[j1], g.digit_dir[part]
    rel = g.verts - base  # (N, 3)
    axial = rel @ axis  # (N,)
    radial = rel - axial[:, None] * axis[None, :]
    radial /= np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-9)
    return axial, radial, (float((g.joints[j2] - base) @ axis), float((g.joints[j3] - base) @ axis))


def _digit_blends(g: HandGeometry, part: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per vertex, how far it has crossed the digit's 1st, 2nd and 3rd joint: three ``(N,)`` arrays in [0, 1]."""
    axial, _, (a2, a3) = _digit_coordinates(g, part)
    w1, w2, w3 = _BLEND_MM["thumb" if part == THUMB else "finger"]
    # The thumb's base blend (palm -> CMC) is part of its share (see _thumb_share), not of its chain.
    first = np.ones_like(axial) if part == THUMB else _smoothstep(axial, _MCP_BLEND_SHIFT_MM, w1)
    return first, _smoothstep(axial, a2, w2), _smoothstep(axial, a3, w3)


def _thumb_share(g: HandGeometry) -> np.ndarray:
    """How much each vertex belongs to the thumb chain ``(N,)``: 1 on the thumb, fading out on the palm
    around the thumb's base (the thenar region)."""
    share = (g.part == THUMB).astype(np.float64)
    axial, _, _ = _digit_coordinates(g, THUMB)
    dist = np.linalg.norm(g.verts - g.joints[DIGIT_JOINTS[THUMB][0]], axis=1)  # (N,) distance to the CMC
    palm = g.part == PALM
    share[palm] = 0.8 * _smoothstep(axial[palm], -14.0, 10.0) * (1.0 - _smoothstep(dist[palm], 26.0, 10.0))
    return share


def skinning_weights(g: HandGeometry) -> np.ndarray:
    """Linear-blend-skinning weights ``(N, 16)``: each digit's vertices blend smoothly from the wrist (or the
    previous joint) to the next joint over a few millimetres around every joint; rows sum to 1."""
    weights = np.zeros((len(g.verts), 16))
    thumb = _thumb_share(g)
    for part in (*FINGER_PARTS, THUMB):
        share = thumb if part == THUMB else g.finger_share[:, part] * (1.0 - thumb)  # (N,)
        b1, b2, b3 = _digit_blends(g, part)
        j1, j2, j3 = DIGIT_JOINTS[part]
        weights[:, j1] += share * (b1 - b2)
        weights[:, j2] += share * (b2 - b3)
        weights[:, j3] += share * b3
    weights[:, 0] = 1.0 - weights[:, 1:].sum(axis=1)
    return weights


def joint_regressor(g: HandGeometry) -> np.ndarray:
    """``(16, N)``: row k averages the loop of vertices built around joint k."""
    reg = np.zeros((16, len(g.verts)))
    for k, ids in enumerate(g.joint_vertex_sets):
        reg[k, ids] = 1.0 / len(ids)
    return reg


def pose_correctives(g: HandGeometry) -> np.ndarray:
    """``(N, 3, 135)`` in metres: vertices around a bent joint move outward by ``_BULGE_MM * (3 - trace R)``
    (2.4 mm at a right angle), which offsets the thinning that linear blend skinning causes there."""
    posedirs = np.zeros((len(g.verts), 3, 135))
    thumb = _thumb_share(g)
    for part in (*FINGER_PARTS, THUMB):
        share = thumb if part == THUMB else g.finger_share[:, part] * (1.0 - thumb)
        _, radial, _ = _digit_coordinates(g, part)
        for joint, blend in zip(DIGIT_JOINTS[part], _digit_blends(g, part)):
            bump = share * 4.0 * blend * (1.0 - blend)  # (N,) 1 on the joint's loop, 0 away from it
            push = -_BULGE_MM * 1e-3 * bump[:, None] * radial  # (N, 3) per unit of (R_ii - 1)
            for diag in (0, 4, 8):  # the features R_00 - 1, R_11 - 1, R_22 - 1 of this joint
                posedirs[:, :, 9 * (joint - 1) + diag] += push
    return posedirs


def relaxed_mean_pose(g: HandGeometry) -> np.ndarray:
    """``hands_mean (45,)``: every digit flexed a little about its own flexion axis (MANO16 joints 1-15)."""
    mean = np.zeros((16, 3))
    for part in (*FINGER_PARTS, THUMB):
        flex_axis = np.cross(g.digit_nail[part], g.digit_dir[part])  # rotating about it curls to the palm
        for joint, angle in zip(DIGIT_JOINTS[part], _MEAN_FLEX["thumb" if part == THUMB else "finger"]):
            mean[joint] = angle * flex_axis
    return mean[1:].reshape(45)


def _fingertip_order(g: HandGeometry) -> np.ndarray:
    """``new_to_old (N,)``: the build order, with each tip moved to its smplx id and the vertex below it to
    its manopth id."""
    special_new = np.array(FINGERTIP_VERTEX_IDS_SMPLX + FINGERTIP_VERTEX_IDS_MANOPTH)
    special_old = np.concatenate([g.tip_ids, g.near_tip_ids])
    new_to_old = np.full(NUM_VERTS, -1, dtype=np.int64)
    new_to_old[special_new] = special_old
    rest = np.setdiff1d(np.arange(NUM_VERTS), special_old)  # the others keep their relative order
    new_to_old[new_to_old < 0] = rest
    return new_to_old


def mirror_to_left(model: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The left hand that mirrors a right-hand model through the x = 0 plane, with consistent parameters:
    a left pose ``theta * (1, -1, -1)`` per joint and the same beta give the mirrored mesh and joints.

    Unlike the official left file, the x-components of the shape directions are mirrored too (no
    ``shapedirs`` bug)."""
    sign = np.array([-1.0, 1.0, 1.0])  # (3,) the mirror M = diag(-1, 1, 1)
    feature_sign = np.outer(sign, sign).reshape(9)  # (9,) sign of (M R M - I)_ij relative to (R - I)_ij
    pose_sign = np.tile(-sign, 15)  # (45,) axis-angle is a pseudo-vector: r -> det(M) M r
    left = dict(model)
    left["v_template"] = model["v_template"] * sign
    left["f"] = model["f"][:, [0, 2, 1]]
    left["shapedirs"] = model["shapedirs"] * sign[None, :, None]
    left["posedirs"] = model["posedirs"] * sign[None, :, None] * np.tile(feature_sign, 15)[None, None, :]
    left["hands_mean"] = model["hands_mean"] * pose_sign
    left["hands_components"] = model["hands_components"] * pose_sign[None, :]
    return left


def build_standin(side: str = "right") -> dict[str, np.ndarray]:
    """The stand-in MANO model data for ``side`` ("right" or "left"): the official keys, shapes and units
    (metres), ready for ``smplx.MANO(data_struct=...)`` or :func:`write_standin`."""
    if side not in ("right", "left"):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    g = hand_geometry()
    shapedirs = np.zeros((g.verts.shape[0], 3, NUM_SHAPE))
    for k in range(NUM_SHAPE):
        step = np.zeros(NUM_SHAPE)
        step[k] = _FD_STEP
        shapedirs[:, :, k] = (hand_geometry(step, False).verts - hand_geometry(-step, False).verts) / (2.0 * _FD_STEP)
    new_to_old = _fingertip_order(g)
    old_to_new = np.argsort(new_to_old)
    model = {
        "v_template": g.verts[new_to_old] * 1e-3,
        "f": old_to_new[g.faces].astype(np.int64),
        "kintree_table": np.array(
            [[ROOT_PARENT if p < 0 else p for p in MANO16_PARENTS], list(range(16))], dtype=np.int64
        ),
        "weights": skinning_weights(g)[new_to_old],
        "J_regressor": joint_regressor(g)[:, new_to_old],
        "shapedirs": shapedirs[new_to_old] * 1e-3,
        "posedirs": pose_correctives(g)[new_to_old],
        "hands_components": np.eye(45),
        "hands_mean": relaxed_mean_pose(g),
    }
    return mirror_to_left(model) if side == "left" else model


@functools.lru_cache(maxsize=2)
def standin_model(side: str = "right") -> dict[str, np.ndarray]:
    """Cached, read-only :func:`build_standin` (copy an array before changing it)."""
    model = build_standin(side)
    for value in model.values():
        value.flags.writeable = False
    return model


def write_standin(path: str | Path, side: str = "right") -> Path:
    """Write the stand-in model as an ``.npz`` with the official key names (``.npz`` is appended if missing);
    it loads like a converted official file (``ManoLayer(model_path=...)``, ``smplx.MANO(..., ext="npz")``)."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **build_standin(side))
    return path
