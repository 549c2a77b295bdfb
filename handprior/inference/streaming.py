"""Real-time refinement of a live sequence, frame by frame, with a causal window.

    from handprior.inference.streaming import StreamingRefiner

    stream = StreamingRefiner("last.ckpt")          # or a RefinementModel / HandRefiner / Refiner in memory
    for frame in camera:                             # frame: (21,3) mm, right hand, handprior's joint order
        refined = stream.push(frame)                 # (21,3): the refined current frame

Frame n is refined from the window of the last T frames, ``n-T+1 .. n``, and is the last frame of that window:
no future frame is needed, so the output is available as soon as the frame arrives (one network call per
frame, no look-ahead latency). Before T frames have arrived the window is padded at the start by repeating
the first frame. Offline refinement (``Refiner.refine``) averages windows centred around each frame and sees
the future; the online result of a frame equals the network's output for the last frame of its causal window.

What is reused between frames: a preallocated "mirrored" ring buffer (2T frames; each frame is written twice,
so the last T frames are always one contiguous view, in order, with no copy and no allocation), the model in
eval mode under ``torch.inference_mode``. What cannot be reused in this attention network: when the window
slides by one frame every frame changes its position, so its temporal embedding changes, and the window is
re-centred on its mean wrist; every token of every layer therefore changes and the whole window is recomputed
(there is no key/value cache as in a causal decoder, whose tokens never see later ones).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from handprior.body.bones import bone_vectors, with_bone_lengths
from handprior.body.joints import NUM_JOINTS
from handprior.inference.devices import resolve_device
from handprior.inference.model import RefinementModel
from handprior.models.nets.output import NetOutput

PROGRESS_EVERY = 32  # frames between progress updates of refine_sequence


def as_refinement_model(source: RefinementModel | str | Path | Any, device: str = "auto") -> RefinementModel:
    """The :class:`RefinementModel` of a refinement model, a ``HandRefiner`` or a ``Refiner`` (their
    ``inference`` / ``model``), or of a checkpoint path (loaded on ``device``)."""
    if isinstance(source, RefinementModel):
        return source
    if isinstance(source, (str, Path)):
        return RefinementModel.from_checkpoint(source, device=resolve_device(device))
    for attribute in ("inference", "model"):  # a HandRefiner, a Refiner
        found = getattr(source, attribute, None)
        if isinstance(found, RefinementModel):
            return found
    raise TypeError(f"expected a RefinementModel, HandRefiner, Refiner or checkpoint path, got {type(source).__name__}")


class StreamingRefiner:
    """Refines a live sequence one frame at a time with a causal window of the last ``window`` frames.

    Args:
        refiner: a :class:`~handprior.inference.model.RefinementModel`, a ``HandRefiner``, a
            :class:`~handprior.inference.refine.Refiner`, or a checkpoint path.
        window: frames per causal window (default: the window the model was trained on, 27); at most the
            network's ``seq_len``.
        device: for a checkpoint path: ``auto``, ``cpu``, ``cuda``, ... (a model in memory stays where it is).
        compile: ``torch.compile`` the per-frame call (centring, network, rescaling) for the fixed window shape:
            the first push compiles (a one-off cost, timed in the README's "Real-time refinement"; on a CPU a
            C++ compiler is needed), later pushes are faster because the many small operations of a batch-1 window are fused. The model itself is
            not changed.
        lag: frames of delay, 0 <= lag < window. Each push returns the frame ``lag`` frames back, read at
            position T-1-lag of the causal window, so the network sees ``lag`` frames after it (at 30 fps each
            frame of lag is 33 ms of latency). Until ``lag`` frames have arrived a push returns the padded start.
        bones: ``running``: each returned frame gets the mean bone lengths of the frames returned so far (one
            skeleton learnt live, the causal form of ``bones=sequence``; :func:`handprior.body.bones.
            with_running_bone_lengths`); ``free``: the network's joints as they come. Default: ``running`` when the
            model was set up with ``bones`` ``sequence`` or ``running``, otherwise ``free``.
    """

    def __init__(
        self,
        refiner: RefinementModel | str | Path | Any,
        window: int | None = None,
        device: str = "auto",
        compile: bool = False,
        lag: int = 0,
        bones: str | None = None,
    ) -> None:
        self.model = as_refinement_model(refiner, device).eval()
        self.bones = bones or ("free" if self.model.bones == "free" else "running")
        if self.bones not in ("free", "running"):
            raise ValueError(f"a stream's bones must be free or running, got {self.bones!r}")
        self.window = int(window if window is not None else self.model.window)
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")
        if not 0 <= lag < self.window:
            raise ValueError(f"lag must be in [0, window - 1] = [0, {self.window - 1}], got {lag}")
        self.lag = lag
        self.device = self.model.device
        # Frame n is stored at n % T and at n % T + T: the last T frames are buffer[(n+1) % T :][:T].
        self._buffer = torch.zeros(2 * self.window, NUM_JOINTS, 3, device=self.device)
        self._count = 0
        self._length_sum = torch.zeros(NUM_JOINTS - 1, device=self.device)  # (20,) bone lengths returned so far
        self._lengths_seen = 0
        self.last: NetOutput | None = None  # network output of the latest window (theta, beta of the frame)
        self._run = torch.compile(self.model.run_net, dynamic=False) if compile else self.model.run_net

    @property
    def frames_seen(self) -> int:
        """Frames pushed since construction or the last :meth:`reset`."""
        return self._count

    def reset(self) -> None:
        """Start a new sequence (the next frame pads the window again)."""
        self._count = 0
        self._length_sum.zero_()
        self._lengths_seen = 0
        self.last = None

    def current_window(self) -> Tensor:
        """The causal window of the latest frame, oldest first: a (T,21,3) view of the buffer (no copy)."""
        if self._count == 0:
            raise RuntimeError("no frame has been pushed yet")
        start = self._count % self.window
        return self._buffer[start : start + self.window]

    def _write(self, frame: np.ndarray | Tensor) -> None:
        value = torch.as_tensor(frame).to(self.device, torch.float32, non_blocking=True)
        if value.shape != (NUM_JOINTS, 3):
            raise ValueError(f"a frame has shape (21, 3), got {tuple(value.shape)}")
        if self._count == 0:
            self._buffer.copy_(value.expand_as(self._buffer))  # pad: the first frame fills the whole window
        slot = self._count % self.window
        self._buffer[slot] = value
        self._buffer[slot + self.window] = value
        self._count += 1

    @torch.inference_mode()
    def push_tensor(self, frame: np.ndarray | Tensor) -> Tensor:
        """Add one frame (21,3) mm and return the refined joints of the frame ``lag`` frames back as a (21,3)
        tensor on the model's device."""
        self._write(frame)
        self.last = self._run(self.current_window()[None])
        return self._skeleton(self.last.joints[0, -1 - self.lag], counted=self._count > self.lag)

    def _skeleton(self, joints: Tensor, counted: bool = True) -> Tensor:
        """With ``bones="running"``: give a returned frame (21,3) the running mean bone lengths (including its own
        when ``counted``: a real frame, not the padded start)."""
        if self.bones == "free":
            return joints
        if counted:
            self._length_sum += bone_vectors(joints).norm(dim=-1)
            self._lengths_seen += 1
        if self._lengths_seen == 0:
            return joints
        return with_bone_lengths(joints, self._length_sum / self._lengths_seen)

    def push(self, frame: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """Add one frame (21,3) mm (right hand, handprior's joint order) and return the refined frame (21,3).

        A numpy frame gives a numpy frame back (float32, on the CPU); a tensor gives a tensor.
        """
        refined = self.push_tensor(frame)
        return refined.cpu().numpy() if isinstance(frame, np.ndarray) else refined

    def refine_sequence(
        self, sequence: Tensor, progress: Callable[[int], None] | None = None
    ) -> dict[str, Tensor | None]:
        """Stream a whole sequence (L,21,3) mm from a fresh start, as :meth:`RefinementModel.refine_sequence` does
        offline: ``joints (L,21,3)``, ``theta (L,48)`` and ``beta (L,10)`` (None when the network has none).
        With a lag, frame f comes from the push of frame f + lag, and the last ``lag`` frames from the last
        window (as a stream that ends would flush them). ``progress`` is called with the number of frames pushed since
        its last call, every ``PROGRESS_EVERY`` frames and at the end (they add up to L)."""
        self.reset()
        frames = []
        for index, frame in enumerate(sequence):
            joints = self.push_tensor(frame)
            frames.append({**_frame_outputs(self.last, -1 - self.lag), "joints": joints.clone()})
            if progress is not None and (index + 1) % PROGRESS_EVERY == 0:
                progress(PROGRESS_EVERY)
        if progress is not None and len(sequence) % PROGRESS_EVERY:
            progress(len(sequence) % PROGRESS_EVERY)
        tail = min(self.lag, len(frames))
        flush = [
            {**_frame_outputs(self.last, position), "joints": self._skeleton(self.last.joints[0, position]).clone()}
            for position in range(self.window - tail, self.window)
        ]
        frames = frames[self.lag :] + flush  # frames lag.. as pushed, then the flush
        return {
            key: None if frames[0][key] is None else torch.stack([f[key] for f in frames])
            for key in ("joints", "theta", "beta")
        }


def _frame_outputs(out: NetOutput, position: int) -> dict[str, Tensor | None]:
    """Joints (21,3), theta (48,) and beta (10,) of one window position of a batch-1 output (copies)."""
    return {
        "joints": out.joints[0, position].clone(),
        "theta": None if out.theta is None else out.theta[0, position].clone(),
        "beta": None if out.beta is None else out.beta[0].clone(),
    }
