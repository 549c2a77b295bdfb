"""The MANO layer of the framework: ``smplx.MANO`` returning millimetres and 21 joints in canonical order.

The model data (the built-in stand-in or an official / converted file) is handed to ``smplx.MANO`` as its
``data_struct``, so both go through the same smplx code path. smplx is created with ``use_pca=False`` (45
axis-angle finger parameters) and an explicit ``flat_hand_mean``.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path

import numpy as np
import smplx
import torch
from smplx.lbs import blend_shapes, vertices2joints
from smplx.utils import Struct
from torch import Tensor, nn

from handprior.body.joints import FINGERTIP_VERTEX_IDS_MANOPTH, FINGERTIP_VERTEX_IDS_SMPLX, MANO21_TO_CANON, SIDES
from handprior.body.safe_pickle import HOW_TO_GET_MANO, load_mano_file
from handprior.body.standin import standin_model
from handprior.errors import HandpriorInputError

FINGERTIP_CONVENTIONS = {"smplx": FINGERTIP_VERTEX_IDS_SMPLX, "manopth": FINGERTIP_VERTEX_IDS_MANOPTH}


def resolve_model_file(model_path: str | Path, side: str) -> Path:
    """The MANO file that ``model_path`` designates for ``side``.

    A folder is searched for ``MANO_<SIDE>.pkl``, then ``MANO_<SIDE>.npz``, then the same names under
    ``mano/`` (the ``smplx.create`` layout); a file is used as it is, unless its name says it is the other hand.
    """
    path = Path(model_path).expanduser()
    stem = f"MANO_{side.upper()}"
    if path.is_dir():
        candidates = [
            path / f"{stem}.pkl",
            path / f"{stem}.npz",
            path / "mano" / f"{stem}.pkl",
            path / "mano" / f"{stem}.npz",
        ]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        looked = ", ".join(str(c) for c in candidates)
        raise HandpriorInputError(
            f"no MANO model for the {side} hand in this folder (looked for {looked}). {HOW_TO_GET_MANO}", path
        )
    if not path.is_file():
        raise HandpriorInputError(f"MANO model file not found. {HOW_TO_GET_MANO}", path)
    other = "LEFT" if side == "right" else "RIGHT"
    if other in path.name.upper() and side.upper() not in path.name.upper():
        raise HandpriorInputError(
            f"this looks like the {other.lower()}-hand model, but side={side!r} was asked for", path
        )
    return path


def left_shapedirs_bug(left: dict[str, np.ndarray], right: dict[str, np.ndarray] | None = None) -> bool:
    """Whether a left-hand model has the official files' ``shapedirs`` bug (its x-components were not mirrored).

    With the right-hand model at hand this is the test the official InterHand2.6M / InterWild tools use: the
    left ``shapedirs[:, 0, :]`` (x-components) equal the right ones (summed absolute difference below 1).
    Without it, the first shape direction (mostly overall size) is checked for consistency with the template:
    its x-components must correlate with the template's x the way its y and z components do with y and z.
    """
    if right is not None:
        return float(np.abs(left["shapedirs"][:, 0, :] - right["shapedirs"][:, 0, :]).sum()) < 1.0
    centred = left["v_template"] - left["v_template"].mean(axis=0)  # (778, 3)
    first = left["shapedirs"][:, :, 0]  # (778, 3)
    corr = [np.corrcoef(first[:, c], centred[:, c])[0, 1] for c in range(3)]
    consistent_yz = np.sign(corr[1]) == np.sign(corr[2]) and min(abs(corr[1]), abs(corr[2])) > 0.3
    return bool(consistent_yz and abs(corr[0]) > 0.3 and np.sign(corr[0]) != np.sign(corr[1]))


def fix_left_shapedirs(model: dict[str, np.ndarray], model_file: Path) -> dict[str, np.ndarray]:
    """Negate the x-components of a left model's ``shapedirs`` when it has the official files' bug, judged
    against the right-hand file next to it when there is one (see :func:`left_shapedirs_bug`)."""
    right = None
    right_stem = re.sub(r"(?i)left", lambda m: "RIGHT" if m.group().isupper() else "right", model_file.stem)
    for suffix in (".pkl", ".npz"):
        candidate = model_file.with_name(right_stem + suffix)
        if right_stem != model_file.stem and candidate.is_file():
            right = load_mano_file(candidate)
            break
    if not left_shapedirs_bug(model, right):
        return model
    fixed = dict(model)
    fixed["shapedirs"] = model["shapedirs"].copy()
    fixed["shapedirs"][:, 0, :] *= -1.0
    return fixed


class ManoLayer(nn.Module):
    """MANO hand layer: axis-angle pose and shape in, vertices and 21 canonical joints in millimetres out.

    Args:
        model_path: None for the built-in stand-in model (no licence needed); a folder holding
            ``MANO_RIGHT.pkl`` / ``MANO_RIGHT.npz`` (``MANO_LEFT`` for the left hand); or a model file.
        side: "right" or "left". For an official left model the known ``shapedirs`` bug is fixed on load.
        flat_hand_mean: True: theta = 0 is the flat hand. False: the model's ``hands_mean`` is added to the
            finger pose (the convention of InterHand2.6M, Re:InterHand, HanCo and DexYCB annotations).
        fingertips: which vertex ids give the fingertip joints: "smplx" (744, 320, 443, 554, 671, as
            smplx and HaMeR) or "manopth" (745, 317, 444, 556, 673).

    The model data is not saved in ``state_dict`` (the official file is licensed): a checkpoint refers to it
    through ``model_path``.
    """

    def __init__(
        self,
        model_path: str | None = None,
        side: str = "right",
        flat_hand_mean: bool = True,
        fingertips: str = "smplx",
    ) -> None:
        super().__init__()
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        if fingertips not in FINGERTIP_CONVENTIONS:
            raise ValueError(f"fingertips must be one of {tuple(FINGERTIP_CONVENTIONS)}, got {fingertips!r}")
        self.side = side
        self.flat_hand_mean = flat_hand_mean
        self.left_shapedirs_fixed = False  # set when an official left model's shapedirs bug was corrected
        if model_path is None:
            self.model_file: Path | None = None
            data = {key: np.array(value) for key, value in standin_model(side).items()}
        else:
            self.model_file = resolve_model_file(model_path, side)
            data = load_mano_file(self.model_file)
            if side == "left":
                fixed = fix_left_shapedirs(data, self.model_file)
                self.left_shapedirs_fixed = fixed is not data
                data = fixed
        data["shapedirs"] = data["shapedirs"][:, :, :10]
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.mano = smplx.MANO(
                model_path=str(self.model_file or ""),
                is_rhand=side == "right",
                data_struct=Struct(**data),
                use_pca=False,
                num_pca_comps=45,
                flat_hand_mean=flat_hand_mean,
                create_hand_pose=False,
                create_betas=False,
                create_global_orient=False,
                create_body_pose=False,
                create_transl=False,
            )
        for name in list(self.mano._buffers):  # keep the (possibly licensed) model out of checkpoints
            self.mano._non_persistent_buffers_set.add(name)
        self.register_buffer("faces", self.mano.faces_tensor.clone(), persistent=False)
        self.register_buffer("tip_ids", torch.tensor(FINGERTIP_CONVENTIONS[fingertips]), persistent=False)
        self.register_buffer("canon_order", torch.tensor(MANO21_TO_CANON), persistent=False)
        self.num_verts = int(self.mano.v_template.shape[0])

    def _to_canonical_mm(self, joints16: Tensor, verts: Tensor) -> Tensor:
        """16 regressed joints + 5 tip vertices ``(B, 21, 3)`` metres -> canonical order, millimetres."""
        joints = torch.cat([joints16, verts[:, self.tip_ids]], dim=1)  # (B, 21, 3) MANO16 + tips
        return joints[:, self.canon_order] * 1000.0

    def _check(self, name: str, x: Tensor, width: int, batch: int | None) -> Tensor:
        if x.ndim != 2 or x.shape[1] != width or (batch is not None and x.shape[0] not in (1, batch)):
            want = f"({'B' if batch is None else batch}, {width})"
            raise ValueError(f"ManoLayer: {name} must have shape {want}, got {tuple(x.shape)}")
        x = x.to(device=self.mano.v_template.device, dtype=self.mano.v_template.dtype)
        return x.expand(batch, width) if batch is not None and x.shape[0] == 1 else x

    def forward(self, theta: Tensor, beta: Tensor, transl: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Pose the hand.

        Args:
            theta: ``(B, 48)`` axis-angle: 3 global orientation + 45 finger parameters (MANO joint order).
            beta: ``(B, 10)`` shape (a batch of 1 is broadcast).
            transl: ``(B, 3)`` translation in millimetres, or None.

        Returns:
            vertices ``(B, 778, 3)`` and joints ``(B, 21, 3)`` in millimetres, joints in the framework's order
            (wrist, then thumb, index, middle, ring, pinky from base to tip). With ``transl=None`` the wrist of
            the zero-shape hand is at the origin whatever the global orientation.
        """
        theta = self._check("theta", theta, 48, None)
        batch = theta.shape[0]
        beta = self._check("beta", beta, 10, batch)
        out = self.mano(betas=beta, global_orient=theta[:, :3], hand_pose=theta[:, 3:], transl=None)
        verts = out.vertices  # (B, 778, 3) metres
        joints = self._to_canonical_mm(out.joints, verts)
        verts = verts * 1000.0
        if transl is not None:
            transl = self._check("transl", transl, 3, batch)
            verts = verts + transl[:, None, :]
            joints = joints + transl[:, None, :]
        return verts, joints

    def rest_joints(self, beta: Tensor) -> Tensor:
        """Joints ``(B, 21, 3)`` in millimetres of the flat, unposed hand of shape ``beta (B, 10)`` (canonical
        order; no hand mean, no rotation, no translation). Useful for bone lengths and hand size."""
        beta = self._check("beta", beta, 10, None)
        v_shaped = self.mano.v_template[None] + blend_shapes(beta, self.mano.shapedirs)  # (B, 778, 3)
        joints16 = vertices2joints(self.mano.J_regressor, v_shaped)  # (B, 16, 3)
        return self._to_canonical_mm(joints16, v_shaped)

    def joint_regressor(self) -> Tensor:
        """The MANO joint regressor as one linear map from a mesh to the 21 canonical joints: ``(21, 778)``.

        Rows are the model's ``J_regressor`` (16 joints) and one-hot rows for the fingertip vertices, in the
        framework's joint order, so ``regressor @ verts`` gives the joints *of a mesh* in the mesh's units (the
        joints that the mesh metric MPVPE roots and scales by, as in the evaluation the paper cites). These are
        not exactly the joints :meth:`forward` returns, which come from the kinematic chain of the rest pose.
        """
        regressor16 = self.mano.J_regressor  # (16, V)
        tips = torch.zeros(len(self.tip_ids), self.num_verts, dtype=regressor16.dtype, device=regressor16.device)
        tips[torch.arange(len(self.tip_ids), device=tips.device), self.tip_ids] = 1.0  # (5, V)
        return torch.cat([regressor16, tips])[self.canon_order]  # (21, V)

    def extra_repr(self) -> str:
        source = "stand-in" if self.model_file is None else str(self.model_file)
        return f"side={self.side}, flat_hand_mean={self.flat_hand_mean}, model={source}"
