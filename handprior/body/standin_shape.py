"""Geometry of the stand-in hand: a 778-vertex right-hand mesh built around MANO's 16-joint skeleton.

Axes (right hand, millimetres here; the model file stores metres):

* the wrist joint is at the origin, at the centre of the open wrist loop (16 boundary vertices, like MANO);
* the fingers point along ``-x``;
* the palm faces ``-y`` (the back of the hand is ``+y``);
* the thumb is on the ``+z`` side (radial), the pinky on ``-z`` (ulnar).

This matches the orientation of the official MANO right hand, so a rotation about ``+z`` at a finger joint
flexes that finger towards the palm (curls it), a rotation about ``y`` spreads it. The thumb points along
:data:`THUMB_DIR` with its nail facing roughly radial-dorsal; its flexion axis is ``cross(nail, THUMB_DIR)``.

The mesh is made of closed vertex loops: the wrist loop, a transition loop, 8 palm levels of 28 vertices
(a dorsal row of 13 columns, the ulnar side, a palmar row of 13, the radial side), then per finger 13 rings of
8 and a tip apex, and for the thumb 12 rings of 8 and an apex, attached to a hole cut in the radial side of
the palm. Every joint is the centroid of a symmetric set of vertices around it, so a linear joint regressor
reproduces it exactly for any shape. :func:`hand_geometry` maps 10 shape coefficients (the stand-in's
``beta``, each ~N(0, 1) across people) to vertex positions; the model's ``shapedirs`` are its linearisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handprior.body.meshing import fan, orient_outward, radial_outward, stitch_loops

NUM_VERTS = 778
NUM_SHAPE = 10

# Parts of the mesh. Digits 1-4 are the fingers from index to pinky, 5 the thumb.
PALM, INDEX, MIDDLE, RING, PINKY, THUMB = range(6)
FINGER_PARTS = (INDEX, MIDDLE, RING, PINKY)
# MANO joint ids (MANO16 order) of each digit's three joints, base to distal.
DIGIT_JOINTS: dict[int, tuple[int, int, int]] = {
    INDEX: (1, 2, 3),
    MIDDLE: (4, 5, 6),
    RING: (10, 11, 12),
    PINKY: (7, 8, 9),
    THUMB: (13, 14, 15),
}

# What each of the 10 shape coefficients changes, and by how much per unit (one standard deviation).
SHAPE_NAMES: tuple[str, ...] = (
    "size",  # whole hand, log-scale 0.075: wrist to middle MCP 95 mm -> ~81 / ~110 mm at beta = -2 / +2
    "palm_width",  # palm and knuckle spacing, log-scale 0.06
    "palm_length",  # wrist to knuckles, log-scale 0.05
    "finger_length",  # the four fingers' phalanges, log-scale 0.06
    "thumb_length",  # thumb segments, log-scale 0.07
    "finger_thickness",  # radii of fingers and thumb, log-scale 0.08
    "pinky_length",  # pinky phalanges, log-scale 0.08
    "index_ring_ratio",  # index longer / ring shorter, log-ratio 0.04
    "hand_thickness",  # palm thickness (dorsal-palmar), log-scale 0.08
    "finger_spread",  # rest splay angle of the fingers, +-30 % per unit
)

# Rest layout at beta = 0, millimetres (see the module docstring for the axes).
_MCP = {  # knuckle centres
    INDEX: (-88.0, -1.5, 20.0),
    MIDDLE: (-95.0, 0.0, 1.0),
    RING: (-90.0, -1.5, -17.0),
    PINKY: (-81.0, -4.0, -33.0),
}
_SPLAY_DEG = {INDEX: 7.0, MIDDLE: 1.0, RING: -5.0, PINKY: -12.0}  # towards +z (thumb side)
_PHALANGES = {  # MCP->PIP, PIP->DIP, DIP->tip apex
    INDEX: (40.0, 24.0, 21.0),
    MIDDLE: (45.0, 28.0, 23.0),
    RING: (42.0, 27.0, 23.0),
    PINKY: (33.0, 20.0, 20.0),
    THUMB: (42.0, 32.0, 28.0),  # CMC->MCP, MCP->IP, IP->tip apex
}
_RADII = {  # half-widths: at the base, at the middle joint, at the distal joint, of the fingertip
    INDEX: (10.0, 9.0, 8.2, 7.8),
    MIDDLE: (10.4, 9.3, 8.4, 8.0),
    RING: (9.8, 8.8, 8.0, 7.6),
    PINKY: (8.6, 7.8, 7.2, 6.8),
    THUMB: (12.5, 10.5, 9.6, 9.0),
}
_FLATNESS = 0.85  # finger half-thickness / half-width
THUMB_DIR = np.array([-0.74, -0.26, 0.62]) / np.linalg.norm([-0.74, -0.26, 0.62])
_THUMB_NAIL_HINT = np.array([0.0, 0.7, 0.7])

_RING = 8  # vertices per finger ring
_COLS = 13  # palm columns: 4 fingers x 4 columns, neighbours sharing their crotch column
_PALM_RING = 2 * _COLS + 2
_LEVELS = 8  # palm levels: 0 near the wrist ... 6 through the knuckles, 7 at the finger webs
_MCP_LEVEL = _LEVELS - 2
_WRIST_RING = 16
_TRANSITION_RING = 22  # chosen so that the mesh has exactly 778 vertices
_HOLE_LEVELS = (1, 2)  # quads of the palm grid removed for the thumb (levels 1-2, around the radial side)
_HOLE_RING = (_PALM_RING - 2, _PALM_RING - 1)  # palmar edge column -> radial side -> dorsal edge column
_FINGER_COLUMNS = {INDEX: (0, 1, 2, 3), MIDDLE: (3, 4, 5, 6), RING: (6, 7, 8, 9), PINKY: (9, 10, 11, 12)}


@dataclass(frozen=True)
class HandGeometry:
    """The stand-in mesh for one shape, in millimetres, in the natural build order of its vertices."""

    verts: np.ndarray  # (N, 3)
    faces: np.ndarray  # (F, 3) int64, outward-facing
    joints: np.ndarray  # (16, 3) MANO16 order; joint k = mean of verts[joint_vertex_sets[k]]
    joint_vertex_sets: tuple[np.ndarray, ...]  # 16 arrays of vertex ids
    part: np.ndarray  # (N,) PALM or a digit
    finger_share: np.ndarray  # (N, 6) how much each vertex belongs to each digit's chain (rows of palm may split)
    digit_dir: np.ndarray  # (6, 3) unit axis of each digit (row PALM: -x)
    digit_nail: np.ndarray  # (6, 3) unit dorsal (nail) direction of each digit (row PALM: +y)
    tip_ids: np.ndarray  # (5,) apex vertex of thumb, index, middle, ring, pinky
    near_tip_ids: np.ndarray  # (5,) a vertex of the ring just below each apex (palmar side)


def shape_factors(beta: np.ndarray) -> dict[str, float]:
    """Multiplicative factors of the geometry for shape coefficients ``beta (10,)``."""
    b = np.zeros(NUM_SHAPE)
    b[: len(beta)] = beta
    return {
        "size": float(np.exp(0.075 * b[0])),
        "palm_width": float(np.exp(0.06 * b[1])),
        "palm_length": float(np.exp(0.05 * b[2])),
        "finger_length": float(np.exp(0.06 * b[3])),
        "thumb_length": float(np.exp(0.07 * b[4])),
        "finger_thickness": float(np.exp(0.08 * b[5])),
        "pinky_length": float(np.exp(0.08 * b[6])),
        "index_length": float(np.exp(0.02 * b[7])),
        "ring_length": float(np.exp(-0.02 * b[7])),
        "hand_thickness": float(np.exp(0.08 * b[8])),
        "finger_spread": float(1.0 + 0.3 * b[9]),
    }


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _octagon(center: np.ndarray, lat: np.ndarray, nail: np.ndarray, radius: float) -> np.ndarray:
    """Ring ``(8, 3)`` of a digit cross-section: 4 dorsal then 4 palmar points, symmetric about ``center``."""
    theta = (np.arange(_RING) + 0.5) * (2.0 * np.pi / _RING)  # 22.5, 67.5, ... degrees from the radial side
    return center + radius * (np.cos(theta)[:, None] * lat + _FLATNESS * np.sin(theta)[:, None] * nail)


def _ellipse(center: np.ndarray, n: int, half_z: float, half_y: float, phase: float = 0.0) -> np.ndarray:
    """Loop ``(n, 3)`` in the plane x = center.x, symmetric about ``center``."""
    theta = (np.arange(n) + phase) * (2.0 * np.pi / n)
    return center + np.stack([np.zeros(n), half_y * np.sin(theta), half_z * np.cos(theta)], axis=1)


@dataclass(frozen=True)
class _Digit:
    """Skeleton of one digit for a given shape."""

    base: np.ndarray  # (3,) MCP (fingers) or CMC (thumb)
    direction: np.ndarray  # (3,) unit
    nail: np.ndarray  # (3,) unit, orthogonal to direction
    lat: np.ndarray  # (3,) unit, cross(nail, direction): the flexion axis, radial for the fingers
    lengths: tuple[float, float, float]
    radii: tuple[float, float, float, float]

    def point(self, a: float) -> np.ndarray:
        return self.base + a * self.direction


def _finger(part: int, f: dict[str, float]) -> _Digit:
    x, y, z = _MCP[part]
    base = np.array([x * f["palm_length"], y * f["hand_thickness"], z * f["palm_width"]])
    alpha = np.deg2rad(_SPLAY_DEG[part] * f["finger_spread"])
    direction = np.array([-np.cos(alpha), 0.0, np.sin(alpha)])
    nail = np.array([0.0, 1.0, 0.0])
    scale = f["finger_length"] * {INDEX: f["index_length"], RING: f["ring_length"], PINKY: f["pinky_length"]}.get(
        part, 1.0
    )
    lengths = tuple(scale * length for length in _PHALANGES[part])
    radii = tuple(f["finger_thickness"] * r for r in _RADII[part])
    return _Digit(base, direction, nail, np.cross(nail, direction), lengths, radii)


def _thumb(cmc: np.ndarray, f: dict[str, float]) -> _Digit:
    nail = _unit(_THUMB_NAIL_HINT - (_THUMB_NAIL_HINT @ THUMB_DIR) * THUMB_DIR)
    lengths = tuple(f["thumb_length"] * length for length in _PHALANGES[THUMB])
    radii = tuple(f["finger_thickness"] * r for r in _RADII[THUMB])
    return _Digit(cmc, THUMB_DIR.copy(), nail, np.cross(nail, THUMB_DIR), lengths, radii)


def _digit_stations(d: _Digit, start: float, n_base: int, n_mid: int) -> list[tuple[float, float]]:
    """Axial positions and radii of a digit's rings: ``n_base`` up to the 2nd joint, ``n_mid`` up to the 3rd,
    then 3 along the distal phalanx and 2 on the rounded tip (polar angles 60 and 30 degrees)."""
    l1, l2, l3 = d.lengths
    r0, r1, r2, r3 = d.radii
    j2, j3, apex = l1, l1 + l2, l1 + l2 + l3
    stations = [(a, np.interp(a, [start, j2], [r0, r1])) for a in np.linspace(start, j2, n_base + 1)[1:]]
    stations += [(a, np.interp(a, [j2, j3], [r1, r2])) for a in np.linspace(j2, j3, n_mid + 1)[1:]]
    equator = apex - r3
    stations += [(a, np.interp(a, [j3, equator], [r2, r3])) for a in np.linspace(j3, equator, 4)[1:]]
    stations += [(equator + r3 * np.cos(phi), r3 * np.sin(phi)) for phi in np.deg2rad([60.0, 30.0])]
    return stations


class _Builder:
    """Accumulates vertices with their part and digit share, and the bands of faces to make from them.

    Faces are only made on request (:meth:`make_faces`): the topology does not depend on the shape, and the
    shape directions need many vertex-only builds."""

    def __init__(self) -> None:
        self.verts: list[np.ndarray] = []
        self.part: list[int] = []
        self.share: list[np.ndarray] = []
        self.pending: list[tuple] = []

    def add(self, points: np.ndarray, part: int, share: np.ndarray | None = None) -> np.ndarray:
        start = len(self.verts)
        for p in np.atleast_2d(points):
            self.verts.append(np.asarray(p, dtype=np.float64))
            self.part.append(part)
            row = np.zeros(6)
            row[part] = 1.0
            self.share.append(row if share is None else share)
        return np.arange(start, len(self.verts))

    def band(self, loop_a, loop_b, axis: np.ndarray) -> None:
        self.pending.append((self._band, loop_a, loop_b, axis))

    def cap(self, loop, apex: int, direction: np.ndarray) -> None:
        self.pending.append((self._cap, loop, apex, direction))

    def quads(self, grid: np.ndarray, skip: set[tuple[int, int]], axis: np.ndarray) -> None:
        self.pending.append((self._quads, grid, skip, axis))

    def make_faces(self) -> np.ndarray:
        """All faces ``(F, 3)``, outward-facing, in the order their bands were added."""
        v = np.asarray(self.verts)
        return np.concatenate([op(v, *args) for op, *args in self.pending])

    @staticmethod
    def _band(v: np.ndarray, loop_a, loop_b, axis: np.ndarray) -> np.ndarray:
        faces = stitch_loops(loop_a, loop_b, v, axis)
        center = v[np.concatenate([np.asarray(loop_a), np.asarray(loop_b)])].mean(axis=0)
        return orient_outward(faces, v, radial_outward(faces, v, center, axis))

    @staticmethod
    def _cap(v: np.ndarray, loop, apex: int, direction: np.ndarray) -> np.ndarray:
        faces = fan(loop, apex)
        return orient_outward(faces, v, np.tile(direction, (len(faces), 1)))

    @staticmethod
    def _quads(v: np.ndarray, grid: np.ndarray, skip: set[tuple[int, int]], axis: np.ndarray) -> np.ndarray:
        """Two triangles per quad of a ``(levels, ring)`` id grid whose rows are closed loops."""
        levels, ring = grid.shape
        faces, outward = [], []
        for lv in range(levels - 1):
            ids = np.concatenate([grid[lv], grid[lv + 1]])
            center = v[ids[ids >= 0]].mean(axis=0)
            for r in range(ring):
                if (lv, r) in skip:
                    continue
                a, b = grid[lv, r], grid[lv, (r + 1) % ring]
                c, d = grid[lv + 1, (r + 1) % ring], grid[lv + 1, r]
                quad = np.array([[a, b, c], [a, c, d]])
                faces.append(quad)
                outward.append(radial_outward(quad, v, center, axis))
        return orient_outward(np.concatenate(faces), v, np.concatenate(outward))


def _palm_grid(fingers: dict[int, _Digit], f: dict[str, float]) -> np.ndarray:
    """Positions ``(levels, 28, 3)`` of the palm loops: dorsal columns 0..12, ulnar side, palmar 12..0, radial side."""
    pw, pl, pt = f["palm_width"], f["palm_length"], f["hand_thickness"]
    grid = np.zeros((_LEVELS, _PALM_RING, 3))
    # Knuckle level: every finger's inner columns straddle its MCP; crotch columns lie between neighbours.
    knuckle_mid = np.zeros((_COLS, 3))
    knuckle_half = np.zeros(_COLS)
    for part, cols in _FINGER_COLUMNS.items():
        d = fingers[part]
        for col, off in zip(cols, (1.0, 0.42, -0.42, -1.0)):
            side = d.base + off * (1.1 if abs(off) == 1.0 else 1.0) * d.radii[0] * d.lat
            share = 0.5 if (abs(off) == 1.0 and col not in (0, _COLS - 1)) else 1.0
            knuckle_mid[col] += share * side
        for col in cols[1:3]:
            knuckle_half[col] = 12.0 * pt
        for col in (cols[0], cols[3]):
            knuckle_half[col] = 10.0 * pt
    # Wrist end of the palm (level 0), columns spread evenly from the radial edge (+z) to the ulnar edge.
    u = np.linspace(1.0, -1.0, _COLS)
    wrist_mid = np.stack([np.full(_COLS, -8.0 * pl), np.zeros(_COLS), (-3.0 + 24.0 * u) * pw], axis=1)
    wrist_half = 16.0 * pt * (1.0 - 0.3 * u**2)
    side_dir = {0: np.array([0.0, 0.0, 1.0]), 1: np.array([0.0, 0.0, -1.0])}
    for lv in range(_LEVELS - 1):
        t = lv / _MCP_LEVEL
        mid = (1.0 - t) * wrist_mid + t * knuckle_mid  # (13, 3)
        half = (1.0 - t) * wrist_half + t * knuckle_half  # (13,)
        pad = 3.0 * pt * np.sin(np.pi * t) * (1.0 - 0.5 * u**2)  # fleshy palm, palmar side only
        grid[lv, :_COLS] = mid + half[:, None] * np.array([0.0, 1.0, 0.0])
        grid[lv, _COLS + 1 : 2 * _COLS + 1] = (mid - (half + pad)[:, None] * np.array([0.0, 1.0, 0.0]))[::-1]
        margin = (1.0 - t) * 7.0 * pw + t * 3.0 * pw
        radial_out = _unit((1.0 - t) * side_dir[0] + t * fingers[INDEX].lat)
        ulnar_out = _unit((1.0 - t) * side_dir[1] - t * fingers[PINKY].lat)
        grid[lv, _COLS] = mid[-1] + margin * ulnar_out
        grid[lv, -1] = mid[0] + margin * radial_out
    # Web level: each finger's base cross-section a third of the way to its middle joint.
    web = grid[_LEVELS - 1]
    web[:] = 0.0
    counts = np.zeros(_PALM_RING)
    for part, cols in _FINGER_COLUMNS.items():
        d = fingers[part]
        ring = _octagon(d.point(0.33 * d.lengths[0]), d.lat, d.nail, 1.08 * d.radii[0])
        for k, col in enumerate(cols):
            web[col] += ring[k]  # dorsal points 0..3 run from the radial to the ulnar side
            web[2 * _COLS - col] += ring[7 - k]  # palmar points 7..4 likewise
            counts[col] += 1
            counts[2 * _COLS - col] += 1
    web[: _COLS + 1] /= np.maximum(counts[: _COLS + 1], 1)[:, None]
    web[_COLS + 1 :] /= np.maximum(counts[_COLS + 1 :], 1)[:, None]
    index, pinky = fingers[INDEX], fingers[PINKY]
    web[-1] = index.point(0.33 * index.lengths[0]) + 1.08 * index.radii[0] * index.lat
    web[_COLS] = pinky.point(0.33 * pinky.lengths[0]) - 1.08 * pinky.radii[0] * pinky.lat
    return grid


def _palm_share(lv: int, r: int) -> np.ndarray:
    """Digit share of a palm vertex: the finger(s) whose columns it lies in (crotches split evenly)."""
    share = np.zeros(6)
    if r == _COLS:
        share[PINKY] = 1.0
        return share
    if r == _PALM_RING - 1:
        share[INDEX] = 1.0
        return share
    col = r if r < _COLS else 2 * _COLS - r
    owners = [part for part, cols in _FINGER_COLUMNS.items() if col in cols]
    share[owners] = 1.0 / len(owners)
    return share


def hand_geometry(beta: np.ndarray | None = None, with_faces: bool = True) -> HandGeometry:
    """Build the stand-in mesh for shape coefficients ``beta (10,)`` (None: the mean shape), in millimetres.

    With ``with_faces=False`` the faces are left empty ``(0, 3)`` (they do not depend on beta), which is
    much faster."""
    f = shape_factors(np.zeros(NUM_SHAPE) if beta is None else np.asarray(beta, dtype=np.float64))
    fingers = {part: _finger(part, f) for part in FINGER_PARTS}
    bld = _Builder()
    x_axis = np.array([-1.0, 0.0, 0.0])

    # Wrist loop (open border, centred on the wrist joint), transition loop, palm levels.
    wrist = bld.add(_ellipse(np.zeros(3), _WRIST_RING, 28.0 * f["palm_width"], 17.0 * f["hand_thickness"]), PALM)
    trans_pts = _ellipse(np.array([-4.0 * f["palm_length"], 0.0, -1.5 * f["palm_width"]]), _TRANSITION_RING,
                         30.0 * f["palm_width"], 16.5 * f["hand_thickness"], phase=0.5)  # fmt: skip
    trans = bld.add(trans_pts, PALM)
    palm_pos = _palm_grid(fingers, f)
    hole_vertex = (_HOLE_LEVELS[0] + 1, _HOLE_RING[1])  # the one grid vertex inside the thumb hole
    grid = np.full((_LEVELS, _PALM_RING), -1, dtype=np.int64)
    for lv in range(_LEVELS):
        for r in range(_PALM_RING):
            if (lv, r) != hole_vertex:
                grid[lv, r] = bld.add(palm_pos[lv, r], PALM, _palm_share(lv, r))[0]
    bld.band(wrist, trans, x_axis)
    bld.band(trans, grid[0], x_axis)
    hole_quads = {(lv, r) for lv in _HOLE_LEVELS for r in _HOLE_RING}
    bld.quads(grid, hole_quads, x_axis)

    joints = np.zeros((16, 3))
    sets: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * 16
    sets[0] = wrist
    v_now = np.asarray(bld.verts)
    joints[0] = v_now[wrist].mean(axis=0)

    tips, near = {}, {}
    digit_dir = np.zeros((6, 3))
    digit_nail = np.zeros((6, 3))
    digit_dir[PALM], digit_nail[PALM] = x_axis, np.array([0.0, 1.0, 0.0])

    def build_digit(part: int, d: _Digit, first_loop: np.ndarray, start: float, n_base: int) -> None:
        j1, j2, j3 = DIGIT_JOINTS[part]
        stations = _digit_stations(d, start, n_base, 3)
        prev = first_loop
        rings = []
        for a, radius in stations:
            ring = bld.add(_octagon(d.point(a), d.lat, d.nail, radius), part)
            bld.band(prev, ring, d.direction)
            rings.append(ring)
            prev = ring
        apex = bld.add(d.point(sum(d.lengths)), part)[0]
        bld.cap(prev, apex, d.direction)
        # The joint rings: the last station of the base and middle segments.
        sets[j2], sets[j3] = rings[n_base - 1], rings[n_base + 2]
        joints[j2], joints[j3] = d.point(d.lengths[0]), d.point(d.lengths[0] + d.lengths[1])
        tips[part], near[part] = apex, prev[5]  # prev[5]: palmar, just below the apex
        digit_dir[part], digit_nail[part] = d.direction, d.nail
        if part != THUMB:
            cols = _FINGER_COLUMNS[part]
            sets[j1] = np.concatenate(
                [grid[_MCP_LEVEL, list(cols[1:3])], grid[_MCP_LEVEL, [2 * _COLS - c for c in cols[1:3]]]]
            )
            joints[j1] = d.base

    for part in FINGER_PARTS:
        cols = _FINGER_COLUMNS[part]
        dorsal = list(grid[-1, list(cols)])
        palmar = list(grid[-1, [2 * _COLS - c for c in cols[::-1]]])
        loop = dorsal + ([grid[-1, _COLS]] if part == PINKY else []) + palmar
        loop += [grid[-1, -1]] if part == INDEX else []
        build_digit(part, fingers[part], np.asarray(loop), 0.33 * fingers[part].lengths[0], 5)

    # Thumb: its CMC is the centroid of the hole's border loop, which straddles the radial side of the palm.
    l0, l1 = _HOLE_LEVELS
    r_pal, r_side = _HOLE_RING
    hole = np.array([grid[l0, r_pal], grid[l0, r_side], grid[l0, 0], grid[l0 + 1, 0], grid[l1 + 1, 0],
                     grid[l1 + 1, r_side], grid[l1 + 1, r_pal], grid[l0 + 1, r_pal]])  # fmt: skip
    v_now = np.asarray(bld.verts)
    cmc = v_now[hole].mean(axis=0)
    thumb = _thumb(cmc, f)
    sets[13], joints[13] = hole, cmc
    build_digit(THUMB, thumb, hole, 0.36 * thumb.lengths[0], 4)

    verts = np.asarray(bld.verts) * f["size"]
    order = (THUMB, INDEX, MIDDLE, RING, PINKY)
    return HandGeometry(
        verts=verts,
        faces=bld.make_faces() if with_faces else np.zeros((0, 3), dtype=np.int64),
        joints=joints * f["size"],
        joint_vertex_sets=tuple(sets),
        part=np.asarray(bld.part),
        finger_share=np.asarray(bld.share),
        digit_dir=digit_dir,
        digit_nail=digit_nail,
        tip_ids=np.array([tips[p] for p in order]),
        near_tip_ids=np.array([near[p] for p in order]),
    )
