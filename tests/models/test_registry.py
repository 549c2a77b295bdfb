"""Crafted checkpoints: nothing they name is imported or built, through every entry point that loads one."""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import sys
import typing
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from handprior.cli import main
from handprior.errors import HandpriorInputError
from handprior.inference.refine import Refiner
from handprior.inference.streaming import StreamingRefiner
from handprior.models.checkpoint import build_net, check_hyperparameters
from handprior.models.refiner import HandRefiner
from handprior.models.registry import NETWORKS, canonical_class_path, registered_class_paths, resolve_class
from tests.inference.conftest import NET, hand_sequence, write_checkpoint

ROOT = Path(__file__).resolve().parents[2]
PLAIN = (str, int, float, bool, type(None))


class _Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _mano_payload(tmp_path: Path) -> tuple[Path, Path]:
    """A MANO-named pickle whose unpickling would create a marker file."""
    marker, pkl = tmp_path / "pwned", tmp_path / "MANO_RIGHT.pkl"
    pkl.write_bytes(pickle.dumps({"v_template": _Payload(marker)}))
    return pkl, marker


def _crafted(tmp_path: Path, name: str, **hparams: object) -> Path:
    """A checkpoint with valid weights whose hyperparameters are replaced by ``hparams``."""
    path = write_checkpoint(tmp_path / name)
    content = torch.load(path, weights_only=True)
    content["hyper_parameters"].update(hparams)
    torch.save(content, path)
    return path


def _via_refine_command(path: Path, tmp_path: Path) -> None:
    np.savez(tmp_path / "seq.npz", pred=hand_sequence(30))
    main(["refine", "--ckpt", str(path), "--device", "cpu", "--input", str(tmp_path / "seq.npz"),
          "--output", str(tmp_path / "out.npz")])  # fmt: skip


def _via_trainer_command(command: str) -> Callable[[Path, Path], None]:
    def run(path: Path, tmp_path: Path) -> None:
        config = ["--config", str(ROOT / "configs" / "synthetic.yaml")]
        main([command, *config, f"--data.init_args.root={tmp_path / 'data'}", f"--ckpt_path={path}"])

    return run


ENTRY_POINTS: dict[str, Callable[[Path, Path], object]] = {
    "refine": _via_refine_command,
    "test": _via_trainer_command("test"),
    "validate": _via_trainer_command("validate"),
    "fit": _via_trainer_command("fit"),
    "Refiner.from_checkpoint": lambda path, _: Refiner.from_checkpoint(path, device="cpu"),
    "StreamingRefiner": lambda path, _: StreamingRefiner(path, device="cpu"),
    "HandRefiner.load_from_checkpoint": lambda path, _: HandRefiner.load_from_checkpoint(path),
}


