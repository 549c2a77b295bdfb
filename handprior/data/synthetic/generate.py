"""Generate the synthetic benchmark's splits as sequence stores, and keep a cached copy up to date.

Ground truth: motion sampled by :mod:`.motion`, posed through the MANO layer (the built-in stand-in unless a
model file is given). Predictions: the ground truth passed through the estimator-noise simulator
(:mod:`.noise`). Each split draws from its own seed, derived from one base seed and the split's index, and
the motion and the noise use separate streams, so the same seed gives the same ground truth under every
noise profile.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock

from handprior.body.joints import MIDDLE_MCP, WRIST
from handprior.data.store import write_store
from handprior.data.synthetic.axes import hand_axes
from handprior.data.synthetic.motion import MOTION_V2, MotionConfig, sample_beta, sample_sequence
from handprior.data.synthetic.noise import get_profile, simulate_with_masks
from handprior.data.synthetic.posing import JointPoser

SPLITS: tuple[str, ...] = ("train", "val", "test")
GENERATOR_VERSION = 4  # bump when the generated data changes for the same configuration
# The benchmark's version, recorded in each split's meta.json ("benchmark_version") and in every result row
# (handprior.reporting.rows.ResultRow.data_version). v1: mostly independent finger motion with single-finger
# flicks (motion.MOTION_V1). v2: finger synergies, real dynamics and palm rotation, calibrated against real motion
# capture (motion.MOTION_V2); the estimator-noise profiles are the same in both.
BENCHMARK_VERSION = "v2"
POSE_BATCH = 2048  # frames per posing batch


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that determines the generated data; its hash decides whether a cached copy is reused."""

    seed: int = 0
    profile: str = "interwild"
    train_sequences: int = 200
    val_sequences: int = 20
    test_sequences: int = 40
    frames_range: tuple[int, int] = (150, 400)
    fps: float = 30.0
    mano_model_path: str | None = None
    motion: MotionConfig = MOTION_V2

    def num_sequences(self, split: str) -> int:
        """Number of sequences of ``split``."""
        return {"train": self.train_sequences, "val": self.val_sequences, "test": self.test_sequences}[split]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, including the noise profile's values (so editing a profile invalidates caches)."""
        out = asdict(self)
        out["frames_range"] = list(self.frames_range)
        out["motion"] = self.motion.to_dict()
        out["noise"] = get_profile(self.profile).to_dict()
        out["generator_version"] = GENERATOR_VERSION
        out["benchmark_version"] = BENCHMARK_VERSION
        return out

    def digest(self) -> str:
        """Short stable hash of :meth:`to_dict`."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def split_seed(seed: int, split: str) -> np.random.SeedSequence:
    """Seed of one split: the base seed combined with the split's index, so splits never share a stream."""
    return np.random.SeedSequence([seed, SPLITS.index(split)])


