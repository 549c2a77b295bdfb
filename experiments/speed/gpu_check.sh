#!/usr/bin/env bash
# The GPU measurements of issue #6 (speed) in one run, for a session that is lent a GPU machine.
#
#   bash experiments/speed/gpu_check.sh [OUTDIR]        # OUTDIR defaults to $OUT, else results_gpu/
#
# It writes, each step on its own and under its own time limit, so that one failing or slow step does not lose the
# others (the bench rewrites its .md as each size and then the other tables are done, so a step cut short keeps
# what it measured):
#   gpu.txt                    the GPU, driver and torch version
#   results_gpu.md             `make bench` on the GPU in bf16 autocast, eager (paper size at the paper's batch 64)
#   results_gpu_compiled.md    the paper-size networks compiled (torch.compile, mode reduce-overhead: CUDA graphs),
#                              network tables only, for the batch-1 latency and training MFU targets
#   attention_kernels_gpu.log  fused scaled_dot_product_attention against the explicit product on the GPU
#   bench_*.log                each bench's output (six files in all: a device run returns at most eight)
# Time limits in seconds (environment): EAGER_S (default 240), COMPILED_S (270), ATTENTION_S (60), 0 skips the step;
# their sum stays under a device run's 600 s limit: give the device run timeout_s=600. If the compiled step stops
# at its limit, run it again alone: EAGER_S=0 ATTENTION_S=0 COMPILED_S=540 bash experiments/speed/gpu_check.sh.
# A dry run of the plumbing on a CPU: DEVICE=cpu BENCH_ARGS=--quick COMPILED_S=0 bash experiments/speed/gpu_check.sh /tmp/x
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
device="${DEVICE:-cuda}"
read -r -a extra <<< "${BENCH_ARGS:-}"
if compgen -G ".whl/*.whl" > /dev/null; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/handprior-site .whl/*.whl
    export PYTHONPATH="/tmp/handprior-site${PYTHONPATH:+:$PYTHONPATH}"
fi

step() {  # step NAME SECONDS COMMAND...: run under a time limit, log to $out/NAME.log, report exit status and time
    local name="$1" limit="$2" start=$SECONDS
    shift 2
    if [ "$limit" = 0 ]; then echo "$name: skipped"; return 0; fi
    timeout -k 10 "$limit" "$@" > "$out/$name.log" 2>&1
    local rc=$?
    echo "$name: exit $rc$([ $rc = 124 ] && echo " (stopped at its limit of $limit s)"), $((SECONDS - start)) s"
    return 0
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  "$py" -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"; } > "$out/gpu.txt" 2>&1
cat "$out/gpu.txt"
step bench_eager "${EAGER_S:-240}" "$py" -m experiments.speed.bench --device "$device" --bf16 "${extra[@]}" --markdown \
    --output "$out/results_gpu.md"
step bench_compiled "${COMPILED_S:-270}" "$py" -m experiments.speed.bench --device "$device" --bf16 "${extra[@]}" \
    --compile reduce-overhead --sizes paper --networks-only --markdown --output "$out/results_gpu_compiled.md"
step attention_kernels_gpu "${ATTENTION_S:-60}" "$py" -m experiments.speed.attention_kernels --device "$device"
grep -h -A4 "paper size" "$out"/results_gpu*.md 2> /dev/null | head -40