def _refused(entry: str, path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], match: str) -> None:
    """The entry point refuses ``path`` with one clear line naming it."""
    if entry in ("refine", "test", "validate", "fit"):
        with pytest.raises(SystemExit) as info:
            ENTRY_POINTS[entry](path, tmp_path)
        err = capsys.readouterr().err.strip()
        assert info.value.code == 2 and len(err.splitlines()) == 1, err
        assert str(path) in err and "refused to load" in err and re.search(match, err), err
    else:
        with pytest.raises(HandpriorInputError, match=match) as info:
            ENTRY_POINTS[entry](path, tmp_path)
        assert len(str(info.value).splitlines()) == 1 and str(path) in str(info.value)


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_a_foreign_class_reached_through_a_handprior_module_runs_nothing(
    entry: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # smplx's MANO unpickles the file it is given with the plain unpickler: building it would run the payload.
    pkl, marker = _mano_payload(tmp_path)
    net = {"class_path": "handprior.body.mano.smplx.MANO", "init_args": {"model_path": str(pkl)}}
    path = _crafted(tmp_path, "mano.ckpt", net=net)
    _refused(entry, path, tmp_path, capsys, "network class 'handprior.body.mano.smplx.MANO' is not one of")
    assert not marker.exists()


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_a_module_named_by_a_checkpoint_is_never_imported(
    entry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "evil_plugin.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Net: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = _crafted(tmp_path, "foreign.ckpt", net={"class_path": "evil_plugin.Net", "init_args": {}})
    _refused(entry, path, tmp_path, capsys, "network class 'evil_plugin.Net' is not one of")
    # Lightning's own instantiator entry, pointed at another module (the standard library's `this` prints)
    path = _crafted(tmp_path, "instantiator.ckpt", _instantiator="evil_plugin.Net")
    _refused(entry, path, tmp_path, capsys, "names the instantiator 'evil_plugin.Net'")
    assert not marker.exists() and "evil_plugin" not in sys.modules


@pytest.mark.parametrize(
    "hparams, match",
    [
        ({"net": {**NET, "init_args": {**NET["init_args"], "dim": {"class_path": "os.system"}}}}, "names a class"),
        ({"loss": {"class_path": "evil_plugin.Net", "init_args": {}}}, r"hyper_parameters.loss.class_path"),
        ({"_class_path": "evil_plugin.Net"}, "hyper_parameters._class_path names a class"),
        ({"net": {**NET, "dict_kwargs": {"x": 1}}}, "unknown keys"),
        ({"net": {"class_path": "this", "init_args": {}}}, "network class 'this' is not one of"),
    ],
)
def test_classes_anywhere_in_the_hyperparameters_are_refused(tmp_path: Path, hparams: dict, match: str) -> None:
    path = _crafted(tmp_path, "nested.ckpt", **hparams)
    modules = set(sys.modules)
    with pytest.raises(HandpriorInputError, match=match):
        HandRefiner.load_from_checkpoint(path)
    assert not {name for name in set(sys.modules) - modules if not name.startswith("handprior")}


def test_a_checkpoints_mano_path_goes_through_the_restricted_unpickler(tmp_path: Path) -> None:
    pkl, marker = _mano_payload(tmp_path)
    refiner = Refiner.from_checkpoint(_crafted(tmp_path, "mano_path.ckpt", mano_model_path=str(pkl)), device="cpu")
    with pytest.raises(HandpriorInputError, match="refused"):
        refiner.refine(hand_sequence(30), mano=True)
    assert not marker.exists()


def test_the_registry_resolves_objects_not_strings() -> None:
    for cls in NETWORKS:
        assert resolve_class(canonical_class_path(cls)) is cls and resolve_class(cls.__name__) is cls
        assert resolve_class(f"{cls.__module__}.{cls.__name__}") is cls
    assert set(registered_class_paths().values()) == set(NETWORKS)
    for path in ("handprior.models.nets.torch", "handprior.models.nets.nn.Linear", "handprior.models.filters.np",
                 "handprior.models.nets.handprior_net.DynamicTemporalConv", "handprior.models", ""):  # fmt: skip
        with pytest.raises(HandpriorInputError, match="not one of handprior's registered networks"):
            resolve_class(path)


def _plain(hint: object) -> bool:
    """Whether a type annotation admits only plain data (so a stored value cannot name a class to build)."""
    if hint in PLAIN:
        return True
    if dataclasses.is_dataclass(hint):
        return all(_plain(f) for f in typing.get_type_hints(hint).values())
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return True
    return origin is not None and all(_plain(arg) for arg in typing.get_args(hint) if arg is not Ellipsis)


@pytest.mark.parametrize("cls", NETWORKS, ids=lambda cls: cls.__name__)
def test_registered_networks_take_plain_data_only(cls: type) -> None:
    defining = next(klass for klass in cls.__mro__ if "__init__" in vars(klass))
    hints = {} if defining is torch.nn.Module else typing.get_type_hints(defining.__init__)
    assert all(_plain(hint) for name, hint in hints.items() if name != "return"), hints


def test_stored_configurations_are_canonicalised_and_still_build() -> None:
    for spelling in ("HandPriorNet", "handprior.models.nets.handprior_net.HandPriorNet"):
        checked = check_hyperparameters({"net": {**NET, "class_path": spelling}, "lr": 1e-3})
        assert checked["net"]["class_path"] == "handprior.models.nets.HandPriorNet"
    assert type(build_net(NET)).__name__ == "HandPriorNet"
    with pytest.raises(HandpriorInputError, match="cannot rebuild"):
        build_net({**NET, "init_args": {"no_such_argument": 1}})
