"""The trained refiner as a plain object: normalisation, windowing, whole-sequence refinement and the mesh.

:class:`RefinementModel` is what every inference path uses: the LightningModule's validation and test, the
``Refiner`` behind ``handprior refine``, and the ``StreamingRefiner``. It holds the network (a plain
``nn.Module``) and the settings that say how to apply it; it knows nothing of training. Build it around a
network, or from a checkpoint with :meth:`RefinementModel.from_checkpoint` (the one loader: weights-only, the
network rebuilt only from handprior's registry of networks and filters).

    model = RefinementModel.from_checkpoint("last.ckpt")
    out = model.refine_sequence(joints_mm)  # (L,21,3) -> {"joints": (L,21,3), "theta": (L,48), "beta": (L,10)}
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

import torch
from torch import Tensor, nn

from handprior.body.bones import with_running_bone_lengths, with_sequence_bone_lengths
from handprior.data.windows import cut_windows, local_window_starts, stitch_windows, taper_weights
from handprior.models.checkpoint import check_compatible, load_checkpoint, network_from_checkpoint
from handprior.models.nets.output import NetOutput

NET_PREFIX = "net."  # the network's keys in a LightningModule checkpoint's state dict
BoneMode = Literal["free", "sequence", "running"]  # RefinementModel(bones=...), HandRefiner(bones=...)
BONE_MODES: tuple[str, ...] = get_args(BoneMode)


class RefinementModel:
    """A network with its normalisation and windowing: windows or whole sequences in millimetres in, refined
    joints (and MANO parameters, when the network predicts them) out.

    Args:
        net: the refinement network (``HandPriorNet``, ``SmoothNet``, a filter, ...).
        window: frames per window, T, the network was trained on.
        input_scale_mm: the network sees each window centred on its mean wrist and divided by this.
        eval_stride: frames between window starts in :meth:`refine_sequence` (None: the window length).
        eval_chunk: windows per network call in :meth:`refine_sequence`.
        mano_model_path: the MANO model for :meth:`mesh` (None: the built-in stand-in).
        flat_hand_mean: MANO pose convention of the network's theta (zero pose = flat hand).
        bones: ``free`` (the network's joints as they come) or ``sequence``: after refining a whole sequence,
            every frame gets the sequence's median bone lengths (one skeleton per sequence; each bone keeps its
            direction, :func:`handprior.body.bones.with_sequence_bone_lengths`). A hand prior beyond the paper
            that any method, filters included, can use; windows (:meth:`run_net`) are not changed. ``running``:
            its causal form, frame t gets the mean bone lengths of frames 0..t (what ``StreamingRefiner`` does
            live; :func:`handprior.body.bones.with_running_bone_lengths`).
    """

    def __init__(
        self,
        net: nn.Module,
        window: int = 27,
        input_scale_mm: float = 100.0,
        eval_stride: int | None = None,
        eval_chunk: int = 256,
        mano_model_path: str | None = None,
        flat_hand_mean: bool = True,
        bones: BoneMode = "free",
    ) -> None:
        if bones not in BONE_MODES:
            raise ValueError(f"bones must be one of {', '.join(BONE_MODES)}, got {bones!r}")
        self.bones = bones
        if eval_stride is not None and eval_stride < 1:
            raise ValueError(f"eval_stride must be >= 1 or None (the window length), got {eval_stride}")
        self.net, self.window, self.input_scale_mm = net, int(window), float(input_scale_mm)
        self.eval_stride, self.eval_chunk = eval_stride, int(eval_chunk)
        self.mano_model_path, self.flat_hand_mean = mano_model_path, bool(flat_hand_mean)
        self._mano: nn.Module | None = None

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | torch.device = "cpu",
        mano_model: str | None = None,
        net: nn.Module | None = None,
        **settings: Any,
    ) -> RefinementModel:
        """Rebuild the model from a checkpoint file alone (weights-only; the network only from handprior's
        registry), in eval mode on ``device``.

        Args:
            path: a checkpoint written by ``handprior fit``.
            device: where the network runs.
            mano_model: the MANO model to use instead of the one the checkpoint was trained with.
            net: the network, for checkpoints that do not carry its configuration (written outside the CLI).
            settings: :class:`RefinementModel` arguments that replace the checkpoint's (``eval_stride``, ...).
        """
        checkpoint = load_checkpoint(path)
        net, _ = network_from_checkpoint(checkpoint, path, net)
        hparams = checkpoint["hyper_parameters"]
        stored = {
            key: hparams[key]
            for key in ("window", "input_scale_mm", "mano_model_path", "flat_hand_mean", "bones")
            if key in hparams
        }
        if mano_model is not None:
            stored["mano_model_path"] = mano_model
        model = cls(net, **{**stored, **settings})
        expected = {NET_PREFIX + key: value for key, value in net.state_dict().items()}
        check_compatible(expected, checkpoint, None, path)  # names keys as the checkpoint does (net.*)
        net.load_state_dict({key.removeprefix(NET_PREFIX): value for key, value in checkpoint["state_dict"].items()})
        return model.to(device).eval()

    # ------------------------------------------------------------------------------------------ state
    @property
    def device(self) -> torch.device:
        """Where the network's weights are (the CPU for networks without any, such as the filters)."""
        tensor = next(iter(self.net.state_dict().values()), None)
        return tensor.device if isinstance(tensor, Tensor) else torch.device("cpu")

    def to(self, device: str | torch.device) -> RefinementModel:
        """Move the network (and the MANO layer, once built) to ``device``."""
        self.net.to(device)
        if self._mano is not None:
            self._mano.to(device)
        return self

    def eval(self) -> RefinementModel:
        """Put the network in eval mode (no dropout)."""
        self.net.eval()
        return self

    @property
    def sequence_level(self) -> bool:
        """Whether the network takes a whole sequence as one window (the classical filters)."""
        return bool(getattr(self.net, "sequence_level", False))

    # --------------------------------------------------------------------------------------- network
    def run_net(self, pred: Tensor) -> NetOutput:
        """Network on windows in mm: (B,T,J,3) -> NetOutput with joints in mm.

        Outputs are float32 also under bf16/fp16 autocast: the network's matmuls run in low precision, while
        losses, the MANO layer and the metrics work in float32 millimetres.
        """
        center = pred[:, :, :1].mean(dim=1, keepdim=True)  # (B,1,1,3) mean wrist of each window
        out = self.net((pred - center) / self.input_scale_mm)
        out.joints = out.joints.float() * self.input_scale_mm + center
        out.theta = None if out.theta is None else out.theta.float()
        out.beta = None if out.beta is None else out.beta.float()
        out.beta_blocks = [b.float() for b in out.beta_blocks]
        return out

    def seamless(self) -> tuple[int, int]:
        """The stride and taper of seamless refinement (``handprior refine``'s default): windows every third
        of a window (3 per frame) blended with weights that ramp over half a window at each end
        (:func:`~handprior.data.windows.taper_weights`), so a frame's value moves smoothly from one window to the
        next. The evaluation protocol of ``handprior test`` is ``stride`` = ``eval_stride``, ``taper`` 0."""
        return max(1, self.window // 3), self.window // 2

    @torch.no_grad()
    def refine_sequence(
        self,
        pred: Tensor,
        stride: int | None = None,
        taper: int = 0,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Tensor | None]:
        """Refine one whole sequence (L,J,3) mm -> joints (L,J,3), theta (L,48) | None, beta (L,10) | None.

        Windows start every ``stride`` frames (None: ``eval_stride``, itself the window length by default; the
        last window is aligned to the sequence's end). Overlapping windows are averaged, each window position
        weighted by :func:`~handprior.data.windows.taper_weights` (``taper`` 0: equal weights, the evaluation
        protocol; :meth:`seamless` gives the blended setting). A sequence-level network (a filter) takes the whole
        sequence at once. ``progress`` is called with the number of frames finished after each network call
        (they add up to L). With ``bones="sequence"`` the joints then get the sequence's median bone lengths, with
        ``bones="running"`` the mean bone lengths of the frames up to each one.
        """
        result = self._refine_whole(pred, stride, taper, progress)
        if self.bones == "sequence":
            result["joints"] = with_sequence_bone_lengths(result["joints"])
        elif self.bones == "running":
            result["joints"] = with_running_bone_lengths(result["joints"])
        return result

    def _refine_whole(
        self, pred: Tensor, stride: int | None, taper: int, progress: Callable[[int], None] | None
    ) -> dict[str, Tensor | None]:
        length = pred.shape[0]
        if self.sequence_level:
            out = self.run_net(pred[None])
            beta = None if out.beta is None else out.beta.expand(length, -1)
            theta = None if out.theta is None else out.theta[0]
            if progress is not None:
                progress(length)
            return {"joints": out.joints[0], "theta": theta, "beta": beta}
        stride = stride or self.eval_stride or self.window
        if stride < 1 or taper < 0:
            raise ValueError(f"stride must be >= 1 and taper >= 0, got {stride} and {taper}")
        weights = taper_weights(self.window, taper).to(pred.device) if taper else None  # (T,)
        starts = torch.from_numpy(local_window_starts(length, self.window, stride)).to(pred.device)
        windows = cut_windows(pred, starts, self.window)  # (W,T,J,3)
        outs, done = [], 0
        for i in range(0, len(windows), self.eval_chunk):
            outs.append(self.run_net(windows[i : i + self.eval_chunk]))
            if progress is not None:  # frames before the next chunk's first window are final
                finished = length if i + self.eval_chunk >= len(windows) else int(starts[i + self.eval_chunk])
                progress(finished - done)
                done = finished
        result: dict[str, Tensor | None] = {
            "joints": stitch_windows(torch.cat([o.joints for o in outs]), starts, length, weights),
            "theta": None,
            "beta": None,
        }
        if outs[0].theta is not None:
            # Axis-angle averaged across overlapping windows: exact where windows agree, a close
            # approximation for the small differences between neighbouring windows.
            result["theta"] = stitch_windows(torch.cat([o.theta for o in outs]), starts, length, weights)
        if outs[0].beta is not None:
            beta = torch.cat([o.beta for o in outs])[:, None].expand(-1, self.window, -1)  # (W,T,10)
            result["beta"] = stitch_windows(beta, starts, length, weights)
        return result

    # ------------------------------------------------------------------------------------------ mesh
    @property
    def mano(self) -> nn.Module:
        """The MANO layer (built on first use; its model file is read through the restricted unpickler)."""
        if self._mano is None:
            from handprior.body.mano import ManoLayer

            self._mano = ManoLayer(model_path=self.mano_model_path, flat_hand_mean=self.flat_hand_mean)
        return self._mano

    def mesh(self, theta: Tensor, beta: Tensor, wrist: Tensor, chunk: int = 4096) -> Tensor:
        """MANO mesh placed at a wrist position: theta (N,48), beta (N,10), wrist (N,3) mm -> (N,778,3) mm.

        Always float32, with autocast off (the blend shapes and skinning need more than bf16's 8 bits).
        """
        theta, beta, wrist = theta.float(), beta.float(), wrist.float()
        layer = self.mano
        if layer.faces.device != theta.device:
            layer.to(theta.device)
        parts = []
        with torch.autocast(device_type=theta.device.type, enabled=False):
            for i in range(0, theta.shape[0], chunk):
                verts, joints = layer(theta[i : i + chunk], beta[i : i + chunk])
                parts.append(verts - joints[:, :1] + wrist[i : i + chunk, None])
        return torch.cat(parts)