def generate_split(
    out_dir: str | Path,
    split: str,
    num_sequences: int,
    frames_range: tuple[int, int],
    seed: int,
    profile: str = "interwild",
    mano_model_path: str | None = None,
    fps: float = 30.0,
    motion: MotionConfig | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> Path:
    """Generate one split and write it as the sequence store ``out_dir/split``; returns that folder.

    The store is written into a temporary folder beside it and renamed into place, so an interrupted run
    never leaves a half-written split. Sequence lengths are uniform in ``frames_range`` (inclusive).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if num_sequences < 1 or frames_range[0] < 3 or frames_range[1] < frames_range[0]:
        raise ValueError(f"need at least one sequence of at least 3 frames, got {num_sequences}, {frames_range}")
    motion = motion or MOTION_V2
    noise_profile = get_profile(profile)
    motion_seed, noise_seed = split_seed(seed, split).spawn(2)
    rng = np.random.default_rng(motion_seed)
    started = time.perf_counter()

    truth = sample_ground_truth(rng, num_sequences, frames_range, mano_layer(mano_model_path), fps, motion)
    gt, theta, beta, offsets = truth["gt"], truth["theta"], truth["beta"], truth["offsets"]
    # masks: where the simulator's occlusion bursts (per finger) and gross failures fell, stored with the split
    pred, masks = simulate_with_masks(gt, offsets, noise_profile, np.random.default_rng(noise_seed), fps)

    meta = {
        "dataset": "synthetic",
        "split": split,
        "estimator": noise_profile.name,
        "simulated_predictions": True,
        "fps": fps,
        "sides": ["right"] * num_sequences,
        "seed": seed,
        "theta_convention": "flat_hand_mean",
        "mano_model": mano_model_path or "stand-in",
        "benchmark_version": BENCHMARK_VERSION,
        "generator": {
            "version": GENERATOR_VERSION,
            "frames_range": list(frames_range),
            "motion": motion.to_dict(),
            "noise": noise_profile.to_dict(),
            "seconds": round(time.perf_counter() - started, 3),
        },
    }
    meta.update(extra_meta or {})
    target = Path(out_dir) / split
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{split}.tmp-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is meant to be shared
    try:
        write_store(tmp, pred, gt, offsets, meta, gt_theta=theta, gt_beta=beta, masks=masks)
        _replace_dir(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure_synthetic(
    root: str | Path = "data/synthetic",
    config: SyntheticConfig | None = None,
    splits: tuple[str, ...] = SPLITS,
) -> dict[str, Path]:
    """Make sure ``root/<split>`` holds the synthetic data of ``config``; generate only what is missing or stale.

    A split is reused when its meta.json carries the same config hash. A file lock on ``root`` lets
    several processes (e.g. distributed ranks) call this at once: one generates, the others wait and reuse.
    """
    config = config or SyntheticConfig()
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    digest = config.digest()
    paths: dict[str, Path] = {}
    with FileLock(str(root / ".generate.lock")):
        for split in splits:
            path = root / split
            if stored_digest(path) != digest:
                generate_split(root, split, config.num_sequences(split), config.frames_range, config.seed,
                               config.profile, config.mano_model_path, config.fps, config.motion,
                               extra_meta={"config": config.to_dict(), "config_hash": digest})  # fmt: skip
            paths[split] = path
    return paths


def stored_digest(path: str | Path) -> str | None:
    """Config hash recorded in a split's meta.json, or None when the split is missing or unreadable."""
    meta_path = Path(path) / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    return meta.get("config_hash") if isinstance(meta, dict) else None


def sample_ground_truth(
    rng: np.random.Generator,
    num_sequences: int,
    frames_range: tuple[int, int],
    layer: Any,
    fps: float = 30.0,
    motion: MotionConfig | None = None,
) -> dict[str, np.ndarray]:
    """Sample sequences and pose them: ``gt`` (N,21,3) mm, ``theta`` (N,48), ``beta`` (N,10), ``transl`` (N,3),
    ``offsets`` (S+1,). ``layer`` is a :class:`handprior.body.mano.ManoLayer`."""
    motion = motion or MOTION_V2
    with one_thread(), torch.no_grad():
        rest = layer.rest_joints(torch.zeros(1, 10))[0].double().numpy()  # (21,3) mean-shape rest joints
    axes = hand_axes(rest)
    lengths = rng.integers(frames_range[0], frames_range[1] + 1, num_sequences)  # (S,)
    betas = sample_hand_shapes(rng, layer, motion, num_sequences)  # (S,10)
    sequences = [sample_sequence(rng, int(n), rest, fps, motion, b, axes) for n, b in zip(lengths, betas)]
    theta = np.concatenate([s["theta"] for s in sequences])  # (N,48)
    beta = np.concatenate([np.repeat(s["beta"][None], len(s["theta"]), 0) for s in sequences])  # (N,10)
    transl = np.concatenate([s["transl"] for s in sequences])  # (N,3)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)  # (S+1,)
    gt = pose_joints(layer, theta, beta, transl)  # (N,21,3)
    return {"gt": gt, "theta": theta, "beta": beta, "transl": transl, "offsets": offsets}


def sample_hand_shapes(rng: np.random.Generator, layer: Any, motion: MotionConfig, num: int) -> np.ndarray:
    """``num`` shapes (num,10) whose rest wrist -> middle-MCP length lies in ``motion.hand_size_mm``: rejection
    sampling through the model itself, so that any MANO-format model gives adult-sized hands."""
    accepted: list[np.ndarray] = []
    for _ in range(16):
        candidates = sample_beta(rng, motion, 2 * num + 8)  # (K,10)
        with one_thread(), torch.no_grad():
            rest = layer.rest_joints(torch.as_tensor(candidates, dtype=torch.float32)).double().numpy()  # (K,21,3)
        size = np.linalg.norm(rest[:, MIDDLE_MCP] - rest[:, WRIST], axis=-1)  # (K,)
        accepted.extend(candidates[(size >= motion.hand_size_mm[0]) & (size <= motion.hand_size_mm[1])])
        if len(accepted) >= num:
            return np.stack(accepted[:num])
    raise ValueError(
        f"too few hand shapes of the model fall in {motion.hand_size_mm} mm (last sizes {size.min():.0f}-"
        f"{size.max():.0f} mm); is it a MANO hand model in metres?"
    )


def pose_joints(layer: Any, theta: np.ndarray, beta: np.ndarray, transl: np.ndarray) -> np.ndarray:
    """Joints (N,21,3) mm of MANO parameters theta (N,48), beta (N,10), transl (N,3) mm, in batches.

    Uses :class:`.posing.JointPoser` (the layer's model without the mesh) on one thread: these small
    operations are fastest single-threaded, especially when other processes share the cores.
    """
    poser = JointPoser(layer)
    out = np.empty((len(theta), 21, 3), dtype=np.float64)
    with one_thread(), torch.no_grad():
        for start in range(0, len(theta), POSE_BATCH):
            part = slice(start, start + POSE_BATCH)
            joints = poser(torch.as_tensor(theta[part]), torch.as_tensor(beta[part]), torch.as_tensor(transl[part]))
            out[part] = joints.double().numpy()
    return out


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (small tensor operations; avoids contention for the cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def mano_layer(model_path: str | None = None) -> Any:
    """The right-hand MANO layer in the generator's convention (flat hand mean); None = built-in stand-in."""
    from handprior.body.mano import ManoLayer  # imported here: only generation needs the model

    return ManoLayer(model_path=model_path, side="right", flat_hand_mean=True)


def _replace_dir(src: Path, dst: Path) -> None:
    """Move the finished folder ``src`` to ``dst``, replacing any old ``dst`` (renames only, same filesystem)."""
    old = None
    if dst.exists():
        old = dst.parent / f".{dst.name}.old-{os.getpid()}-{time.monotonic_ns()}"
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
