"""Triangle-band construction for tube-like meshes: loops of vertices stitched around an axis.

The stand-in hand is built from closed loops of vertices (cross-sections of the palm, the fingers and the
thumb). Two loops around a common axis are joined by a band of triangles; a loop is closed by a fan to an
apex. Every function here is pure: vertex positions in, integer faces out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _plane_basis(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors spanning the plane orthogonal to ``axis (3,)``."""
    axis = axis / np.linalg.norm(axis)
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    return e1, e2


def loop_angles(points: np.ndarray, center: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Angle in ``[0, 2pi)`` of each point ``(n, 3)`` around ``axis`` through ``center``."""
    e1, e2 = _plane_basis(axis)
    rel = points - center  # (n, 3)
    return np.mod(np.arctan2(rel @ e2, rel @ e1), 2.0 * np.pi)


def _ordered_loop(loop: Sequence[int], verts: np.ndarray, center: np.ndarray, axis: np.ndarray) -> tuple:
    """Loop ids rotated and, if needed, reversed so that their angles increase from the smallest one."""
    ids = np.asarray(loop, dtype=np.int64)
    ang = loop_angles(verts[ids], center, axis)
    step = np.mod(np.diff(np.append(ang, ang[0])), 2.0 * np.pi)  # (n,) forward steps, all < pi when increasing
    if np.sum(step < np.pi) < len(ids) / 2:
        ids, ang = ids[::-1], ang[::-1]
    start = int(np.argmin(ang))
    ids, ang = np.roll(ids, -start), np.roll(ang, -start)
    unwrapped = ang[0] + np.concatenate([[0.0], np.cumsum(np.mod(np.diff(ang), 2.0 * np.pi))])
    return ids, unwrapped


def stitch_loops(loop_a: Sequence[int], loop_b: Sequence[int], verts: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Triangles ``(len(a) + len(b), 3)`` joining two closed loops that wind around ``axis``.

    The loops may have different vertex counts and any starting vertex or direction: both are sorted by angle
    around the axis through their common centroid and zipped together (each step advances the loop whose next
    vertex comes first). The triangles' orientation is arbitrary; see :func:`orient_outward`.
    """
    center = np.concatenate([verts[list(loop_a)], verts[list(loop_b)]]).mean(axis=0)
    a, ang_a = _ordered_loop(loop_a, verts, center, axis)
    b, ang_b = _ordered_loop(loop_b, verts, center, axis)
    na, nb = len(a), len(b)
    # Start b at its vertex nearest in angle to a's first one, with angles unwrapped next to a's.
    gap = np.mod(ang_b - ang_a[0] + np.pi, 2.0 * np.pi) - np.pi  # (nb,) signed angular offsets
    start = int(np.argmin(np.abs(gap)))
    b = np.roll(b, -start)
    ang_b = (
        ang_a[0] + gap[start] + np.concatenate([[0.0], np.cumsum(np.mod(np.diff(np.roll(ang_b, -start)), 2.0 * np.pi))])
    )
    # Extend each loop by one wrapped vertex so the zipper closes the band.
    ang_a = np.append(ang_a, ang_a[0] + 2.0 * np.pi)
    ang_b = np.append(ang_b, ang_b[0] + 2.0 * np.pi)
    faces = []
    i = j = 0
    while i < na or j < nb:
        advance_a = j >= nb or (i < na and ang_a[i + 1] <= ang_b[j + 1])
        if advance_a:
            faces.append((a[i % na], a[(i + 1) % na], b[j % nb]))
            i += 1
        else:
            faces.append((a[i % na], b[(j + 1) % nb], b[j % nb]))
            j += 1
    return np.asarray(faces, dtype=np.int64)


def fan(loop: Sequence[int], apex: int) -> np.ndarray:
    """Triangles ``(n, 3)`` closing a loop with an apex vertex (orientation arbitrary)."""
    ids = list(loop)
    return np.asarray([(ids[k], ids[(k + 1) % len(ids)], apex) for k in range(len(ids))], dtype=np.int64)


def face_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unnormalised normals ``(F, 3)`` of triangles ``faces (F, 3)``."""
    tri = verts[faces]  # (F, 3 corners, 3)
    return np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])


def orient_outward(faces: np.ndarray, verts: np.ndarray, outward: np.ndarray) -> np.ndarray:
    """Flip every face whose normal points against its ``outward (F, 3)`` reference direction."""
    flip = np.einsum("fc,fc->f", face_normals(verts, faces), outward) < 0.0
    out = faces.copy()
    out[flip] = out[flip][:, [0, 2, 1]]
    return out


def radial_outward(faces: np.ndarray, verts: np.ndarray, center: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Per-face direction ``(F, 3)`` from the axis through ``center`` to the face centroid."""
    axis = axis / np.linalg.norm(axis)
    rel = verts[faces].mean(axis=1) - center  # (F, 3)
    return rel - np.outer(rel @ axis, axis)


def boundary_edges(faces: np.ndarray) -> np.ndarray:
    """Edges ``(E, 2)`` used by exactly one face (the mesh's open border)."""
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)  # (3F, 2)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    return uniq[counts == 1]


def edge_use_counts(faces: np.ndarray) -> np.ndarray:
    """How many faces use each distinct undirected edge."""
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    return np.unique(edges, axis=0, return_counts=True)[1]
