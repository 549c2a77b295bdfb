"""Plain networks (no Lightning): the paper's HandPriorNet, SmoothNet and their building blocks."""

from handprior.models.nets.dtc import DynamicTemporalConv
from handprior.models.nets.handprior_net import HandPriorNet
from handprior.models.nets.output import NetOutput
from handprior.models.nets.smoothnet import SmoothNet

__all__ = ["DynamicTemporalConv", "HandPriorNet", "NetOutput", "SmoothNet"]
