"""Shared helpers of the reporting tests."""

import importlib
from typing import Any

import pytest
from torch import nn


def build_net(config: dict[str, Any]) -> nn.Module:
    """The network of a resolved config (``--print_config`` output): ``model.net`` class_path + init_args."""
    spec = config["model"]["net"]
    module, _, name = spec["class_path"].rpartition(".")
    return getattr(importlib.import_module(module), name)(**(spec.get("init_args") or {}))


@pytest.fixture
def net_from_config():
    return build_net
