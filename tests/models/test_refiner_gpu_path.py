"""The GPU training path, checked on CPU: bf16 autocast leaves losses, meshes and metrics in float32, the
training step does not read tensors back to the host, and ``compile`` compiles the network in place.

Running a compiled network is not tested here: compiling even a tiny HandPriorNet takes over a minute on CPU.
"""

from __future__ import annotations

import pytest
import torch

from handprior.models.nets import HandPriorNet
from handprior.models.nets.config import MemoryConfig
from handprior.models.refiner import HandRefiner

pytestmark = pytest.mark.filterwarnings(r"ignore:You are trying to `self.log\(\)`")


def _tiny(**kwargs: object) -> HandRefiner:
    torch.manual_seed(0)
    net = HandPriorNet(dim=16, depth=1, num_heads=2, dim_rep=16, memory=MemoryConfig(tokens=2))
    return HandRefiner(net=net, mesh_frames=2, **kwargs)


def _batch(size: int = 2, frames: int = 27) -> dict:
    torch.manual_seed(1)
    gt = torch.randn(size, frames, 21, 3) * 40 + torch.tensor([0.0, 0.0, 400.0])
    return {
        "pred": gt + torch.randn_like(gt) * 5,
        "gt": gt,
        "has_mano": torch.ones(size, dtype=torch.bool),
        "gt_theta": torch.randn(size, frames, 48) * 0.2,
        "gt_beta": torch.randn(size, 10) * 0.5,
    }


def test_outputs_are_float32_under_bf16_autocast() -> None:
    model, batch = _tiny(), _batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        raw = model.net(batch["pred"] / 100)
        out = model(batch["pred"])
        verts = model.inference.mesh(out.theta[:, 0], out.beta, out.joints[:, 0, 0])
    assert raw.theta.dtype == torch.bfloat16  # the network itself does run in bf16
    assert out.joints.dtype == out.theta.dtype == out.beta.dtype == verts.dtype == torch.float32
    with torch.no_grad():
        reference = model.inference.mesh(out.theta[:, 0], out.beta, out.joints[:, 0, 0])
    torch.testing.assert_close(verts, reference)  # the mesh itself is computed in float32


def test_training_step_under_bf16_autocast_reads_nothing_back(monkeypatch: pytest.MonkeyPatch) -> None:
    model, batch = _tiny(), _batch()

    def host_sync(*args: object) -> None:
        raise AssertionError("training_step reads a tensor back to the host (a GPU sync)")

    with monkeypatch.context() as patch:
        for name in ("item", "__bool__", "tolist", "__float__", "__int__"):
            patch.setattr(torch.Tensor, name, host_sync)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model.training_step(batch, 0)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert model.net.joint_head.weight.grad is not None and model.net.theta_head.weight.grad is not None


def test_the_mano_terms_follow_the_batch_keys() -> None:
    model, batch = _tiny(loss=None), _batch()
    with_mano = model.training_step(batch, 0)
    without = {k: v for k, v in batch.items() if k not in ("gt_theta", "gt_beta")}
    without["has_mano"] = torch.zeros(2, dtype=torch.bool)
    assert model.training_step(without, 0) < with_mano  # no theta, beta or vertex terms


@pytest.mark.parametrize("compile", [False, True])
def test_compile_option_compiles_the_network_in_place(compile: bool) -> None:
    model = _tiny(compile=compile)
    names = list(model.state_dict())
    model.configure_model()
    model.configure_model()  # the Trainer calls it for every stage
    assert (getattr(model.net, "_compiled_call_impl", None) is not None) is compile
    assert list(model.state_dict()) == names  # checkpoints keep their parameter names
    assert model.hparams["compile"] is compile
