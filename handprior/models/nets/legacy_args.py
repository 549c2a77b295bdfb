"""HandPriorNet settings written before the typed configuration (flat ``dtc_groups``, ``memory_tokens``, ...).

Checkpoints of earlier versions store the network's ``init_args`` flat; :func:`upgrade_flat_args` maps them to
the nested settings of :mod:`handprior.models.nets.config` (checkpoints load unchanged, with a warning). A
config file or option with the flat names is refused in one line (:func:`refuse_flat_settings`) that says how
to convert it:

    python -m handprior.models.nets.legacy_args OLD.yaml > NEW.yaml
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from handprior.errors import HandpriorInputError

# flat name -> (group, field) of the nested settings; global_block and hand_dtc_replaces_joint are mapped apart
FLAT_NAMES: dict[str, tuple[str, str]] = {
    "joint_dtc": ("joint_dtc", "placement"),
    "dtc_groups": ("dtc", "groups"),
    "dtc_kernel": ("dtc", "kernel_size"),
    "dtc_max_offset": ("dtc", "max_offset"),
    "dtc_formulation": ("dtc", "formulation"),
    "global_attention": ("global_block", "attention"),
    "global_dtc": ("global_block", "dtc"),
    "global_placement": ("global_block", "placement"),
    "memory_tokens": ("memory", "tokens"),
    "memory_style": ("memory", "style"),
    "beta_supervision": ("memory", "beta_supervision"),
}
# every flat name -> its nested option
RENAMED: dict[str, str] = {
    **{name: f"{group}.{field}" for name, (group, field) in FLAT_NAMES.items()},
    "global_block": "global_block.placement",
    "hand_dtc_replaces_joint": "joint_dtc.level",
}
CONVERT = "python -m handprior.models.nets.legacy_args OLD.yaml > NEW.yaml"


def flat_names(init_args: Mapping[str, Any]) -> list[str]:
    """The names in ``init_args`` that are flat settings of before the typed configuration (empty if none)."""
    return [k for k in init_args if k in RENAMED and not isinstance(init_args[k], Mapping)]


def upgrade_flat_args(init_args: Mapping[str, Any]) -> dict[str, Any]:
    """HandPriorNet ``init_args`` with flat settings -> the same network's nested settings (others unchanged).

    ``global_block: false`` becomes ``global_block.placement: none`` (whatever ``global_placement`` says);
    ``hand_dtc_replaces_joint: true`` becomes ``joint_dtc.level: hand``.
    """
    args = dict(init_args)
    nested: dict[str, dict[str, Any]] = {}
    for name in flat_names(init_args):
        value = args.pop(name)
        if name == "global_block":
            if not value:
                nested.setdefault("global_block", {})["placement"] = "none"
        elif name == "hand_dtc_replaces_joint":
            nested.setdefault("joint_dtc", {})["level"] = "hand" if value else "joint"
        else:
            group, field = FLAT_NAMES[name]
            nested.setdefault(group, {}).setdefault(field, value)  # global_block: false wins over global_placement
    for group, values in nested.items():
        args[group] = {**dict(args.get(group) or {}), **values}
    return args


def upgrade_config(config: Any) -> Any:
    """A whole run config (or fragment) with the ``model.net.init_args`` of a HandPriorNet upgraded."""
    net = (config.get("model") or {}).get("net") if isinstance(config, Mapping) else None
    if not isinstance(net, Mapping) or not isinstance(net.get("init_args"), Mapping):
        return config
    if not str(net.get("class_path", "HandPriorNet")).endswith("HandPriorNet"):
        return config
    model = {**config["model"], "net": {**net, "init_args": upgrade_flat_args(net["init_args"])}}
    return {**config, "model": model}


def refuse_flat_settings(argv: Sequence[str]) -> None:
    """Raise a one-line :class:`HandpriorInputError` saying how to convert when a ``--config`` file of ``argv``
    or a ``--model.net.init_args.NAME`` option sets HandPriorNet's flat settings."""
    import yaml

    prefix = "--model.net.init_args."
    for i, arg in enumerate(argv):
        name, _, value = arg.removeprefix(prefix).partition("=")
        if arg.startswith(prefix) and flat_names({name: yaml.safe_load(value) if value else None}):
            raise HandpriorInputError(
                f"{prefix}{name} is a flat HandPriorNet setting of before the typed configuration; use "
                f"{prefix}{RENAMED[name]}"
            )
        path = arg.partition("=")[2] if arg.startswith("--config=") else None
        if arg == "--config" and i + 1 < len(argv):
            path = argv[i + 1]
        if path is None or not Path(path).is_file():
            continue
        try:
            config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            continue  # the argument parser says what is wrong with it
        if upgrade_config(config) != config:
            raise HandpriorInputError(
                f"model.net.init_args has HandPriorNet's flat settings of before the typed configuration; convert the "
                f"file with: python -m handprior.models.nets.legacy_args {path} > NEW.yaml",
                path,
            )


def main(argv: list[str] | None = None) -> None:
    """Print a config file with flat HandPriorNet settings in the nested form."""
    import yaml

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit(f"usage: {CONVERT}")
    with open(args[0], encoding="utf-8") as file:
        config = yaml.safe_load(file)
    sys.stdout.write(yaml.safe_dump(upgrade_config(config), sort_keys=False))


if __name__ == "__main__":
    main()
