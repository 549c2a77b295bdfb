"""LightningCLI subclass behind `handprior fit|validate|test|predict`."""

from __future__ import annotations

import importlib
import inspect
import sys
import warnings
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from rich.console import Console
from rich.table import Table

# Imported so that short class names (HandPriorNet, SyntheticDataModule, ...) resolve in configs.
import handprior.data.datamodule  # noqa: F401, E402
import handprior.models.filters  # noqa: F401, E402
import handprior.models.nets  # noqa: F401, E402
from handprior.data.datamodule import StoreDataModule
from handprior.errors import HandpriorInputError
from handprior.models.checkpoint import config_differences, load_checkpoint, net_config
from handprior.models.nets.legacy_args import refuse_flat_settings
from handprior.models.refiner import EVALUATION_SETTINGS, HandRefiner
from handprior.training import AtomicCheckpointIO, EpochSeed
from handprior.training.resume import find_resume_point, searched_places, set_aside_metrics


class HandPriorCLI(LightningCLI):
    """LightningCLI with the data window linked into the model and a results table after test/validate.

    Checkpoints: loaded weights-only by default, refused if they name classes outside handprior, written
    atomically, and hold the network configuration (``model.net``) so that they alone rebuild the model.
    ``--ckpt_path last`` resumes the newest run of the same logger folder, in that run's folder.
    """

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> Any:
        # Lightning adds the trainer method's arguments here; make `weights_only` default to True.
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if "weights_only" in self._subcommand_method_arguments[subcommand]:
            parser.set_defaults(weights_only=True)
        return parser

    def _parse_ckpt_path(self) -> None:
        # Lightning rebuilds the model from the checkpoint's hyperparameters. Here they come from handprior's
        # checked loader (a registered network, plain data, nothing imported because the file names it);
        # evaluation settings (stored by checkpoints of earlier versions) and unknown keys are left out, so
        # how to evaluate stays this run's choice.
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if not ckpt_path or not Path(ckpt_path).is_file():
            return
        hparams = load_checkpoint(ckpt_path)["hyper_parameters"]
        accepted = set(inspect.signature(HandRefiner.__init__).parameters) - {"self", *EVALUATION_SETTINGS}
        hparams = {key: value for key, value in hparams.items() if key in accepted}
        if hparams:
            self.config = self.parser.parse_object({subcommand: {"model": hparams}}, self.config)

    def parse_arguments(self, parser: Any, args: Any) -> None:
        if args is None or isinstance(args, list):  # config files of before the typed network settings: one line
            refuse_flat_settings(sys.argv[1:] if args is None else args)
        if isinstance(args, dict | Namespace):
            super().parse_arguments(parser, args)
        else:  # validated once the loggers' save_dir is filled in (the CSV logger requires one)
            self.config = parser.parse_args(args, _skip_validation=True)
        subcommand = self.config.get("subcommand")
        loggers_follow_root_dir((self.config[subcommand] if subcommand else self.config)["trainer"])
        parser.validate(self.config)
        if subcommand:
            _prepare_ckpt_path(self.config[subcommand], subcommand)
            reserve_run_folder(self.config[subcommand]["trainer"])

    def after_instantiate_classes(self) -> None:
        net = self.config[self.subcommand]["model"]["net"] if self.subcommand else None
        if isinstance(net, Namespace):  # plain data in the checkpoint: enough to rebuild the network
            self.model.hparams["net"] = net.clone().as_dict()
        strategy = self.trainer.strategy
        if type(strategy.checkpoint_io) is TorchCheckpointIO:
            strategy.checkpoint_io = AtomicCheckpointIO()

    def add_arguments_to_parser(self, parser: Any) -> None:
        for source, target in (("window", "window"), ("mano_model_path", "mano_model_path"), ("flat_hand_mean", "flat_hand_mean")):
            parser.link_arguments("data", f"model.{target}", compute_fn=_attribute(source), apply_on="instantiate")
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=True,
            help="fit only: test the best checkpoint on the test split when training ends",
        )

    def after_fit(self) -> None:
        if self.config[self.subcommand].get("test_after_fit") and not self.trainer.interrupted:
            # The first ModelCheckpoint's best file (the config's others keep last.ckpt), named rather than "best",
            # which Lightning resolves the same way but with a warning when there are several.
            callback = self.trainer.checkpoint_callback
            ckpt = callback.best_model_path if callback and callback.best_model_path else None
            self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=ckpt, weights_only=True)
            print_results_table(self.trainer.callback_metrics, "test")

    def after_validate(self) -> None:
        print_results_table(self.trainer.callback_metrics, "val")

    def after_test(self) -> None:
        print_results_table(self.trainer.callback_metrics, "test")


