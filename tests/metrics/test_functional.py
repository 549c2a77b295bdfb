import numpy as np
import torch

from handprior.metrics.functional import accel_errors, mpjpe, mpvpe


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


def test_mpvpe_uses_the_joint_root_and_scale():
    rng = np.random.default_rng(1)
    gt_j, gt_v = rng.normal(size=(5, 21, 3)) * 40, rng.normal(size=(5, 778, 3)) * 40
    pj, pv = (gt_j - gt_j[:, :1]) * 2 + 7, (gt_v - gt_j[:, :1]) * 2 + 7  # the same hand, scaled and moved
    err = mpvpe(*(torch.from_numpy(a) for a in (pv, gt_v, pj, gt_j)))
    assert torch.allclose(err, torch.zeros(5, dtype=err.dtype), atol=1e-9)


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
