"""The networks and filters a checkpoint (or a results file's run config) may name: an explicit registry.

A checkpoint stores its network as configuration, ``{"class_path": ..., "init_args": {...}}``. Loading one
never imports a module because the file names it: a class path is resolved by looking its module up among the
package modules listed here (already imported, compared as objects) and its class up in that module's
namespace, and the object found must be one of :data:`NETWORKS`. Paths that reach a foreign class *through* a
handprior module (``handprior.body.mano.smplx.MANO``) resolve to no listed module and are refused.

The classes' ``init_args`` must be plain data (numbers, strings, booleans, None, lists and dicts of these) with
no nested ``class_path``: the registered classes take nothing else (a test checks their signatures), so
rebuilding one from a file cannot construct any other class either.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

import handprior.models.filters as filters_module
import handprior.models.filters.base as filters_base_module
import handprior.models.filters.classical as filters_classical_module
import handprior.models.filters.kalman as filters_kalman_module
import handprior.models.filters.one_euro as filters_one_euro_module
import handprior.models.nets as nets_module
import handprior.models.nets.handprior_net as handprior_net_module
import handprior.models.nets.smoothnet as smoothnet_module
from handprior.errors import HandpriorInputError
from handprior.models.filters import Gaussian1d, Identity, Kalman, OneEuro, RTSSmoother, SavitzkyGolay
from handprior.models.nets import HandPriorNet, SmoothNet
from handprior.models.nets.legacy_args import CONVERT, flat_names, upgrade_flat_args

# Every class a checkpoint may rebuild. Add a new network or filter here (and nowhere else).
NETWORKS: tuple[type[nn.Module], ...] = (
    HandPriorNet,
    SmoothNet,
    SavitzkyGolay,
    Gaussian1d,
    OneEuro,
    Kalman,
    RTSSmoother,
    Identity,
)
# The modules a class path may name: the public packages the configs use and the defining modules.
MODULES: tuple[ModuleType, ...] = (
    nets_module, filters_module, handprior_net_module, smoothnet_module,
    filters_base_module, filters_classical_module, filters_kalman_module, filters_one_euro_module,
)  # fmt: skip
PLAIN_TYPES = (str, int, float, bool, type(None))
MAX_DEPTH = 16  # nesting of plain data in init_args


def registered_class_paths() -> dict[str, type[nn.Module]]:
    """Every accepted spelling of every registered class: ``module.Name`` for each listed module that holds it
    and the bare class name (as jsonargparse accepts in configs)."""
    paths: dict[str, type[nn.Module]] = {}
    for cls in NETWORKS:
        paths[cls.__name__] = cls
        for module in MODULES:
            if vars(module).get(cls.__name__) is cls:
                paths[f"{module.__name__}.{cls.__name__}"] = cls
    return paths


def canonical_class_path(cls: type[nn.Module]) -> str:
    """The public path of a registered class, e.g. ``handprior.models.nets.HandPriorNet``."""
    for module in MODULES:
        if vars(module).get(cls.__name__) is cls:
            return f"{module.__name__}.{cls.__name__}"
    raise KeyError(f"{cls.__name__} is not a registered network")


def resolve_class(class_path: Any, source: str | Path | None = None) -> type[nn.Module]:
    """The registered class that ``class_path`` names, found without importing anything; refused otherwise."""
    if isinstance(class_path, str):
        module_name, _, name = class_path.rpartition(".")
        modules = {module.__name__: module for module in MODULES}
        if not module_name:
            found = registered_class_paths().get(name)
        else:
            found = vars(modules[module_name]).get(name) if module_name in modules else None
        if isinstance(found, type) and any(found is cls for cls in NETWORKS):
            return found
    names = ", ".join(sorted({canonical_class_path(cls) for cls in NETWORKS}))
    raise HandpriorInputError(
        f"refused to load: the network class {class_path!r} is not one of handprior's registered networks "
        f"and filters ({names}); nothing was imported",
        source,
    )


def check_plain(value: Any, where: str, source: str | Path | None = None, depth: int = 0) -> None:
    """Refuse anything but plain data (and any nested ``class_path``) in ``value``; ``where`` names it."""
    if depth > MAX_DEPTH:
        raise HandpriorInputError(f"refused to load: {where} is nested more than {MAX_DEPTH} levels deep", source)
    if isinstance(value, PLAIN_TYPES):
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_plain(item, f"{where}[{i}]", source, depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise HandpriorInputError(f"refused to load: {where} has a non-string key {key!r}", source)
            if key in ("class_path", "_class_path", "_instantiator"):
                raise HandpriorInputError(
                    f"refused to load: {where}.{key} names a class to build; only the network itself is rebuilt "
                    "from a file, and only from handprior's registered networks",
                    source,
                )
            check_plain(item, f"{where}.{key}", source, depth + 1)
        return
    raise HandpriorInputError(
        f"refused to load: {where} holds a {type(value).__name__}; only numbers, strings, booleans, lists and "
        "dicts are accepted",
        source,
    )


def check_net_config(config: Any, source: str | Path | None = None) -> tuple[type[nn.Module], dict[str, Any]]:
    """Check a stored network configuration; returns the registered class and its plain ``init_args``."""
    if not isinstance(config, Mapping) or "class_path" not in config:
        raise HandpriorInputError("refused to load: the network configuration has no 'class_path'", source)
    unknown = sorted(set(config) - {"class_path", "init_args"}, key=str)
    if unknown:
        raise HandpriorInputError(f"refused to load: the network configuration has unknown keys {unknown}", source)
    cls = resolve_class(config["class_path"], source)
    init_args = config.get("init_args") or {}
    if not isinstance(init_args, Mapping):
        raise HandpriorInputError("refused to load: the network's init_args are not a mapping", source)
    check_plain(init_args, "model.net.init_args", source)
    if cls is HandPriorNet and flat_names(init_args):
        warnings.warn(
            f"{source or 'the network configuration'}: {', '.join(flat_names(init_args))} are HandPriorNet settings "
            f"of before the typed configuration, read as the same network's nested settings; convert a config file "
            f"with: {CONVERT}",
            FutureWarning,
            stacklevel=2,
        )
        return cls, upgrade_flat_args(init_args)
    return cls, dict(init_args)
