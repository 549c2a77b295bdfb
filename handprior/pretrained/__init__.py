"""Pretrained checkpoints shipped with handprior, loadable by a short name wherever a checkpoint path is taken
(``handprior refine --ckpt NAME``, ``Refiner.from_checkpoint(NAME)``, ``StreamingRefiner(NAME)``, ...).

Each is an ordinary handprior checkpoint stripped to its weights and hyperparameters (no optimiser state), so it
loads through the same weights-only, registry-checked path as any other checkpoint. They are trained on the
built-in synthetic benchmark only: synthetic hand motion, simulated single-frame estimator noise and the
stand-in MANO model (see the README, "Pretrained models", for what each was trained with and its measured
numbers). ``python -m handprior.pretrained.export RUN.ckpt NAME`` writes one from a training run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from handprior.errors import HandpriorInputError

FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Pretrained:
    """A shipped checkpoint: its file in this package, the config files that train it (``handprior fit --config
    ...`` in this order, from the repository's root) and what it is for."""

    file: str
    configs: tuple[str, ...]
    summary: str

    @property
    def command(self) -> str:
        """The training command."""
        return "handprior fit " + " ".join(f"--config {config}" for config in self.configs)

    @property
    def path(self) -> Path:
        return FOLDER / self.file


PRETRAINED: dict[str, Pretrained] = {
    "synthetic": Pretrained(
        "synthetic.ckpt",
        ("configs/synthetic.yaml", "configs/recipe.yaml"),
        "the full network (CPU size) trained by the CPU recipe (12 epochs) on the synthetic benchmark; the best "
        "shipped model offline and live",
    ),
    "synthetic-live": Pretrained(
        "synthetic-live.ckpt",
        ("configs/synthetic.yaml", "configs/live.yaml"),
        "the full network trained 3 epochs for streaming at lag 0 (the window's last frame supervised more); "
        "a little smoother live than `synthetic`, less accurate",
    ),
}


def resolve_checkpoint(path_or_name: str | Path) -> Path:
    """A checkpoint's file: an existing path as given, otherwise a shipped checkpoint's name
    (:data:`PRETRAINED`); anything else is an error that lists the names."""
    path = Path(path_or_name)
    if path.exists():
        return path
    shipped = PRETRAINED.get(str(path_or_name))
    if shipped is None:
        if not path.suffix and path.parent == Path("."):  # a bare word: most likely a mistyped name
            names = ", ".join(sorted(PRETRAINED))
            raise HandpriorInputError(f"no such checkpoint file, and not a pretrained model's name ({names})", path)
        return path  # the loader says the file does not exist
    if not shipped.path.is_file():
        raise HandpriorInputError(
            f"the pretrained model {path_or_name!r} is not in this installation; train it with `{shipped.command}` "
            f"and write it with `python -m handprior.pretrained.export RUN.ckpt {path_or_name}`",
            shipped.path,
        )
    return shipped.path