def _attribute(name: str) -> Any:
    return lambda data: getattr(data, name)


@rank_zero_only
def _say(message: str) -> None:
    Console(stderr=True, soft_wrap=True).print(f"handprior: {message}", highlight=False)


def loggers_follow_root_dir(trainer: Namespace) -> None:
    """Give every configured logger without a folder of its own ``save_dir = trainer.default_root_dir`` (``.`` when
    unset), so that ``--trainer.default_root_dir DIR`` sends the whole run to DIR. A logger's folder counts as its
    own when its ``save_dir`` is set to anything but the logger class's default (None for the CSV and TensorBoard
    loggers, ``.`` for W&B), e.g. by ``--trainer.logger.init_args.save_dir``."""
    logger = trainer.get("logger")
    root = trainer.get("default_root_dir") or "."
    for entry in logger if isinstance(logger, list) else [logger]:
        if not isinstance(entry, Namespace) or entry.get("init_args") is None or not entry.get("class_path"):
            continue
        module, _, name = str(entry["class_path"]).rpartition(".")
        parameter = inspect.signature(getattr(importlib.import_module(module), name)).parameters.get("save_dir")
        if parameter is None:
            continue
        default = None if parameter.default is inspect.Parameter.empty else parameter.default
        if entry["init_args"].get("save_dir") in (None, default):
            entry["init_args"]["save_dir"] = str(root)


def reserve_run_folder(trainer: Namespace) -> Path | None:
    """Create the run's folder ``<save_dir>/<name>/version_N`` of the first (versioned) logger now, atomically,
    and pin the logger to it, so that runs started at the same moment in the same folder (``handprior bench
    --jobs 2``) never share one (the loggers' own choice, the next free number, is made later and can collide).
    Only global rank 0 reserves (not the other processes of a multi-process or SLURM run, whose logger does not
    write); a logger given a version (``--ckpt_path last``, or by hand) is left as it is. Returns the folder."""
    logger = trainer.get("logger")
    first = logger[0] if isinstance(logger, list) and logger else logger
    if not isinstance(first, Namespace) or first.get("init_args") is None or first["init_args"].get("version") is not None:
        return None
    if str(first.get("class_path")) not in VERSIONED_LOGGERS or rank_zero_only.rank != 0:  # Lightning's global rank
        return None
    base = Path(first["init_args"].get("save_dir") or ".") / str(first["init_args"].get("name") or "lightning_logs")
    base.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name.split("_", 1)[1]) for p in base.glob("version_*") if p.name.split("_", 1)[1].isdigit()]
    version = max(taken, default=-1) + 1
    while True:
        try:
            (base / f"version_{version}").mkdir()
        except FileExistsError:  # another run took it between the listing and here
            version += 1
            continue
        first["init_args"]["version"] = version
        return base / f"version_{version}"


VERSIONED_LOGGERS = (
    "lightning.pytorch.loggers.CSVLogger",
    "lightning.pytorch.loggers.csv_logs.CSVLogger",
    "lightning.pytorch.loggers.TensorBoardLogger",
    "lightning.pytorch.loggers.tensorboard.TensorBoardLogger",
)


