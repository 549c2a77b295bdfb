"""Write a shipped pretrained checkpoint from a training run's checkpoint: weights and hyperparameters only.

    python -m handprior.pretrained.export logs/synthetic/version_0/checkpoints/epoch002-mpjpe9.51.ckpt synthetic
"""

from __future__ import annotations

from pathlib import Path

import torch

from handprior.errors import HandpriorInputError
from handprior.models.checkpoint import load_checkpoint
from handprior.pretrained import PRETRAINED


def export(ckpt: str, name: str, output: str | None = None, note: str = "") -> Path:
    """Strip a run's checkpoint to what refinement needs (``state_dict``, the checked ``hyper_parameters``) and
    write it as the pretrained model ``name`` (into this package, or to ``output``).

    Args:
        ckpt: a checkpoint written by ``handprior fit`` (loaded weights-only and checked like any other).
        name: one of the pretrained models' names (``handprior.pretrained.PRETRAINED``).
        output: where to write instead of the package's file.
        note: free text stored with the weights (e.g. the command and data version it was trained with).
    """
    if name not in PRETRAINED:
        raise HandpriorInputError(f"unknown pretrained model name {name!r} (known: {', '.join(sorted(PRETRAINED))})")
    source = Path(ckpt)
    target = Path(output) if output is not None else PRETRAINED[name].path
    if target.exists() and source.exists() and target.resolve() == source.resolve():
        raise HandpriorInputError("the output is the checkpoint being read; choose another output", target)
    checkpoint = load_checkpoint(source)
    state = {key: value.detach().to("cpu").clone().contiguous() for key, value in checkpoint["state_dict"].items()}
    stripped = {
        "state_dict": state,
        "hyper_parameters": checkpoint["hyper_parameters"],
        "handprior_pretrained": {"name": name, "note": note, "epoch": int(checkpoint.get("epoch", -1))},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(stripped, target)
    print(f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB)")
    return target


if __name__ == "__main__":
    from jsonargparse import CLI

    CLI(export)
