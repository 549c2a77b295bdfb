"""SmoothNet baseline (Zeng et al., ECCV 2022): fully connected layers along the time axis (docs/architecture.md,
"Baselines").

Every coordinate channel (joint j, axis c) is an independent 1-D signal of T frames. The signal goes through
Linear(T->hidden), residual blocks Linear(hidden->res_hidden) -> Linear(res_hidden->hidden), and
Linear(hidden->T). All channels share the weights. The network sees a whole window at once, so the window
length must equal ``seq_len``.
"""

from __future__ import annotations

from torch import Tensor, nn

from handprior.models.nets.output import NetOutput


class _ResidualBlock(nn.Module):
    """x + (Linear -> LeakyReLU -> Dropout -> Linear -> LeakyReLU -> Dropout)(x), along the hidden axis."""

    def __init__(self, hidden: int, res_hidden: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(hidden, res_hidden),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(res_hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SmoothNet(nn.Module):
    """Temporal smoothing network; returns only joints (theta and beta are None).

    Args:
        num_joints: joints J per frame.
        seq_len: window length T (the first and last layer map T frames; input windows must have T frames).
        hidden: width of the encoder and residual stream.
        res_hidden: width inside each residual block.
        num_blocks: number of residual blocks.
        dropout: dropout inside the encoder and residual blocks.
        residual: add the network output to the input (refinement form) instead of returning it directly
            (the original SmoothNet returns the decoder output; default False).
    """

    def __init__(
        self,
        num_joints: int = 21,
        seq_len: int = 27,
        hidden: int = 512,
        res_hidden: int = 256,
        num_blocks: int = 3,
        dropout: float = 0.5,
        residual: bool = False,
    ) -> None:
        super().__init__()
        if seq_len < 1 or hidden < 1 or res_hidden < 1 or num_blocks < 0:
            raise ValueError("SmoothNet: seq_len, hidden, res_hidden must be >= 1 and num_blocks >= 0")
        self.num_joints, self.seq_len, self.residual = num_joints, seq_len, residual
        self.encoder = nn.Sequential(nn.Linear(seq_len, hidden), nn.LeakyReLU(0.2), nn.Dropout(dropout))
        self.blocks = nn.Sequential(*(_ResidualBlock(hidden, res_hidden, dropout) for _ in range(num_blocks)))
        self.decoder = nn.Linear(hidden, seq_len)

    def forward(self, x: Tensor) -> NetOutput:
        """x (B,T,J,3) -> NetOutput(joints (B,T,J,3))."""
        B, T, J, D = x.shape
        if T != self.seq_len or J != self.num_joints:
            raise ValueError(
                f"SmoothNet was built for windows of {self.seq_len} frames x {self.num_joints} joints, got {T} x {J}"
            )
        signals = x.reshape(B, T, J * D).transpose(1, 2)  # (B,J*3,T): one signal per coordinate channel
        out = self.decoder(self.blocks(self.encoder(signals)))  # (B,J*3,T)
        out = out.transpose(1, 2).reshape(B, T, J, D)  # (B,T,J,3)
        return NetOutput(joints=x + out if self.residual else out)
