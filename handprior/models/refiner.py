"""The LightningModule: a refinement network + the MANO layer + losses + metrics + optimiser.

The network is a plain ``nn.Module`` given by configuration (``model.net``). Training runs on windows of T
frames; validation, test and predict run on whole sequences through the inference object
(:class:`handprior.inference.model.RefinementModel`: windowed with ``eval_stride`` and stitched by averaging
overlapping windows), so metrics (Accel in particular) are over whole sequences.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import Tensor, nn

from handprior.errors import HandpriorInputError
from handprior.inference.model import BoneMode, RefinementModel
from handprior.metrics.functional import root_relative
from handprior.metrics.modules import MPJPE, MPVPE, AccelError, BoneLengthVariation, MPVPEJoints
from handprior.models.checkpoint import check_compatible, load_checkpoint, network_from_checkpoint
from handprior.models.losses import (
    LossWeights,
    accel_loss,
    frame_weights,
    param_loss,
    position_loss,
    readout_weights,
    relative_weights,
)
from handprior.models.nets.output import NetOutput
from handprior.training.optimizer import adamw

STAGES = ("val", "test")
# HandRefiner arguments that say how to evaluate, not what was trained: each run's choice, never stored.
EVALUATION_SETTINGS = ("eval_stride", "eval_chunk", "accel_pad")
REFINED_METRICS = ("mpjpe", "mpvpe", "mpvpe_joints", "accel", "bone_cv")
INPUT_METRICS = ("input_mpjpe", "input_accel", "input_bone_cv")


class HandRefiner(L.LightningModule):
    """Refines per-frame 3D hand joints over time and predicts a MANO mesh."""

    def __init__(
        self,
        net: nn.Module,
        window: int = 27,
        input_scale_mm: float = 100.0,
        loss: LossWeights | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.01,
        warmup_steps: int = 0,
        min_lr_ratio: float = 0.0,
        mano_model_path: str | None = None,
        flat_hand_mean: bool = True,
        mesh_frames: int = 3,
        eval_stride: int | None = None,
        eval_chunk: int = 256,
        accel_pad: bool = False,
        compile: bool = False,
        bones: BoneMode = "free",
    ) -> None:
        """
        Args:
            net: the refinement network (``handprior.models.nets.HandPriorNet``, ``SmoothNet``, a filter, ...).
            window: frames per window, T; linked from ``data.window``, do not set it yourself.
            input_scale_mm: the network sees each window centred on its mean wrist and divided by this.
            loss: loss weights and thresholds.
            lr: AdamW learning rate (peak of the cosine schedule).
            weight_decay: AdamW weight decay.
            warmup_steps: linear warm-up steps before the cosine decay.
            min_lr_ratio: the cosine schedule decays to ``lr * min_lr_ratio`` at the last step.
            mano_model_path: the MANO model (None: the built-in stand-in); linked from ``data``, whose ground
                truth is defined with it.
            flat_hand_mean: MANO pose convention (zero pose = flat hand); linked from ``data``.
            mesh_frames: training only: frames per window (drawn at random) that go through the MANO layer for the
                vertex loss; the mesh is the costly part of a CPU training step. 0 = every frame.
            eval_stride: frames between window starts when refining whole sequences. None (default): the window
                length, so every frame is predicted by one window (only a sequence's last window, aligned to its
                end, overlaps its neighbour and the two are averaged): MotionBERT's evaluation protocol. A smaller
                stride averages overlapping windows, a test-time ensemble that lowers the MPJPE and Accel of any
                windowed network (``experiments/bench/protocols.py`` measures both).
            eval_chunk: windows per network call when refining whole sequences.
            accel_pad: count a zero acceleration error at both sequence ends (SmoothNet's convention).
            compile: ``torch.compile`` the network (in place, so checkpoints keep their parameter names) when the
                Trainer sets the model up; for GPU training, where it fuses the many small kernels.
            bones: ``sequence``: when whole sequences are refined (validation, test, predict, ``handprior
                refine``), every frame gets the sequence's median bone lengths, one skeleton per sequence (a hand
                prior beyond the paper, for any network or filter); ``running``: its causal form for live
                methods, each frame gets the mean bone lengths of the frames up to it; ``free``: the joints as the
                network gives them. Training windows are not changed.
        """
        super().__init__()
        self.loss_weights = loss or LossWeights()
        # Plain values only, so that checkpoints load with weights_only=True (no pickled classes). How to
        # evaluate is each run's choice, so the evaluation settings are not stored with the weights.
        self.save_hyperparameters(ignore=["net", "loss", *EVALUATION_SETTINGS])
        self.hparams["loss"] = asdict(self.loss_weights)
        self.net = net
        self.window = window
        self.mesh_frames = mesh_frames
        # Inference (normalisation, windowing, whole sequences, the mesh) is a plain object sharing the network.
        self.inference = RefinementModel(
            net, window, input_scale_mm, eval_stride, eval_chunk, mano_model_path, flat_hand_mean, bones
        )
        self.metrics = nn.ModuleDict(
            {
                stage: nn.ModuleDict(
                    {
                        "mpjpe": MPJPE(),
                        "mpvpe": MPVPE(),
                        "mpvpe_joints": MPVPEJoints(),
                        "accel": AccelError(pad=accel_pad),
                        "input_mpjpe": MPJPE(),
                        "input_accel": AccelError(pad=accel_pad),
                        "bone_cv": BoneLengthVariation(),
                        "input_bone_cv": BoneLengthVariation(),
                    }
                )
                for stage in STAGES
            }
        )

    # ----------------------------------------------------------------------------------------- network
    def configure_model(self) -> None:
        """Compile the network when ``compile`` is set (once; the Trainer calls this for every stage)."""
        if self.hparams.get("compile") and getattr(self.net, "_compiled_call_impl", None) is None:
            self.net.compile()

    def forward(self, pred: Tensor) -> NetOutput:
        """Network on windows in mm: (B,T,J,3) -> NetOutput with joints in mm (see :class:`RefinementModel`)."""
        return self.inference.run_net(pred)

    # ---------------------------------------------------------------------------------------- training
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        out = self(batch["pred"])
        gt, w = batch["gt"], self.loss_weights
        pred_rel, gt_rel = root_relative(out.joints), root_relative(gt)  # (B,T,J,3)
        valid = batch.get("valid")  # (B,T,J) bool ground-truth validity; absent: all valid (unmasked losses)
        rel_w = relative_weights(valid)  # (B,T,J) or None
        root_w = None if valid is None else valid[..., :1].float()  # (B,T,1) or None
        time_w = readout_weights(gt.shape[1], w.readout, w.readout_lag)  # (T,) or None: streaming training
        if time_w is not None:
            time_w = time_w.to(gt.device)[None, :, None]  # (1,T,1)
            rel_w = time_w if rel_w is None else rel_w * time_w
            root_w = time_w if root_w is None else root_w * time_w
        terms = {
            "joints": position_loss(pred_rel, gt_rel, w.position_delta_mm, rel_w),
            "root": position_loss(out.joints[..., :1, :], gt[..., :1, :], w.position_delta_mm, root_w),
            "accel": accel_loss(pred_rel, gt_rel, rel_w),
        }
        if out.theta is not None and "gt_theta" in batch:  # the store has MANO ground truth (no host sync)
            gt_beta = batch["gt_beta"]  # (B,10)
            terms["theta"] = param_loss(out.theta, batch["gt_theta"], w.param_delta, frame_weights(valid))
            if out.beta is not None:
                betas = [out.beta, *out.beta_blocks]
                terms["beta"] = sum(param_loss(b_, gt_beta, w.param_delta) for b_ in betas) / len(betas)
            if w.verts > 0:
                terms["verts"] = self._vertex_loss(out, batch)
        loss = sum(getattr(w, name) * value for name, value in terms.items())
        batch_size = gt.shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        for name, value in terms.items():
            self.log(f"train/loss_{name}", value, batch_size=batch_size)
        return loss

    def _vertex_loss(self, out: NetOutput, batch: dict[str, Any]) -> Tensor:
        """Smooth-L1 between predicted and ground-truth meshes on ``mesh_frames`` random frames per window."""
        gt, gt_theta, gt_beta = batch["gt"], batch["gt_theta"], batch["gt_beta"]  # (B,T,21,3), (B,T,48), (B,10)
        b, t = gt.shape[:2]
        frames = self._mesh_frame_index(b, t, gt.device)  # (B,F)
        f = frames.shape[1]

        def pick(x: Tensor) -> Tensor:  # (B,T,...) -> (B*F,...)
            index = frames.reshape(b, f, *([1] * (x.dim() - 2))).expand(b, f, *x.shape[2:])
            return x.gather(1, index).reshape(b * f, *x.shape[2:])

        beta = out.beta if out.beta is not None else gt_beta  # (B,10)
        wrist_p, wrist_g = pick(out.joints)[:, :1], pick(gt)[:, :1]  # (B*F,1,3)
        mesh = self.inference.mesh
        pred_v = mesh(pick(out.theta), beta.repeat_interleave(f, 0), wrist_p[:, 0])  # (B*F,778,3)
        gt_v = mesh(pick(gt_theta), gt_beta.repeat_interleave(f, 0), wrist_g[:, 0])
        scale = batch.get("scale", gt.new_ones(b)).repeat_interleave(f, 0)[:, None, None]  # augmentation (B*F,1,1)
        pred_v = (pred_v - wrist_p) * scale + wrist_p
        gt_v = (gt_v - wrist_g) * scale + wrist_g
        weights = frame_weights(batch.get("valid"))  # (B,T): frames with every joint valid (the MPVPE rule)
        weights = None if weights is None else pick(weights)[:, None].expand(-1, pred_v.shape[1])  # (B*F,V)
        return position_loss(pred_v, gt_v, self.loss_weights.position_delta_mm, weights)

    def _mesh_frame_index(self, batch: int, frames: int, device: torch.device) -> Tensor:
        """Frames per window for the vertex loss: (B,F) random distinct indices, or all frames."""
        if self.mesh_frames <= 0 or self.mesh_frames >= frames:
            return torch.arange(frames, device=device).expand(batch, frames)
        return torch.rand(batch, frames, device=device).argsort(dim=1)[:, : self.mesh_frames]

    # -------------------------------------------------------------------------------------- evaluation
    def _evaluate(self, batch: dict[str, Any], stage: str) -> dict[str, Tensor | None]:
        pred, gt = batch["pred"], batch["gt"]
        valid = batch.get("valid")  # (L,J) bool ground-truth validity; absent: all valid
        refined = self.inference.refine_sequence(pred)
        metrics = self.metrics[stage]
        metrics["mpjpe"].update(refined["joints"], gt, valid)
        metrics["accel"].update(refined["joints"], gt, valid)
        metrics["input_mpjpe"].update(pred, gt, valid)
        metrics["input_accel"].update(pred, gt, valid)
        metrics["bone_cv"].update(refined["joints"])
        metrics["input_bone_cv"].update(pred)
        if refined["theta"] is not None and batch["has_mano"]:
            beta = refined["beta"] if refined["beta"] is not None else batch["gt_beta"]
            pred_v = self.inference.mesh(refined["theta"], beta, refined["joints"][:, 0])
            gt_v = self.inference.mesh(batch["gt_theta"], batch["gt_beta"], gt[:, 0])
            # Each mesh rooted and scaled by its own regressed joints (the cited protocol), and by the joints.
            metrics["mpvpe"].update(pred_v, gt_v, self.inference.mano.joint_regressor(), valid)
            metrics["mpvpe_joints"].update(pred_v, gt_v, refined["joints"], gt, valid)
        return refined

    def _log_epoch(self, stage: str) -> None:
        for name, metric in self.metrics[stage].items():
            if metric.update_called:
                self.log(f"{stage}/{name}", metric.compute(), prog_bar=name in ("mpjpe", "accel"))
            metric.reset()

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor | None]:
        """Score one whole test sequence; returns its refinement (``joints``, ``theta``, ``beta``), which
        callbacks (the plots) receive as the step's outputs."""
        return self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        refined = self.inference.refine_sequence(batch["pred"])
        return {
            "index": batch["index"],
            "name": batch["name"],
            "side": batch["side"],
            **{k: None if v is None else v.cpu().numpy() for k, v in refined.items()},
        }

    # ------------------------------------------------------------------------------------- checkpoints
    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls,
        checkpoint_path: str | Path,
        map_location: str | torch.device | None = None,
        hparams_file: str | Path | None = None,
        strict: bool | None = None,
        weights_only: bool | None = None,
        net: nn.Module | None = None,
        **overrides: Any,
    ) -> HandRefiner:
        """Rebuild a refiner from a checkpoint file alone, through handprior's safe path (Lightning's own loader,
        which would import the classes a checkpoint names, is not used).

        The file is loaded weights-only, its network must be one of handprior's registered networks with
        plain-data arguments, and nothing it names is imported.

        Args:
            checkpoint_path: a checkpoint written by ``handprior fit``.
            map_location: where to load the tensors (default: the CPU).
            hparams_file: not supported (a handprior checkpoint carries its own configuration).
            strict: require the weights to match the network exactly (default True).
            weights_only: only True is supported (the default).
            net: the network, for checkpoints that do not carry its configuration (written outside the CLI).
            overrides: HandRefiner arguments that replace the checkpoint's (e.g. ``mano_model_path``).
        """
        if hparams_file is not None or weights_only is False:
            raise HandpriorInputError(
                "hparams_file and weights_only=False are not supported: a handprior checkpoint is loaded "
                "weights-only and carries its own configuration",
                checkpoint_path,
            )
        checkpoint = load_checkpoint(checkpoint_path, map_location or "cpu")
        hparams = checkpoint["hyper_parameters"]
        net, config = network_from_checkpoint(checkpoint, checkpoint_path, net)
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "net", "loss", *EVALUATION_SETTINGS}
        kwargs: dict[str, Any] = {key: value for key, value in hparams.items() if key in accepted}
        if isinstance(hparams.get("loss"), dict):
            names = {f.name for f in fields(LossWeights)}
            kwargs["loss"] = LossWeights(**{k: v for k, v in hparams["loss"].items() if k in names})
        kwargs.update(overrides)
        model = cls(net=net, **kwargs)
        if config is not None:
            model.hparams["net"] = config
        if strict is not False:
            check_compatible(model.state_dict(), checkpoint, None, checkpoint_path)
        model.load_state_dict(checkpoint["state_dict"], strict=strict is not False)
        return model

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse, with a message naming the mismatch, a checkpoint whose weights do not fit this network."""
        try:
            source = self.trainer.ckpt_path
        except RuntimeError:  # not attached to a Trainer (load_from_checkpoint)
            source = None
        differences = check_compatible(self.state_dict(), checkpoint, self.hparams.get("net"), source)
        if differences:
            rank_zero_warn(f"the checkpoint was trained with {'; '.join(differences)} (its weights fit this network)")

    # -------------------------------------------------------------------------------------- optimiser
    def configure_optimizers(self) -> dict[str, Any]:
        params = [p for p in self.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"{type(self.net).__name__} has no trainable parameters: use `handprior test` for it")
        optimizer = adamw(params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup, floor = self.hparams.warmup_steps, self.hparams.min_lr_ratio

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
