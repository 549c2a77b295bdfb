"""The typed settings of :class:`~handprior.models.nets.HandPriorNet`: one small dataclass per addition.

Each dataclass is plain data (numbers, strings, booleans, ``Literal`` choices), so a checkpoint stores it as a
mapping and jsonargparse turns its fields into nested options (``--model.net.init_args.dtc.groups=8``) with
the documentation below as their ``--help`` text and the ``Literal`` choices as their validation. Every field is
checked once, here, when the dataclass is made (also in plain Python); the modules that read a setting trust it.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, fields
from typing import Literal

JointDTCPlacement = Literal["none", "head", "tail", "replace", "fusion", "tri_branch", "dual"]
DTCLevel = Literal["joint", "hand"]
DTCFormulation = Literal["matrix", "gather"]
GlobalPlacement = Literal["none", "serial", "parallel"]
MemoryStyle = Literal["prior", "vit"]
BetaSupervision = Literal["final", "every_block"]


def check_choices(config: object) -> None:
    """Raise a ValueError naming the field when a ``Literal`` field of a dataclass holds another value."""
    hints = typing.get_type_hints(type(config))
    for field in fields(config):  # type: ignore[arg-type]
        hint, value = hints[field.name], getattr(config, field.name)
        if typing.get_origin(hint) is Literal and value not in typing.get_args(hint):
            raise ValueError(f"{field.name} must be one of {typing.get_args(hint)}, got {value!r}")


@dataclass(frozen=True)
class DTCConfig:
    """The dynamic temporal convolution, the same for every DTC of the network (joint level and the global
    block's hand level).

    Args:
        groups: aggregation groups G, each with its own offsets and modulation (dim must be divisible by G).
        kernel_size: taps K on the regular grid k - (K-1)/2 (paper: 8; an even K samples half-integers).
        max_offset: learned offsets are clamped to +-this many frames (paper: 2).
        formulation: the sampling step: "matrix" (interpolation matrix + batched matmul) or "gather"; the same
            numbers.
    """

    groups: int = 2
    kernel_size: int = 8
    max_offset: float = 2.0
    formulation: DTCFormulation = "matrix"

    def __post_init__(self) -> None:
        check_choices(self)
        if self.groups < 1:
            raise ValueError(f"DTC groups must be >= 1, got {self.groups}")
        if self.kernel_size < 1:
            raise ValueError(f"DTC kernel_size must be >= 1, got {self.kernel_size}")
        if self.max_offset < 0:
            raise ValueError(f"DTC max_offset must be >= 0, got {self.max_offset}")


@dataclass(frozen=True)
class JointDTCConfig:
    """Where the joint-level dynamic temporal convolution goes in each spatio-temporal block (Table 1).

    Args:
        placement: "none" (MotionBERT baseline), "head" (a DTC sublayer at the head of each branch), "tail" (at
            the tail of each branch), "replace" (DTC instead of temporal attention), "fusion" (one DTC sublayer
            after the fused branches), "tri_branch" (three branches S->T, T->S and S->DTC, 3-way fusion), "dual"
            ("Dynamic Dual-branch", default: a DTC sublayer directly after the temporal attention of each branch).
        level: "joint" (every joint is its own sequence) or "hand" (the sublayers work on the joint-pooled hand
            feature and add their output to every joint: Table 2, "hand-level DTC replaces joint-level DTC",
            Fig. 4a).
    """

    placement: JointDTCPlacement = "dual"
    level: DTCLevel = "joint"

    def __post_init__(self) -> None:
        check_choices(self)
        if self.level == "hand" and self.placement == "none":
            raise ValueError("joint_dtc.level 'hand' needs a joint_dtc.placement other than 'none'")


@dataclass(frozen=True)
class GlobalBlockConfig:
    """The global temporal block: hand-level temporal modelling on the joint-pooled feature (Table 2).

    Args:
        placement: "none" (no global block), "serial" ("SS", default: after each spatio-temporal block, on its
            output) or "parallel" ("PS": on the block's input, its update added to the block's output).
        attention: the temporal-attention branch ("GA").
        dtc: the hand-level DTC branch ("DC").
    """

    placement: GlobalPlacement = "serial"
    attention: bool = True
    dtc: bool = True

    def __post_init__(self) -> None:
        check_choices(self)
        if self.placement != "none" and not (self.attention or self.dtc):
            raise ValueError("global_block needs attention or dtc; use global_block.placement 'none' for no block")


@dataclass(frozen=True)
class MemoryConfig:
    """The hand prior memory (Table 3).

    Args:
        tokens: memory tokens M (Table 3: 1, 4, 8, 16); 0 switches the memory off (beta is then read from the
            features pooled over frames and joints). Without the global block the memory update reads the joint
            mean of each block's output.
        style: "prior" (cross-attention update after each block, injected as extra keys/values) or "vit" (the
            tokens also act as queries in every spatio-temporal attention, ViT-style "VS").
        beta_supervision: "final" (beta from the final memory only, "FS") or "every_block" (also a beta from the
            memory after each of the first depth-1 blocks, through the same beta head, returned in
            ``beta_blocks``; needs tokens >= 1).
    """

    tokens: int = 8
    style: MemoryStyle = "prior"
    beta_supervision: BetaSupervision = "final"

    def __post_init__(self) -> None:
        check_choices(self)
        if self.tokens < 0:
            raise ValueError(f"memory tokens must be >= 0, got {self.tokens}")
        if self.beta_supervision == "every_block" and self.tokens == 0:
            raise ValueError("memory beta_supervision 'every_block' reads the memory: set memory tokens >= 1")


# The defaults (frozen, so one shared instance each is safe as a default argument).
DEFAULT_JOINT_DTC = JointDTCConfig()
DEFAULT_DTC = DTCConfig()
DEFAULT_GLOBAL_BLOCK = GlobalBlockConfig()
DEFAULT_MEMORY = MemoryConfig()
