"""What every refinement network returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class NetOutput:
    """Outputs of a refinement network for a batch of windows.

    joints: (B,T,J,3) refined joints, in the units of the network's input (the residual is already added).
    theta:  (B,T,48) MANO pose, axis-angle: 3 global orientation + 45 finger values; None if the net has no MANO head.
    beta:   (B,10) MANO shape, one per window, from the final hand prior memory; None if there is none.
    beta_blocks: (B,10) per block, for beta supervision on every block (empty unless enabled).
    """

    joints: Tensor
    theta: Tensor | None = None
    beta: Tensor | None = None
    beta_blocks: list[Tensor] = field(default_factory=list)
