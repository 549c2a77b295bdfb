"""The torch device a refiner runs on, checked against this machine before any work starts."""

from __future__ import annotations

import torch

from handprior.errors import HandpriorInputError


def resolve_device(device: str) -> torch.device:
    """``auto``: the GPU when there is one, else the CPU; otherwise any torch device string, refused when this
    machine does not have it (``cuda`` without a GPU, ``cuda:7`` on a machine with fewer GPUs)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise HandpriorInputError(f"unknown device {device!r} ({error})") from None
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise HandpriorInputError(f"--device {device}: this machine has no CUDA GPU; use cpu or auto")
        if resolved.index is not None and resolved.index >= count:
            raise HandpriorInputError(
                f"--device {device}: this machine has {count} CUDA GPU{'s' if count > 1 else ''} "
                f"(cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})"
            )
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise HandpriorInputError(f"--device {device}: MPS is not available on this machine; use cpu or auto")
    return resolved
