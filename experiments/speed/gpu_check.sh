#!/usr/bin/env bash
# The GPU measurements of issue #6 (speed) in one run, for a session that is lent a GPU machine.
#
#   bash experiments/speed/gpu_check.sh [OUTDIR]        # OUTDIR defaults to $OUT, else results_gpu/
#
# It writes, each step on its own so that one failing step does not lose the others:
#   gpu.txt                    the GPU, driver and torch version
#   results_gpu.md             `make bench` on the GPU in bf16 autocast, eager (paper size at the paper's batch 64)
#   attention_kernels_gpu.log  fused scaled_dot_product_attention against the explicit product on the GPU
#   results_gpu_compiled.md    the same bench with the paper-size networks compiled (torch.compile,
#                              mode reduce-overhead: CUDA graphs), for the batch-1 latency and training MFU targets
#   bench_*.log                each bench's output (six files in all: a device run returns at most eight)
# Quote the numbers in the README with the GPU named, and copy the .md files to experiments/speed/.
#
# Packages: the device image has torch, lightning, torchmetrics, numpy, scipy, pyyaml and rich, not smplx (which the
# synthetic data and the MANO layer of the bench's data-pipeline table use). smplx is pure Python; fetch its wheel
# here once and carry the folder (device `run` with carry [".whl"]):
#   echo /.whl/ >> .git/info/exclude && .venv/bin/pip download --no-deps --only-binary=:all: -d .whl smplx==0.1.28
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${1:-${OUT:-results_gpu}}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py="${PYTHON:-python3}"
if compgen -G ".whl/*.whl" > /dev/null; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/handprior-site .whl/*.whl
    export PYTHONPATH="/tmp/handprior-site${PYTHONPATH:+:$PYTHONPATH}"
fi

step() {  # step NAME COMMAND...: run, log to $out/NAME.log, report the exit status and the time taken
    local name="$1" start=$SECONDS
    shift
    "$@" > "$out/$name.log" 2>&1
    local rc=$?
    echo "$name: exit $rc, $((SECONDS - start)) s"
    return 0
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  "$py" -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"; } > "$out/gpu.txt" 2>&1
cat "$out/gpu.txt"
step bench_eager "$py" -m experiments.speed.bench --device cuda --bf16 --markdown --output "$out/results_gpu.md"
step attention_kernels_gpu "$py" -m experiments.speed.attention_kernels --device cuda
step bench_compiled "$py" -m experiments.speed.bench --device cuda --bf16 --compile reduce-overhead --markdown \
    --output "$out/results_gpu_compiled.md"
grep -h -A4 "paper size" "$out"/results_gpu*.md | head -40
