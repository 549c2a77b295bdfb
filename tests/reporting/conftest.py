"""Shared helpers of the reporting tests."""

from typing import Any

import pytest
from torch import nn

from handprior.models.checkpoint import build_net as build_registered_net


def build_net(config: dict[str, Any]) -> nn.Module:
    """The network of a resolved config (``--print_config`` output), built as a checkpoint's would be."""
    return build_registered_net(config["model"]["net"])


@pytest.fixture
def net_from_config():
    return build_net
