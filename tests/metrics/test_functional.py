import numpy as np
import torch

from handprior.body.mano import ManoLayer
from handprior.metrics.functional import accel_errors, mpjpe, mpvpe, mpvpe_joints, regress_joints


def _np_mpjpe(pred, gt):
    pred_rel, gt_rel = pred - pred[:, :1], gt - gt[:, :1]
    scale = np.linalg.norm(gt_rel[:, 9], axis=-1) / np.linalg.norm(pred_rel[:, 9], axis=-1)
    return np.linalg.norm(pred_rel * scale[:, None, None] - gt_rel, axis=-1).mean(-1)


def _np_accel(pred, gt):
    def acc(x):
        x = x - x[:, :1]
        return x[:-2] - 2 * x[1:-1] + x[2:]

    return np.linalg.norm(acc(pred) - acc(gt), axis=-1).mean(-1)


def test_mpjpe_matches_numpy_reference_and_invariances():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(30, 21, 3)) * 40
    pred = gt + rng.normal(size=gt.shape) * 5
    ours = mpjpe(torch.from_numpy(pred), torch.from_numpy(gt)).numpy()
    assert np.allclose(ours, _np_mpjpe(pred, gt))
    # Translation and (root-centred) uniform scaling of the prediction change nothing.
    moved = (pred - pred[:, :1]) * 1.3 + 500
    assert np.allclose(mpjpe(torch.from_numpy(moved), torch.from_numpy(gt)).numpy(), ours)
    # Without scaling a scaled prediction is wrong.
    assert mpjpe(torch.from_numpy(moved), torch.from_numpy(gt), scale=False).mean() > ours.mean() + 1


def test_mpvpe_joints_uses_the_given_joints_root_and_scale():
    rng = np.random.default_rng(1)
    gt_j, gt_v = rng.normal(size=(5, 21, 3)) * 40, rng.normal(size=(5, 778, 3)) * 40
    pj, pv = (gt_j - gt_j[:, :1]) * 2 + 7, (gt_v - gt_j[:, :1]) * 2 + 7  # the same hand, scaled and moved
    err = mpvpe_joints(*(torch.from_numpy(a) for a in (pv, gt_v, pj, gt_j)))
    assert torch.allclose(err, torch.zeros(5, dtype=err.dtype), atol=1e-9)
    # The same vertices judged against other joints are wrong.
    assert mpvpe_joints(*(torch.from_numpy(a) for a in (pv, gt_v, gt_j, gt_j))).min() > 1


def test_mpvpe_roots_and_scales_each_mesh_by_its_regressed_joints():
    rng = np.random.default_rng(5)
    regressor = torch.from_numpy(rng.dirichlet(np.ones(778), size=21))  # (21,778), rows sum to 1
    gt_v = torch.from_numpy(rng.normal(size=(4, 778, 3)) * 40)
    gt_j = regress_joints(gt_v, regressor)  # (4,21,3)
    moved = (gt_v - gt_j[:, 5:6]) * 1.2 + 30  # scaled about another point and moved: still the same hand
    assert torch.allclose(mpvpe(moved, gt_v, regressor), torch.zeros(4, dtype=gt_v.dtype), atol=1e-9)
    # Against a numpy reference: the regressed wrist as root, the regressed wrist -> middle MCP bone as scale.
    noisy = moved + torch.from_numpy(rng.normal(size=moved.shape))
    pv, gv, r = noisy.numpy(), gt_v.numpy(), regressor.numpy()
    pj, gj = np.einsum("jv,bvc->bjc", r, pv), np.einsum("jv,bvc->bjc", r, gv)
    s = np.linalg.norm(gj[:, 9] - gj[:, 0], axis=-1) / np.linalg.norm(pj[:, 9] - pj[:, 0], axis=-1)
    want = np.linalg.norm((pv - pj[:, :1]) * s[:, None, None] - (gv - gj[:, :1]), axis=-1).mean(-1)
    assert np.allclose(mpvpe(noisy, gt_v, regressor).numpy(), want)


def _probe_meshes(size_beta: float) -> tuple[torch.Tensor, ...]:
    """The issue's probe on the stand-in hand: random orientations, flat fingers, the mean shape as ground truth
    and a prediction whose beta only changes the size (shape direction 0). Returns verts and joints of both."""
    layer = ManoLayer()
    gen = torch.Generator().manual_seed(0)
    theta = torch.cat([torch.randn(8, 3, generator=gen), torch.zeros(8, 45)], dim=1)  # (8,48)
    gt_beta = torch.zeros(8, 10)
    pred_beta = gt_beta.clone()
    pred_beta[:, 0] = size_beta
    gt_v, gt_j = layer(theta, gt_beta)  # (8,778,3), (8,21,3) mm
    pred_v, pred_j = layer(theta, pred_beta)
    return pred_v, gt_v, pred_j, gt_j, layer.joint_regressor()


def test_size_only_beta_error_costs_nothing_under_the_cited_protocol_only():
    pred_v, gt_v, _, gt_j, regressor = _probe_meshes(0.11 / 0.075)  # the stand-in's size direction: 7.5% per unit
    bone = lambda j: (j[:, 9] - j[:, 0]).norm(dim=-1)  # noqa: E731
    ratio = bone(regress_joints(pred_v, regressor)) / bone(regress_joints(gt_v, regressor))
    assert torch.allclose(ratio, torch.full_like(ratio, 1.11), atol=1e-4)  # the hand is 11% larger
    cited = mpvpe(pred_v, gt_v, regressor)
    by_joints = mpvpe_joints(pred_v, gt_v, gt_j, gt_j)  # perfect joints: the ground truth's
    assert cited.max() < 1e-3  # mm: float32 rounding only
    assert by_joints.min() > 10.0  # mm: the whole size error counts
    print(f"size-only beta error: mpvpe {cited.mean():.4f} mm, mpvpe_joints {by_joints.mean():.2f} mm")


def test_a_perfect_mesh_scores_zero_under_both():
    pred_v, gt_v, pred_j, gt_j, regressor = _probe_meshes(0.0)
    assert torch.equal(pred_v, gt_v)
    shift = torch.tensor([40.0, -25.0, 300.0])  # placed elsewhere: the metrics are root-aligned
    pred_v, pred_j = pred_v + shift, pred_j + shift
    assert mpvpe(pred_v, gt_v, regressor).abs().max() < 1e-3
    assert mpvpe_joints(pred_v, gt_v, pred_j, gt_j).abs().max() < 1e-3


def test_accel_matches_numpy_and_padding_convention():
    rng = np.random.default_rng(2)
    gt = np.cumsum(rng.normal(size=(40, 21, 3)), axis=0)
    pred = gt + rng.normal(size=gt.shape)
    ours = accel_errors(torch.from_numpy(pred), torch.from_numpy(gt))
    assert ours.shape == (38,) and np.allclose(ours.numpy(), _np_accel(pred, gt))
    padded = accel_errors(torch.from_numpy(pred), torch.from_numpy(gt), pad=True)
    assert padded.shape == (40,) and padded[0] == 0 and padded[-1] == 0
    assert torch.isclose(padded.mean(), ours.sum() / 40)
    # A constant-velocity error has zero acceleration error.
    drift = gt + np.arange(40)[:, None, None] * np.array([0.0, 0.0, 1.0])
    drift[:, 0] = gt[:, 0] + np.arange(40)[:, None] * np.array([0.0, 0.0, 1.0])
    assert accel_errors(torch.from_numpy(drift), torch.from_numpy(gt)).abs().max() < 1e-9