def _prepare_ckpt_path(config: Namespace, subcommand: str) -> None:
    """Resolve ``ckpt_path: last`` across runs (see :mod:`handprior.training.resume`) and check a checkpoint
    file before Lightning reads its hyperparameters: readable weights-only, its network one of handprior's
    registered networks (:mod:`handprior.models.registry`) and every other value plain data."""
    ckpt_path = config.get("ckpt_path")
    if ckpt_path == "last":
        trainer = config["trainer"].clone().as_dict()
        point = find_resume_point(trainer)
        if point is None:
            if subcommand != "fit":
                raise HandpriorInputError(f"--ckpt_path last: no last checkpoint in {searched_places(trainer)}")
            _say(f"--ckpt_path last: no checkpoint yet in {searched_places(trainer)}; starting from scratch")
            config["ckpt_path"] = None
            return
        ckpt_path = config["ckpt_path"] = str(point.checkpoint)
        where = ""
        if subcommand == "fit" and point.run_dir is not None and _set_first_logger_version(config, point.version):
            where = f", continuing in its run folder {point.run_dir}"
            earlier = set_aside_metrics(point.run_dir)
            if earlier is not None:
                where += f" (the metrics logged so far are kept in {earlier.name})"
                warnings.filterwarnings("ignore", message=r"Experiment logs directory .* exists and is not empty")
        _say(f"--ckpt_path last: resuming from {ckpt_path}{where}")
    if ckpt_path and subcommand != "fit":  # evaluation does not continue the run's best-checkpoint bookkeeping
        warnings.filterwarnings("ignore", message=r"The dirpath has changed from")
    if ckpt_path and ckpt_path not in ("best", "hpc") and "://" not in str(ckpt_path):
        checkpoint = load_checkpoint(ckpt_path)  # refuses hyperparameters that name anything but a registered net
        trained, current = net_config(checkpoint), config["model"].get("net")
        if trained is not None and isinstance(current, Namespace):  # Lightning applies the checkpoint's settings
            differences = config_differences(trained, current.clone().as_dict())
            if differences:
                _say(f"the network is rebuilt as the checkpoint was trained: {'; '.join(differences)}")


def _set_first_logger_version(config: Namespace, version: str) -> bool:
    """Point the first (versioned) logger at an existing run folder; False for Lightning's default logger."""
    logger = config["trainer"].get("logger")
    first = logger[0] if isinstance(logger, list) and logger else logger
    if not isinstance(first, Namespace) or first.get("init_args") is None:
        return False
    first["init_args"]["version"] = version
    return True


def print_results_table(metrics: dict[str, Any], stage: str, console: Console | None = None) -> None:
    """Input vs refined, MPJPE / MPVPE / Accel / bone-length variation (Bone CV %), with the relative improvement.

    MPVPE roots and scales each mesh by its own regressed joints (the protocol of the evaluation the paper cites);
    "MPVPE (joints)" by the refined and ground-truth joints, so it also counts the mesh's size error."""

    def value(name: str) -> float | None:
        tensor = metrics.get(f"{stage}/{name}")
        return None if tensor is None else float(tensor)

    table = Table(title=f"{stage} results (mm, mm/frame², %)")
    for column in ("method", "MPJPE", "MPVPE", "MPVPE (joints)", "Accel", "Bone CV %"):
        table.add_column(column, justify="left" if column == "method" else "right")
    rows = {
        "input (unrefined)": [value("input_mpjpe"), None, None, value("input_accel"), value("input_bone_cv")],
        "refined": [value("mpjpe"), value("mpvpe"), value("mpvpe_joints"), value("accel"), value("bone_cv")],
    }
    for name, values in rows.items():
        table.add_row(name, *("-" if v is None else f"{v:.2f}" for v in values))
    gains = []
    for refined, original in ((rows["refined"][0], rows["input (unrefined)"][0]), (rows["refined"][3], rows["input (unrefined)"][3])):
        gains.append("-" if refined is None or not original else f"{100 * (original - refined) / original:+.1f}%")
    table.add_row("improvement", gains[0], "-", "-", gains[1], "-")
    (console or Console()).print(table)


def run_lightning_cli(argv: list[str] | None) -> HandPriorCLI:
    """Run a trainer subcommand (``argv`` None: from ``sys.argv``); configs choose ``model.net`` and ``data``."""
    try:
        return build_cli(argv)
    finally:
        wandb = sys.modules.get("wandb")
        if wandb is not None and wandb.run is not None:
            wandb.finish()  # the next run in this process gets a run of its own


def build_cli(argv: list[str] | None, **overrides: Any) -> HandPriorCLI:
    """The CLI of the trainer subcommands on ``argv``; ``overrides`` replace LightningCLI arguments (e.g.
    ``run=False`` to build the model, data and trainer of a config without running anything)."""
    settings: dict[str, Any] = {
        "subclass_mode_data": True,
        "save_config_kwargs": {"overwrite": True},
        "seed_everything_default": 0,
        "trainer_defaults": {"callbacks": [EpochSeed()]},
        "auto_configure_optimizers": False,
    }
    return HandPriorCLI(HandRefiner, StoreDataModule, args=argv, **{**settings, **overrides})
