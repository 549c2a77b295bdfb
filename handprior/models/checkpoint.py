"""Checkpoints without code execution: loading, the network configuration they carry, and compatibility checks.

A handprior checkpoint is a plain Lightning checkpoint that loads with ``torch.load(..., weights_only=True)``:
tensors and plain Python values only. Its ``hyper_parameters["net"]`` holds the network as configuration
(``{"class_path": "handprior.models.nets....", "init_args": {...}}``, recorded by the CLI), so the checkpoint
alone is enough to rebuild the model. Class paths are resolved only against an explicit registry of the
project's networks and filters (:mod:`handprior.models.registry`), and every other stored value must be plain
data: a checkpoint can never make the loader import a module or build a class it names.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from handprior.errors import HandpriorInputError
from handprior.models.registry import canonical_class_path, check_net_config, check_plain
from handprior.pretrained import resolve_checkpoint

MAX_LISTED = 4  # keys named per kind of state-dict mismatch


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint file, or a shipped pretrained model by name (:mod:`handprior.pretrained`), with
    ``weights_only=True`` (no pickled code runs) and check its hyperparameters (:func:`check_hyperparameters`:
    nothing they name is imported); clear errors for bad files."""
    path = resolve_checkpoint(path)
    if not path.is_file():
        raise HandpriorInputError("checkpoint file does not exist", path)
    if path.stat().st_size == 0:
        raise HandpriorInputError("checkpoint file is empty", path)
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise HandpriorInputError(
            f"refused to load: the checkpoint holds pickled Python objects that weights-only loading does not "
            f"allow ({first}); handprior checkpoints hold tensors and plain values only",
            path,
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as error:
        raise HandpriorInputError(f"not a readable checkpoint (truncated or corrupt: {error})", path) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), Mapping):
        raise HandpriorInputError("not a Lightning checkpoint (no 'state_dict')", path)
    checkpoint["hyper_parameters"] = check_hyperparameters(checkpoint.get("hyper_parameters") or {}, path)
    return checkpoint


LIGHTNING_INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"  # written by LightningCLI, never imported here


def check_hyperparameters(hparams: Any, source: str | Path | None = None) -> dict[str, Any]:
    """Check a checkpoint's ``hyper_parameters`` before anything is built from them; returns them with the
    network's class path in its canonical form.

    The network (``net``) must name a registered class (:mod:`handprior.models.registry`, resolved without
    importing anything) with plain-data arguments; every other value must be plain data, naming no class.
    Lightning's own ``_instantiator`` entry is accepted only with the value LightningCLI writes, and dropped.
    """
    if not isinstance(hparams, Mapping):
        raise HandpriorInputError("refused to load: the checkpoint's hyper_parameters are not a mapping", source)
    checked = dict(hparams)
    instantiator = checked.pop("_instantiator", None)
    if instantiator is not None and instantiator != LIGHTNING_INSTANTIATOR:
        raise HandpriorInputError(
            f"refused to load: the checkpoint names the instantiator {instantiator!r}; nothing was imported", source
        )
    net = checked.pop("net", None)
    check_plain(checked, "hyper_parameters", source)
    if net is not None:
        cls, init_args = check_net_config(net, source)
        checked["net"] = {"class_path": canonical_class_path(cls), "init_args": init_args}
    return checked


def net_config(checkpoint: Mapping[str, Any]) -> dict[str, Any] | None:
    """The network configuration a checkpoint was trained with (``model.net``; class path canonical, settings of
    earlier versions converted), or None if it has none."""
    config = checkpoint.get("hyper_parameters", {}).get("net")
    if not isinstance(config, Mapping) or "class_path" not in config:
        return None
    try:  # in canonical form (also for a checkpoint that Lightning read itself, unchecked)
        cls, init_args = check_net_config(config)
    except HandpriorInputError:
        return dict(config)
    return {"class_path": canonical_class_path(cls), "init_args": init_args}


