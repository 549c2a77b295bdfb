import math

import torch

from handprior.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle


def test_round_trip_including_small_and_near_pi_angles():
    torch.manual_seed(0)
    axis = torch.nn.functional.normalize(torch.randn(200, 3, dtype=torch.float64), dim=-1)
    angle = torch.cat([torch.rand(196, dtype=torch.float64) * math.pi * 0.999, torch.tensor([0.0, 1e-7, math.pi - 1e-6, 1.0])])
    aa = axis * angle[:, None]
    matrix = axis_angle_to_matrix(aa)
    assert torch.allclose(matrix @ matrix.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(200, 3, 3), atol=1e-12)
    assert torch.allclose(axis_angle_to_matrix(matrix_to_axis_angle(matrix)), matrix, atol=1e-6)
    assert torch.allclose(matrix_to_axis_angle(matrix)[:196], aa[:196], atol=1e-6)


def test_quarter_turn_about_z():
    matrix = axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2]))
    assert torch.allclose(matrix @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
