"""Speed benchmark (not a test): training and inference throughput, latency, MFU, the cost of each of the
paper's additions, the DTC against the temporal attention it follows, the attention kernels, the AdamW step, and
the data pipeline against training.

    make bench                                   # = .venv/bin/python -m experiments.speed.bench
    .venv/bin/python -m experiments.speed.bench --quick            # a few iterations, paper size at B=2 (a minute)
    .venv/bin/python -m experiments.speed.bench --markdown --output experiments/speed/results_cpu.md
    .venv/bin/python -m experiments.speed.bench --device cuda --bf16   # on a GPU, in bf16 autocast
    .venv/bin/python -m experiments.speed.bench --device cuda --bf16 --compile reduce-overhead  # networks compiled

Training = forward + backward + AdamW on random windows (B,27,21,3), the loss touching every output (joints,
theta, beta), so every parameter gets a gradient; the "training_step" row is HandRefiner's real step (losses +
the MANO vertex loss) on real synthetic batches. Inference = forward under ``torch.inference_mode``. Latency =
one window at batch 1. FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (matmuls, attention,
batched matmuls; elementwise work is not counted), and MFU = achieved FLOP/s / the measured FLOP/s of a large
matmul in the same precision. Times are medians after warm-up; the networks of a table are timed round-robin
(one step of each per round), so that a machine whose speed drifts slows them alike.
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from experiments.speed import attention_kernels, dtc_formulations
from experiments.speed.param_count import BACKBONE, count, paper_size
from experiments.speed.timing import (
    add_run_arguments,
    apply_run_arguments,
    autocast,
    count_flops,
    interleaved_medians,
    interleaved_times,
    machine,
    matmul_peak,
    median_seconds,
    paired_ratio,
    percentile,
)
from handprior.models.nets import HandPriorNet
from handprior.models.nets.config import GlobalBlockConfig, JointDTCConfig, MemoryConfig
from handprior.training.optimizer import adamw

WINDOW, JOINTS = 27, 21
ADDITIONS = {  # the backbone plus one of the paper's additions at a time
    "backbone (MotionBERT DSTformer)": BACKBONE,
    "+ joint DTC (dual)": {**BACKBONE, "joint_dtc": JointDTCConfig(placement="dual")},
    "+ global temporal block": {**BACKBONE, "global_block": GlobalBlockConfig(placement="serial")},
    "+ hand prior memory (8 tokens)": {**BACKBONE, "memory": MemoryConfig(tokens=8)},
    "full model": {},
}
ENDS = ("backbone (MotionBERT DSTformer)", "full model")  # the two networks timed at both sizes
Table = tuple[str, list[str], list[list[str]]]  # title, header, rows


@dataclass
class Settings:
    """Iterations and batch sizes of one run."""

    device: torch.device
    bf16: bool
    repeats: int
    warmup: int
    latency_runs: int
    batch: int
    infer_batch: int
    paper_batch: int
    data_batches: int


@dataclass
class NetSpeed:
    """Measured speed of one network configuration."""

    params: int
    batch: int
    train_times: list[float]  # one per round-robin round
    train_flops: int
    infer_batch: int
    infer_times: list[float]
    infer_flops: int
    latency_ms: tuple[float, float] | None  # median, p95

    @property
    def train_s(self) -> float:
        """Median train step time (s)."""
        return statistics.median(self.train_times)

    @property
    def infer_s(self) -> float:
        """Median inference call time (s)."""
        return statistics.median(self.infer_times)


def _outputs_loss(out: object) -> Tensor:
    parts = [out.joints, out.theta, out.beta, *out.beta_blocks]
    return sum(p.float().abs().mean() for p in parts if p is not None)


class Probe:
    """One network with its timed calls on random windows: a train step (forward + backward + AdamW), inference of
    a batch, inference of one window. ``run`` is the network or, after :meth:`compile`, its compiled form."""

    def __init__(self, net: nn.Module, batch: int, infer_batch: int, s: Settings) -> None:
        self.net = net.to(s.device)
        self.run: Callable[[Tensor], object] = self.net
        self.optimizer = adamw(self.net.parameters(), lr=1e-4)
        self.x = torch.randn(batch, WINDOW, JOINTS, 3, device=s.device)
        self.xi = torch.randn(infer_batch, WINDOW, JOINTS, 3, device=s.device)
        self.s = s

    def compile(self, mode: str) -> None:
        """Time ``torch.compile(net, mode=mode)`` from now on (it compiles on its first calls, in the warm-up).

        Every network of the bench shares HandPriorNet.forward, and each compiles three graphs (training,
        inference, batch 1): dynamo's default of 8 graphs per function would send the later networks back to
        eager, so the limit is raised."""
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
        self.run = torch.compile(self.net, mode=None if mode == "default" else mode)

    def train_step(self) -> None:
        with autocast(self.s.device, self.s.bf16):
            loss = _outputs_loss(self.run(self.x))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def infer(self, inputs: Tensor | None = None) -> None:
        with torch.inference_mode(), autocast(self.s.device, self.s.bf16):
            self.run(self.xi if inputs is None else inputs)

    def infer_one(self) -> None:
        self.infer(self.xi[:1])


def measure(
    nets: dict[str, nn.Module],
    batch: int,
    infer_batch: int,
    s: Settings,
    latency: dict[str, int],
    repeats: int,
    warmup: int,
    compile_mode: str | None = None,
) -> dict[str, NetSpeed]:
    """Train step and inference medians of several networks, timed round-robin (see ``interleaved_medians``), and
    batch-1 latency of the networks named in ``latency`` (name -> runs); with ``compile_mode`` the networks are
    timed compiled (their FLOPs are counted on the eager networks)."""
    probes = {name: Probe(net, batch, infer_batch, s) for name, net in nets.items()}
    train_flops, infer_flops = {}, {}
    for name, p in probes.items():
        p.net.train()
        train_flops[name] = count_flops(p.train_step)
        p.net.eval()
        with autocast(s.device, s.bf16):  # forward FLOPs; FlopCounterMode's module tracker needs autograd on
            infer_flops[name] = count_flops(lambda p=p: p.net(p.xi))
    for p in probes.values():
        p.net.train()
        if compile_mode:
            p.compile(compile_mode)
    train_times = interleaved_times({n: p.train_step for n, p in probes.items()}, repeats, warmup, s.device)
    for p in probes.values():
        p.net.eval()
    infer_times = interleaved_times({n: p.infer for n, p in probes.items()}, repeats, warmup, s.device)
    speeds = {}
    for name, p in probes.items():
        lat = None
        if latency.get(name):
            runs = [median_seconds(p.infer_one, 1, 0, s.device) for _ in range(latency[name] + 3)][3:]
            lat = (percentile(runs, 50) * 1e3, percentile(runs, 95) * 1e3)
        speeds[name] = NetSpeed(
            count(p.net), batch, train_times[name], train_flops[name], infer_batch, infer_times[name],
            infer_flops[name], lat,
        )  # fmt: skip
    return speeds


def throughput_table(speeds: dict[str, NetSpeed], peak: float) -> Table:
    """Windows/s, step time, latency, FLOPs and MFU per configuration."""
    header = ["network", "params", "train B", "train windows/s", "train step ms", "infer B", "infer windows/s",
              "latency B=1 ms (median / p95)", "GFLOP/window fwd", "train GFLOP/s", "train MFU", "infer MFU"]  # fmt: skip
    rows = []
    for name, r in speeds.items():
        lat = "" if r.latency_ms is None else f"{r.latency_ms[0]:.2f} / {r.latency_ms[1]:.2f}"
        rows.append([
            name, f"{r.params / 1e6:.3f} M", str(r.batch), f"{r.batch / r.train_s:,.1f}", f"{r.train_s * 1e3:,.1f}",
            str(r.infer_batch), f"{r.infer_batch / r.infer_s:,.1f}", lat, f"{r.infer_flops / r.infer_batch / 1e9:.3f}",
            f"{r.train_flops / r.train_s / 1e9:.1f}", f"{r.train_flops / r.train_s / peak:.1%}",
            f"{r.infer_flops / r.infer_s / peak:.1%}",
        ])  # fmt: skip
    return "Throughput, latency and MFU", header, rows


def additions_table(groups: dict[str, dict[str, NetSpeed]]) -> Table:
    """Train step and inference time of each addition relative to the backbone (same size, same batch); each
    group (a size) lists its backbone first. A ratio is the median of the per-round ratios of the round-robin
    timing, with their interquartile range in brackets."""

    def ratio(times: list[float], base: list[float]) -> str:
        median, low, high = paired_ratio(times, base)
        return f"{median:.2f} ({low:.2f}-{high:.2f})"

    rows = []
    for size, speeds in groups.items():
        base = next(iter(speeds.values()))
        rows += [
            [size, name, f"{r.train_s * 1e3:,.1f}", ratio(r.train_times, base.train_times),
             ratio(r.infer_times, base.infer_times), f"{r.train_flops / base.train_flops:.2f}"]
            for name, r in speeds.items()
        ]  # fmt: skip
    header = ["size", "network", "train step ms", "train x backbone (IQR)", "infer x backbone (IQR)",
              "FLOPs x backbone"]  # fmt: skip
    return "Cost of each addition (relative to the backbone)", header, rows


def dtc_table(s: Settings) -> Table:
    """The DTC sublayer (both formulations) against the temporal attention sublayer it follows."""
    rows = []
    sizes = [("CPU size", dtc_formulations.cpu_size(), s.batch), ("paper size", dtc_formulations.PAPER, s.paper_batch)]
    for label, size, batch in sizes:
        desc = f"{label}: B={batch} C={size['dim']} G={size['dtc'].groups} K={size['dtc'].kernel_size}"
        for name, ms, ratio in dtc_formulations.bench(size, batch, WINDOW, JOINTS, s.repeats, s.device):
            rows.append([desc, name, f"{ms:,.2f}", f"{ratio:.2f}"])
    header = ["size", "sublayer (forward+backward)", "ms", "x temporal attention"]
    return "DTC sublayer vs the temporal attention it follows", header, rows


def attention_table(s: Settings) -> Table:
    """Fused scaled_dot_product_attention against the explicit product, per token set (the choice in ``attend``)."""
    rows = [row for label, batch in (("CPU size", s.batch), ("paper size", s.paper_batch))
            for row in attention_kernels.bench(label, batch, s.repeats, s.device)]  # fmt: skip
    return "Attention kernels (forward+backward)", attention_kernels.HEADER, rows


def optimizer_table(s: Settings) -> Table:
    """One AdamW step over the full model's parameters (random gradients): PyTorch's default multi-tensor update
    against the fused one that ``handprior.training.optimizer.adamw`` picks, timed round-robin."""
    rows = []
    for label, kwargs in (("CPU size", {}), ("paper size", paper_size())):
        net = HandPriorNet(**kwargs).to(s.device)
        for p in net.parameters():
            p.grad = torch.randn_like(p)
        steps = {
            "default (multi-tensor)": torch.optim.AdamW(net.parameters(), lr=1e-4, foreach=True).step,
            "fused (handprior's)": adamw(net.parameters(), lr=1e-4).step,
        }
        ms = {k: v * 1e3 for k, v in interleaved_medians(steps, s.repeats, s.warmup, s.device).items()}
        for name, t in ms.items():
            rows.append([f"{label}: full model, {count(net) / 1e6:.3f} M parameters", name, f"{t:,.2f}"])
        del net, steps
    return "AdamW step (full model)", ["size", "update", "ms"], rows


def pipeline_table(s: Settings) -> Table:
    """Windows/s of the training DataLoader (+ augmentation) against HandRefiner's real training step."""
    from handprior.data.augment import augment_batch
    from handprior.data.datamodule import SyntheticDataModule
    from handprior.models.refiner import HandRefiner

    data = SyntheticDataModule(root="data/synthetic", batch_size=s.batch)
    data.prepare_data()  # generated once (about 10 s), then cached
    augmentation = data.augmentation

    def load(batches: int) -> list[dict]:
        loaded = []
        for i, batch in enumerate(data.train_dataloader()):
            loaded.append(augment_batch(batch, **augmentation))
            if i + 1 == batches:
                return loaded
        return loaded

    load(2)
    load_s = median_seconds(lambda: load(s.data_batches), 1, 0, s.device) / s.data_batches
    model = HandRefiner(net=HandPriorNet()).to(s.device)
    optimizer = adamw(model.parameters(), lr=1e-4)
    batch = {k: v.to(s.device) if isinstance(v, Tensor) else v for k, v in load(1)[0].items()}

    def step() -> None:
        with autocast(s.device, s.bf16), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # self.log outside a Trainer
            loss = model.training_step(batch, 0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step_s = median_seconds(step, s.repeats, s.warmup, s.device)
    rows = [
        [f"DataLoader (num_workers=0) + augmentation, B={s.batch}", f"{s.batch / load_s:,.0f}", "1"],
        [f"HandRefiner.training_step (losses + MANO vertex loss) + AdamW, full CPU-size model, B={s.batch}",
         f"{s.batch / step_s:,.1f}", f"{step_s / load_s:,.0f}"],
    ]  # fmt: skip
    header = ["stage", "windows/s", "time per batch x data pipeline"]
    return "Data pipeline vs training (synthetic train split)", header, rows


def markdown(tables: list[Table]) -> str:
    """The tables as markdown."""
    text = []
    for title, header, rows in tables:
        text += [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        text += ["| " + " | ".join(row) + " |" for row in rows] + [""]
    return "\n".join(text)


def show(tables: list[Table], as_markdown: bool) -> None:
    """Print the tables, as markdown or with rich."""
    if as_markdown:
        print(markdown(tables), flush=True)
        return
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(width=200)
    for title, header, rows in tables:
        table = RichTable(*header, title=title, title_justify="left")
        for row in rows:
            table.add_row(*row)
        console.print(table)


def settings(args: argparse.Namespace, device: torch.device, paper_batch: int) -> Settings:
    """Iterations from --quick, batch sizes from the options."""
    quick = args.quick
    return Settings(
        device=device,
        bf16=args.bf16,
        repeats=2 if quick else 21,
        warmup=1 if quick else 2,
        latency_runs=10 if quick else 50,
        batch=args.batch,
        infer_batch=args.infer_batch,
        paper_batch=paper_batch,
        data_batches=5 if quick else 20,
    )


def main() -> None:
    """Run every measurement and print (and optionally write) the tables, the network tables first."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few iterations only")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables (for docs)")
    parser.add_argument("--output", default=None, help="also write the markdown tables to this file (rewritten as "
                        "each group of tables is done, so a run cut short keeps what it measured)")  # fmt: skip
    # --batch 32: configs/synthetic.yaml; the paper size at B=8 on a CPU (the paper's 64 on a GPU)
    add_run_arguments(parser, batch=32, cpu_paper_batch=8)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (and a bf16 matmul peak)")
    parser.add_argument("--infer-batch", type=int, default=64, help="windows per inference call")
    parser.add_argument("--compile", default=None, choices=["default", "reduce-overhead", "max-autotune"],
                        help="time the networks compiled with torch.compile in this mode (reduce-overhead: CUDA "
                        "graphs, for batch-1 latency on a GPU); on a CPU compiling takes 15-20 minutes")  # fmt: skip
    parser.add_argument("--sizes", default="both", choices=["both", "cpu", "paper"],
                        help="which sizes of network to time: the CPU size (the backbone, each addition alone and "
                        "the full model) and/or the paper size (backbone and full model)")  # fmt: skip
    parser.add_argument("--networks-only", action="store_true",
                        help="only the network tables (throughput, latency, MFU, cost of each addition): the DTC, "
                        "attention, AdamW and data pipeline tables do not change with --compile")  # fmt: skip
    args = parser.parse_args()
    device, paper_batch = apply_run_arguments(args)
    if args.quick and args.paper_batch is None and device.type == "cpu":
        paper_batch = 2  # --quick: a minute, not the paper size's seconds per step at B=8
    s = settings(args, device, paper_batch)
    info = machine(s.device)
    info["bf16 autocast"] = "yes" if s.bf16 else "no"
    info["torch.compile"] = f"mode {args.compile}" if args.compile else "no (eager)"
    first_peak = matmul_peak(s.device, s.bf16)
    speeds, groups = {}, {}

    def network_tables(peak: float) -> list[Table]:
        machine_rows = [[k, v] for k, v in {**info, "measured matmul peak": f"{peak / 1e9:,.1f} GFLOP/s"}.items()]
        return [("Machine", ["", ""], machine_rows), throughput_table(speeds, peak), additions_table(groups)]

    if args.sizes in ("both", "cpu"):
        nets = {name: HandPriorNet(**kwargs) for name, kwargs in ADDITIONS.items()}
        latency = {name: s.latency_runs for name in ENDS}
        cpu_speeds = measure(nets, s.batch, s.infer_batch, s, latency, s.repeats, s.warmup, args.compile)
        del nets
        speeds.update({f"CPU size: {name}": r for name, r in cpu_speeds.items()})
        groups[f"CPU size, B={s.batch}"] = cpu_speeds
        write(args, info, network_tables(first_peak))  # in case the paper size does not finish
    if args.sizes in ("both", "paper"):
        paper_speeds = measure_paper_size(s, args.compile)
        speeds.update(paper_speeds)
        groups[f"paper size, B={s.paper_batch}"] = dict(zip(ENDS, paper_speeds.values()))
    # the peak again after the model timings, the higher one counts: a peak measured while the shared machine was
    # slow would put the model's MFU above 100 %
    tables = network_tables(max(first_peak, matmul_peak(s.device, s.bf16)))
    show(tables, args.markdown)
    write(args, info, tables)
    if args.networks_only:
        return
    rest = [dtc_table(s), attention_table(s), optimizer_table(s), pipeline_table(s)]
    show(rest, args.markdown)
    write(args, info, tables + rest)


def measure_paper_size(s: Settings, compile_mode: str | None) -> dict[str, NetSpeed]:
    """The backbone and the full model at the paper's size (fewer rounds on a CPU: seconds per step)."""
    repeats, warmup = (7, 1) if s.device.type == "cpu" else (s.repeats, s.warmup)
    paper = {"paper size, backbone": BACKBONE, "paper size, full model": {}}
    nets = {f"{name} (B={s.paper_batch})": HandPriorNet(**{**paper_size(), **kw}) for name, kw in paper.items()}
    latency = {name: min(5, s.latency_runs) if s.device.type == "cpu" else s.latency_runs for name in nets}
    return measure(nets, s.paper_batch, s.paper_batch, s, latency, repeats, warmup, compile_mode)


def write(args: argparse.Namespace, info: dict[str, str], tables: list[Table]) -> None:
    """Write the tables so far to --output (if given), as markdown under a title naming the machine."""
    if not args.output:
        return
    note = "Measured by `python -m experiments.speed.bench` (see its docstring for what each number is).\n\n"
    compiled = f", networks compiled (torch.compile, mode {args.compile})" if args.compile else ""
    where = info["GPU"] if "GPU" in info else f"{info['CPU']}, {info['torch threads']} threads"
    title = f"# Speed on {where}{compiled}"
    Path(args.output).write_text(f"{title}\n\n{note}{markdown(tables)}")
    print(f"wrote {args.output}", flush=True)


if __name__ == "__main__":
    main()
