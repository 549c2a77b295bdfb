"""Writers of small datasets in the official on-disk formats (per dataset in docs/datasets.md).

Every writer starts from known camera-frame joints (mm, canonical order, left hands as real left hands),
converts them to what the dataset stores (world frame, source joint order, metres where the dataset uses
metres) and returns what the preparer should recover, so tests compare exact arrays, not just counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from handprior.body.joints import IH26M_TO_CANON_LEFT, IH26M_TO_CANON_RIGHT, REIH_TO_CANON_RIGHT, mirror_x
from handprior.data.prepare.geometry import camera_to_world

# A right hand (mm, canonical order, wrist at the origin), fingers pointing up in the image (-y).
_BASES = np.array([[30.0, -25.0, 0.0], [22.0, -88.0, 0.0], [2.0, -92.0, 0.0], [-18.0, -86.0, 0.0], [-34.0, -76.0, 0.0]])
_SEGMENTS = (38.0, 28.0, 22.0)


def hand_template() -> np.ndarray:
    """(21,3) mm right hand with a wrist -> middle-MCP length of about 92 mm."""
    joints = [np.zeros(3)]
    for base in _BASES:
        direction = base / np.linalg.norm(base)
        joints.append(base)
        for i in range(3):
            joints.append(base + direction * sum(_SEGMENTS[: i + 1]))
    return np.array(joints)


def hand_motion(rng: np.random.Generator, frames: int, side: str = "right") -> np.ndarray:
    """(F,21,3) mm camera-frame joints of a smoothly moving hand about 600 mm in front of the camera."""
    t = np.arange(frames)[:, None] / 30.0
    phase = rng.uniform(0, 2 * np.pi, size=(1, 3))
    rotvec = 0.3 * np.sin(2 * np.pi * 0.5 * t + phase) + rng.normal(0, 0.2, size=(1, 3))  # (F,3)
    template = hand_template()
    hand = np.stack([Rotation.from_rotvec(r).apply(template) for r in rotvec])  # (F,21,3)
    position = np.array([rng.uniform(-80, 80), rng.uniform(-50, 50), 600.0]) + 20 * np.sin(2 * np.pi * 0.3 * t + phase)
    hand = hand + position[:, None, :]
    return mirror_x(hand) if side == "left" else hand


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """(3,3) rotation close to the identity (a camera roughly facing the hands)."""
    return Rotation.from_rotvec(rng.normal(0, 0.3, size=3)).as_matrix()


def random_theta(rng: np.random.Generator, frames: int) -> np.ndarray:
    """(F,48) MANO pose, world-frame global orientation."""
    return rng.normal(0, 0.4, size=(frames, 48))


def write_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def _to_source(canonical: np.ndarray, index_map: tuple[int, ...], size: int, out: np.ndarray | None = None) -> np.ndarray:
    """Place canonical joints (...,21,3) into a source layout (...,size,3) (positions not in the map stay 0)."""
    if out is None:
        out = np.zeros((*canonical.shape[:-2], size, 3))
    out[..., list(index_map), :] = canonical
    return out


# ----------------------------------------------------------------------------------------------- InterHand2.6M


# Joints marked invalid in joint_3d.json, per split: frame -> [(side, canonical joint), ...].
IH26M_INVALID = {
    "test": {1003: [("left", 0)],  # the left wrist: the left hand is dropped
             1005: [("right", 8)],  # the right index tip
             1002: [("right", 9)],  # the right middle MCP: the reference bone of the scaled metrics
             1004: [("left", 4), ("left", 20)]},  # the left thumb and pinky tips
    "train": {**{f: [("right", 16)] for f in range(5, 10)},  # the right ring tip for five frames
              12: [("right", 1), ("right", 2), ("right", 3)], 30: [("left", 12)]},
    "val": {3: [("left", 8)], 4: [("left", 8)]},
}  # fmt: skip


def write_interhand26m(root: Path, seed: int = 0) -> dict:
    """Test split with two views of capture 0 (frames 1000-1009), train and val with one long view each, in the
    official forms: ``joint_3d.json``'s ``joint_valid`` is 42 one-element lists of booleans (the val split uses a
    flat list of 0/1, the other form the loaders accept) and an invalid joint's ``world_coord`` holds the
    placeholder ``[1, 1, 1]``; ``hand_type_valid`` is a boolean there and an integer in ``*_data.json``.

    Test split cases (see tests): view cam400030 is ``interacting`` with image 1007 missing; view cam400031 is
    ``right`` for frames 1000-1005; joint_3d: frame 1008 missing, and the joints of :data:`IH26M_INVALID` marked
    invalid (frame 1003 the left wrist); MANO: frame 1001 left null, frame 1009 missing. Each expected entry
    carries ``valid`` (F,21) bool in canonical order.
    """
    rng = np.random.default_rng(seed)
    lines = ["# joint_name joint_id parent_id"]
    names = [f"{f}{i}" for f in ("thumb", "index", "middle", "ring", "pinky") for i in (4, 3, 2, 1)] + ["wrist"]
    parents = [i + 1 if i % 4 != 3 else 20 for i in range(20)] + [-1]
    for prefix, offset in (("r_", 0), ("l_", 21)):
        lines += [f"{prefix}{n} {i + offset} {p + offset if p >= 0 else -1}" for i, (n, p) in enumerate(zip(names, parents))]
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "skeleton.txt").write_text("\n".join(lines) + "\n")
    expected = {}
    specs = {
        "test": [("0266_dh_pray", "400030", [f for f in range(1000, 1010) if f != 1007], "interacting"),
                 ("0266_dh_pray", "400031", list(range(1000, 1006)), "right")],
        "train": [("0000_neutral_relaxed", "410001", list(range(0, 40)), "interacting")],
        "val": [("0001_good_luck", "410001", list(range(0, 30)), "left")],
    }  # fmt: skip
    for split, views in specs.items():
        frames = sorted({f for _, _, fs, _ in views for f in fs} | ({1007, 1008, 1009} if split == "test" else set()))
        world = {s: {f: None for f in frames} for s in ("right", "left")}
        # One world-frame motion per hand, shared by all cameras of the capture.
        reference = random_rotation(rng), rng.normal(0, 300, size=3)
        motion = {s: hand_motion(rng, len(frames), s) for s in ("right", "left")}
        for s in ("right", "left"):
            for k, f in enumerate(frames):
                world[s][f] = camera_to_world(motion[s][k], *reference)  # (21,3) mm world
        theta = {s: random_theta(rng, len(frames)) for s in ("right", "left")}
        beta = {s: rng.normal(0, 1, size=(len(frames), 10)) for s in ("right", "left")}
        joints_3d, mano = {}, {}
        for k, f in enumerate(frames):
            coord = _to_source(world["right"][f], IH26M_TO_CANON_RIGHT, 42)
            coord = _to_source(world["left"][f], IH26M_TO_CANON_LEFT, 42, coord)
            valid = np.ones(42, dtype=bool)
            for side, joint in IH26M_INVALID[split].get(f, []):
                source = (IH26M_TO_CANON_RIGHT if side == "right" else IH26M_TO_CANON_LEFT)[joint]
                valid[source] = False
                coord[source] = [1.0, 1.0, 1.0]  # the placeholder the official files hold for an invalid joint
            joint_valid = [int(v) for v in valid] if split == "val" else [[bool(v)] for v in valid]
            if not (split == "test" and f == 1008):
                joints_3d[str(f)] = {"world_coord": coord.tolist(), "joint_valid": joint_valid,
                                     "hand_type": "interacting", "hand_type_valid": True}  # fmt: skip
            if not (split == "test" and f == 1009):
                mano[str(f)] = {s: {"pose": theta[s][k].tolist(), "shape": beta[s][k].tolist(), "trans": [0.0, 0.0, 0.5]}
                                for s in ("right", "left")}  # fmt: skip
                if split == "test" and f == 1001:
                    mano[str(f)]["left"] = None
        images, annotations, cameras = [], [], {"campos": {}, "camrot": {}, "focal": {}, "princpt": {}}
        for seq_name, camera, view_frames, hand_type in views:
            rotation = random_rotation(rng)
            centre = rng.normal(0, 500, size=3)
            cameras["campos"][camera], cameras["camrot"][camera] = centre.tolist(), rotation.tolist()
            cameras["focal"][camera], cameras["princpt"][camera] = [1240.0, 1240.0], [167.0, 256.0]
            for f in view_frames:
                image_id = len(images)
                images.append({"id": image_id, "file_name": f"Capture0/{seq_name}/cam{camera}/image{f}.jpg",
                               "width": 334, "height": 512, "capture": 0, "subject": 0, "seq_name": seq_name,
                               "camera": camera, "frame_idx": f})  # fmt: skip
                annotations.append({"id": image_id, "image_id": image_id, "bbox": [100.0, 150.0, 120.0, 140.0],
                                    "joint_valid": [[1]] * 42, "hand_type": hand_type, "hand_type_valid": 1})  # fmt: skip
            k = [frames.index(f) for f in view_frames]
            t = -rotation @ centre
            for s in ("right", "left"):
                cam = np.stack([rotation @ world[s][f].T for f in view_frames]).transpose(0, 2, 1) + t  # (F,21,3)
                rot = Rotation.from_matrix(rotation) * Rotation.from_rotvec(theta[s][k, :3])
                cam_theta = theta[s][k].copy()
                cam_theta[:, :3] = rot.as_rotvec()
                valid = np.ones((len(view_frames), 21), dtype=bool)
                for row, f in enumerate(view_frames):
                    for side, joint in IH26M_INVALID[split].get(f, []):
                        valid[row, joint] &= side != s
                expected[(split, seq_name, camera, s)] = {"frames": view_frames, "gt": cam, "theta": cam_theta,
                                                          "beta": beta[s][k], "valid": valid}  # fmt: skip
        folder = root / "annotations" / split
        write_json(folder / f"InterHand2.6M_{split}_data.json", {"images": images, "annotations": annotations})
        write_json(folder / f"InterHand2.6M_{split}_camera.json", {"0": cameras})
        write_json(folder / f"InterHand2.6M_{split}_joint_3d.json", {"0": joints_3d})
        write_json(folder / f"InterHand2.6M_{split}_MANO_NeuralAnnot.json", {"0": mano})
    return expected


# ------------------------------------------------------------------------------------------------ Re:InterHand

REIH_TEST = "m--20221215--0949--RNS217--pilot--ProjectGoliathScript--Hands--two-hands"
REIH_TRAIN = "m--20230101--1200--ABC123--pilot--ProjectGoliathScript--Hands--two-hands"


def write_reinterhand(root: Path, seed: int = 0) -> dict:
    """One test capture (frames 0-5, Mugsy cam01 + Ego per_segment) and one train capture (frames 0-29, cam01).

    Test cases: right keypoints of frame 4 missing; left MANO fit of frame 0 missing; Ego truncation ratio 0.1 at
    frame 2.
    """
    rng = np.random.default_rng(seed)
    expected = {}
    for capture, count in ((REIH_TEST, 6), (REIH_TRAIN, 30)):
        folder = root / capture
        folder.mkdir(parents=True)
        (folder / "CHECKSUM").write_text("")
        (folder / "frame_list.txt").write_text("".join(f"seg0 {f:06d}\n" for f in range(count)))
        frames = list(range(count))
        motion = {s: hand_motion(rng, count, s) for s in ("right", "left")}  # world frame here
        theta = {s: random_theta(rng, count) for s in ("right", "left")}
        beta = {s: rng.normal(0, 1, size=(count, 10)) for s in ("right", "left")}
        for s in ("right", "left"):
            for f in frames:
                if not (capture == REIH_TEST and s == "right" and f == 4):
                    keypoints = _to_source(motion[s][f], REIH_TO_CANON_RIGHT, 24)
                    keypoints[[1, 18, 23]] = rng.normal(0, 50, size=(3, 3)) + motion[s][f][0]  # Thumb_0, Pinky_0, stub
                    write_json(folder / "orig_fits" / s / "Keypoints" / f"keypoint-{f:06d}.json", keypoints.tolist())
                if not (capture == REIH_TEST and s == "left" and f == 0):
                    write_json(folder / "mano_fits" / "params" / f"{f}_{s}.json",
                               {"pose": theta[s][f].tolist(), "shape": beta[s][f].tolist(), "trans": [0.0, 0.0, 0.8]})  # fmt: skip
        rotation, translation = random_rotation(rng), rng.normal(0, 100, size=3)
        write_json(folder / "Mugsy_cameras" / "cam_params.json",
                   {"cam01": {"R": rotation.tolist(), "t": translation.tolist(), "focal": [1500.0, 1500.0],
                              "princpt": [512.0, 667.0]}})  # fmt: skip
        cameras = {"cam01": [(rotation, translation)] * count}
        if capture == REIH_TEST:
            ego = [(random_rotation(rng), rng.normal(0, 100, size=3)) for _ in frames]
            base = folder / "Ego_cameras" / "envmap_per_segment"
            for f, (r, t) in enumerate(ego):
                write_json(base / "cam_params" / f"{f:06d}.json", {"R": r.tolist(), "t": t.tolist(), "focal": [250.0, 250.0],
                                                                   "princpt": [320.0, 240.0], "D": [0.01, -0.002, 0.0, 0.0]})  # fmt: skip
            write_json(base / "truncation_ratio.json", {f"{f:06d}": 0.1 if f == 2 else 0.9 for f in frames})
            cameras["ego:per_segment"] = ego
        for camera, params in cameras.items():
            for s in ("right", "left"):
                gt = np.stack([motion[s][f] @ r.T + t for f, (r, t) in enumerate(params)])  # (F,21,3)
                cam_theta = theta[s].copy()
                cam_theta[:, :3] = np.stack([(Rotation.from_matrix(r) * Rotation.from_rotvec(theta[s][f, :3])).as_rotvec()
                                             for f, (r, _) in enumerate(params)])  # fmt: skip
                expected[(capture, camera, s)] = {"frames": frames, "gt": gt, "theta": cam_theta, "beta": beta[s]}
    return expected


# ------------------------------------------------------------------------------------------------------- HanCo


def write_hanco(root: Path, lengths: tuple[int, ...] = (12, 12, 12, 6, 12), seed: int = 0, unit_scale: float = 1.0) -> dict:
    """Sequences of the given lengths with 8 cameras; world joints in metres (times ``unit_scale``).

    Cases: sequence 3 frame 2 has no xyz file; sequence 3 frame 4 has ``has_fit`` false (no MANO file).
    """
    rng = np.random.default_rng(seed)
    meta = {"is_train": [], "subject_id": [], "is_valid": [], "object_id": [], "has_fit": []}
    expected = {}
    for sid, count in enumerate(lengths):
        has_fit = [not (sid == 3 and f == 4) for f in range(count)]
        meta["is_train"].append([sid < 3] * count)
        meta["subject_id"].append([sid] * count)
        meta["is_valid"].append([True] * count)
        meta["object_id"].append([None] * count)
        meta["has_fit"].append(has_fit)
        world = hand_motion(rng, count) / 1000.0 * unit_scale  # (F,21,3) m
        theta, beta = random_theta(rng, count), rng.normal(0, 1, size=(count, 10))
        rotations = [random_rotation(rng) for _ in range(8)]
        translations = [rng.normal(0, 0.1, size=3) for _ in range(8)]
        extrinsics = [np.block([[r, t[:, None]], [np.zeros((1, 3)), np.ones((1, 1))]]) for r, t in zip(rotations, translations)]
        intrinsics = [[[600.0, 0.0, 112.0], [0.0, 600.0, 112.0], [0.0, 0.0, 1.0]]] * 8
        for f in range(count):
            name = f"{sid:04d}/{f:08d}.json"
            if not (sid == 3 and f == 2):
                write_json(root / "xyz" / name, world[f].tolist())
            write_json(root / "calib" / name, {"K": intrinsics, "M": [m.tolist() for m in extrinsics]})
            if has_fit[f]:
                write_json(root / "shape" / name, {"poses": [theta[f].tolist()], "shapes": [beta[f].tolist()],
                                                   "global_t": [[[0.02, -0.01, 0.73]]]})  # fmt: skip
        for c, (r, t) in enumerate(zip(rotations, translations)):
            cam_theta = theta.copy()
            cam_theta[:, :3] = (Rotation.from_matrix(r) * Rotation.from_rotvec(theta[:, :3])).as_rotvec()
            expected[(sid, c)] = {"gt": 1000.0 * (world @ r.T + t), "theta": cam_theta, "beta": beta}
    write_json(root / "meta.json", meta)
    return expected


# ------------------------------------------------------------------------------------------------------ DexYCB

DEX_SUBJECTS = ("20200709-subject-01", "20200813-subject-02", "20200820-subject-03")
DEX_SERIALS = ("836212060125", "839512060362")


def write_dexycb(root: Path, sequences_per_subject: int = 5, frames: int = 10, seed: int = 0) -> dict:
    """Three subjects with five sequences each (two cameras); subject 3 uses left hands.

    Cases: subject 1 sequence 0 camera 0 frame 3 shows no hand (joint_3d = -1); subject 1 sequence 0 camera 1
    frame 7 has no labels file; the first meta.yml writes ``serials`` as ``!!python/tuple``.
    """
    rng = np.random.default_rng(seed)
    expected = {}
    for s, subject in enumerate(DEX_SUBJECTS):
        side = "left" if s == 2 else "right"
        for i in range(sequences_per_subject):
            sequence = f"{subject[:8]}_{141754 + i:06d}"
            folder = root / subject / sequence
            folder.mkdir(parents=True)
            serials = "!!python/tuple [" + ", ".join(f"'{x}'" for x in DEX_SERIALS) + "]" if s == 0 and i == 0 else list(DEX_SERIALS)
            serial_text = serials if isinstance(serials, str) else "[" + ", ".join(f"'{x}'" for x in serials) + "]"
            (folder / "meta.yml").write_text(
                f"serials: {serial_text}\nnum_frames: {frames}\nycb_ids: [1, 11, 12, 20]\nycb_grasp_ind: 0\n"
                f"mano_sides: [{side}]\nmano_calib: ['{subject}_{side}']\nextrinsics: '20200702_151821'\n"
            )
            for c, serial in enumerate(DEX_SERIALS):
                joints = hand_motion(rng, frames, side)  # (F,21,3) mm, camera frame
                pose_m = rng.normal(0, 0.5, size=(frames, 51)).astype(np.float32)  # orientation, 45 PCA, trans
                (folder / serial).mkdir()
                for f in range(frames):
                    if s == 0 and i == 0 and c == 1 and f == 7:
                        continue
                    no_hand = s == 0 and i == 0 and c == 0 and f == 3
                    joint_3d = np.full((1, 21, 3), -1, np.float32) if no_hand else (joints[f] / 1000.0)[None].astype(np.float32)
                    np.savez_compressed(folder / serial / f"labels_{f:06d}.npz", seg=np.zeros((480, 640), np.uint8),
                                        pose_y=np.zeros((4, 3, 4), np.float32),
                                        pose_m=np.zeros((1, 51), np.float32) if no_hand else pose_m[f][None],
                                        joint_3d=joint_3d,
                                        joint_2d=np.full((1, 21, 2), -1 if no_hand else 100, np.float32))  # fmt: skip
                expected[(subject, sequence, serial)] = {"gt": joints, "side": side, "index": i, "pose_m": pose_m}
    for s, subject in enumerate(DEX_SUBJECTS):
        side = "left" if s == 2 else "right"
        betas = np.round(rng.normal(0, 1, size=10), 3)
        expected[f"{subject}_{side}"] = betas
        (root / "calibration" / f"mano_{subject}_{side}").mkdir(parents=True)
        (root / "calibration" / f"mano_{subject}_{side}" / "mano.yml").write_text(f"betas: {betas.tolist()}\n")
    calib = root / "calibration" / "extrinsics_20200702_151821"
    calib.mkdir(parents=True)
    (calib / "extrinsics.yml").write_text(
        "extrinsics:\n  '836212060125': !!python/tuple [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]\n"
        "  apriltag: !!python/tuple [1, 0, 0, 0.1, 0, 1, 0, 0.2, 0, 0, 1, 0.9]\nmaster: '836212060125'\n"
    )
    return expected