def build_net(config: Mapping[str, Any], source: str | Path | None = None) -> nn.Module:
    """Instantiate a network from ``{"class_path": ..., "init_args": {...}}``: only a registered network or
    filter, with plain-data arguments (checked by :func:`handprior.models.registry.check_net_config`)."""
    from jsonargparse import ArgumentError, ArgumentParser

    cls, init_args = check_net_config(config, source)
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(cls, "net", fail_untyped=False)
    try:
        return parser.instantiate_classes(parser.parse_object({"net": init_args})).net
    except (ArgumentError, ValueError, TypeError, AttributeError) as error:
        message = str(error).strip().splitlines()[0]
        raise HandpriorInputError(
            f"cannot rebuild the network {config.get('class_path')!r} stored in the checkpoint with this version "
            f"of handprior ({message})",
            source,
        ) from None


def network_from_checkpoint(
    checkpoint: Mapping[str, Any], source: str | Path | None = None, net: nn.Module | None = None
) -> tuple[nn.Module, dict[str, Any] | None]:
    """The network of a loaded (checked) checkpoint, rebuilt from its stored configuration, and that
    configuration; ``net`` is used instead when given (for checkpoints that do not name their network)."""
    config = net_config(checkpoint)
    if net is not None:
        return net, config
    if config is None:
        raise HandpriorInputError(
            "the checkpoint does not name its network (no hyper_parameters['net']; it was not written by "
            "`handprior fit`); pass the network: from_checkpoint(path, net=...)",
            source,
        )
    return build_net(config, source), config


def config_differences(trained: Any, current: Any, prefix: str = "model.net") -> list[str]:
    """Human-readable differences between two configurations, e.g. ``model.net.init_args.dim=64, the config
    says 32``; keys present on one side only are named too."""
    if isinstance(trained, Mapping) and isinstance(current, Mapping):
        out: list[str] = []
        for key in sorted(set(trained) | set(current), key=str):
            name = f"{prefix}.{key}"
            if key not in current:
                out.append(f"{name}={trained[key]!r}, which the config does not set")
            elif key not in trained:
                out.append(f"{name} unset, the config says {current[key]!r}")
            else:
                out.extend(config_differences(trained[key], current[key], name))
        return out
    return [] if trained == current else [f"{prefix}={trained!r}, the config says {current!r}"]


def _listed(keys: list[str]) -> str:
    more = f", ... ({len(keys) - MAX_LISTED} more)" if len(keys) > MAX_LISTED else ""
    return ", ".join(keys[:MAX_LISTED]) + more


def state_dict_mismatch(expected: Mapping[str, Tensor], found: Mapping[str, Tensor]) -> list[str]:
    """What keeps ``found`` (a checkpoint's state dict) from loading into a model whose state is ``expected``:
    missing keys, unexpected keys and shape mismatches, summarised (empty when it loads)."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = [
        f"{key}: checkpoint {tuple(found[key].shape)}, model {tuple(expected[key].shape)}"
        for key in sorted(set(expected) & set(found))
        if isinstance(found[key], Tensor) and tuple(found[key].shape) != tuple(expected[key].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys ({_listed(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys ({_listed(unexpected)})")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatches ({_listed(shapes)})")
    return problems


def check_compatible(
    model_state: Mapping[str, Tensor],
    checkpoint: Mapping[str, Any],
    current_net: Mapping[str, Any] | None,
    source: str | Path | None = None,
) -> list[str]:
    """Raise a :class:`HandpriorInputError` naming the mismatch when a checkpoint's weights do not fit the model.

    The message names the differing network settings (when both sides know their configuration) and
    summarises missing, unexpected and shape-mismatched keys. Returns the configuration differences when the
    weights fit anyway (e.g. a different dropout), for the caller to warn about.
    """
    trained = net_config(checkpoint)
    differences = config_differences(trained, current_net) if trained and current_net else []
    problems = state_dict_mismatch(model_state, checkpoint["state_dict"])
    if problems:
        because = f"it was trained with {'; '.join(differences)}. " if differences else ""
        raise HandpriorInputError(
            f"the checkpoint does not fit this network: {because}{'; '.join(problems)}. Use the configuration the "
            "checkpoint was trained with (its run folder holds config.yaml)",
            source,
        )
    return differences
