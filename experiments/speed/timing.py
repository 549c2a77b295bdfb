"""Measuring helpers for the speed benchmarks: their shared command-line options, the machine, a synchronised timer,
model FLOPs, the matmul peak."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import torch
from torch.utils.flop_counter import FlopCounterMode


def add_run_arguments(parser: argparse.ArgumentParser, batch: int, cpu_paper_batch: int) -> None:
    """The options every speed script shares: --device, --threads, --batch (CPU size) and --paper-batch."""
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    parser.add_argument("--batch", type=int, default=batch, help="windows per batch at the CPU size")
    parser.add_argument("--paper-batch", type=int, default=None, help="windows per batch at the paper size "
                        f"(default: 64 on a GPU, {cpu_paper_batch} on the CPU)")  # fmt: skip
    parser.set_defaults(cpu_paper_batch=cpu_paper_batch)


def apply_run_arguments(args: argparse.Namespace) -> tuple[torch.device, int]:
    """Set the thread count (--threads) and seed 0; return the device and the paper-size batch."""
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    return device, args.paper_batch or (64 if device.type == "cuda" else args.cpu_paper_batch)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine(device: torch.device) -> dict[str, str]:
    """What the numbers were measured on: CPU model, cores, load, torch version, threads, device."""
    info = {
        "CPU": cpu_model(),
        "cores (visible)": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "load average (1 min)": f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a",
        "torch": torch.__version__,
        "torch threads": str(torch.get_num_threads()),
        "device": str(device),
    }
    if device.type == "cuda":
        info["GPU"] = torch.cuda.get_device_name(device)
    return info


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int, device: torch.device) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_times(
    fns: dict[str, Callable[[], object]], repeats: int, warmup: int, device: torch.device
) -> dict[str, list[float]]:
    """Wall times (s) of each function over ``repeats`` rounds, timed round-robin (one call of each per round)
    after ``warmup`` rounds, so that a machine whose speed drifts (a shared VM) slows every function alike and
    ratios between them stay fair; ``times[name][r]`` is round r."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def interleaved_medians(
    fns: dict[str, Callable[[], object]], repeats: int, warmup: int, device: torch.device
) -> dict[str, float]:
    """Median wall time of each function, timed round-robin (see :func:`interleaved_times`)."""
    return {name: statistics.median(t) for name, t in interleaved_times(fns, repeats, warmup, device).items()}


def paired_ratio(times: list[float], base: list[float]) -> tuple[float, float, float]:
    """Median, 25th and 75th percentile of the per-round ratios ``times[r] / base[r]`` of two round-robin timings:
    within a round both saw the same machine speed, so the spread shows how far the ratio can be trusted."""
    ratios = [t / b for t, b in zip(times, base, strict=True)]
    return percentile(ratios, 50), percentile(ratios, 25), percentile(ratios, 75)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of ``values``, linear interpolation."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call of ``fn`` (matmuls, attention, convolutions) by ``torch.utils.flop_counter``."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def autocast(device: torch.device, bf16: bool) -> AbstractContextManager:
    """bf16 autocast on ``device`` when ``bf16``, else nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()


def matmul_peak(device: torch.device, bf16: bool = False, size: int = 2048, repeats: int = 15) -> float:
    """Measured FLOP/s of a large square matmul (fp32, or bf16), the best of ``repeats``: the peak that MFU is
    relative to. On a loaded machine the peak and the model's time see different load, so MFU is approximate."""
    dtype = torch.bfloat16 if bf16 else torch.float32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = min(median_seconds(lambda: a @ b, 1, warmup=1 if i == 0 else 0, device=device) for i in range(repeats))
    return 2 * size**3 / best
