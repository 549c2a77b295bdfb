"""Cutting sequences into fixed-length windows and stitching window outputs back (pure functions)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def local_window_starts(length: int, window: int, stride: int) -> np.ndarray:
    """Starts of windows covering ``0..length-1``; the last window ends exactly at the sequence end.

    A sequence shorter than the window gets one start (0): the caller pads it.
    """
    if stride < 1 or window < 1:
        raise ValueError(f"window ({window}) and stride ({stride}) must be positive")
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, length - window + 1, stride, dtype=np.int64)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts


def training_window_starts(offsets: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Global start frames of all training windows; windows never cross a sequence boundary.

    offsets: (S+1,). Sequences shorter than ``window`` contribute none. Returns (W,) int64.
    """
    starts = [
        begin + local_window_starts(end - begin, window, stride)
        for begin, end in zip(offsets[:-1].tolist(), offsets[1:].tolist())
        if end - begin >= window
    ]
    return np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)


def cut_windows(sequence: Tensor, starts: Tensor, window: int) -> Tensor:
    """Gather windows from one sequence: (L,...) with starts (W,) -> (W,window,...); pads short sequences.

    A sequence shorter than the window is padded by repeating its last frame.
    """
    length = sequence.shape[0]
    if length < window:
        pad = sequence[-1:].expand(window - length, *sequence.shape[1:])
        sequence = torch.cat([sequence, pad], dim=0)  # (window,...)
    index = starts[:, None] + torch.arange(window, device=sequence.device)[None]  # (W,window)
    return sequence[index]  # (W,window,...)


def taper_weights(window: int, taper: int) -> Tensor:
    """Blending weight of each window position: (window,), 1 in the middle, ramping down over ``taper`` frames
    at each end to ``1 / (taper + 1)`` at the first and last frame (never 0, so a frame that only one window
    covers keeps its value). ``taper`` 0 gives equal weights: a plain average of overlapping windows.

    With windows every ``stride`` frames and ``taper`` of about ``window / 2``, each frame's value moves
    gradually from one window's output to the next instead of switching at a window boundary.
    """
    if window < 1 or taper < 0:
        raise ValueError(f"window ({window}) must be positive and taper ({taper}) non-negative")
    position = torch.arange(window, dtype=torch.float32)  # (window,)
    edge = torch.minimum(position + 1, window - position)  # (window,) frames from the nearer end, 1-based
    return (edge / (taper + 1)).clamp(max=1.0)


def stitch_windows(windows: Tensor, starts: Tensor, length: int, weights: Tensor | None = None) -> Tensor:
    """Average overlapping window outputs back into one sequence: (W,T,...) -> (length,...).

    ``weights`` (T,) weighs each window position (:func:`taper_weights`; positive); None: equal weights.
    Frames past ``length`` (padding of a short sequence) are dropped.
    """
    num, window = windows.shape[:2]
    index = (starts[:, None] + torch.arange(window, device=windows.device)[None]).reshape(-1)  # (W*T,)
    flat = windows.reshape(num * window, -1)  # (W*T,D)
    keep = index < length
    if weights is None:
        weight = flat.new_ones(num * window)  # (W*T,)
    else:
        weight = weights.to(flat)[None].expand(num, window).reshape(-1)  # (W*T,)
    weight = weight[keep]
    total = flat.new_zeros(length, flat.shape[1]).index_add_(0, index[keep], flat[keep] * weight[:, None])  # (length,D)
    count = flat.new_zeros(length).index_add_(0, index[keep], weight)  # (length,)
    return (total / count[:, None]).reshape(length, *windows.shape[2:])
