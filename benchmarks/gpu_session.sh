#!/usr/bin/env bash
# Issue 20's GPU session in one device call (about 6-8 minutes on an H100): build, `pytest -m gpu`,
# then benchmarks/bench_gpu.py on 17M words (sg and cbow at dim 100 and 300, CUDA rows padded to 16
# and to 4 floats, the CPU for comparison, and a joint job with parallel text). Everything it writes
# goes to $OUT/gpu-<device>/ (the device tool brings that back; copy it to benchmarks/results/), or
# to benchmarks/results/gpu-<device>/ where OUT is unset.
#
#   benchmarks/gpu_session.sh prepare   # here, once, no GPU: the data into .data/gpu/ (git-ignored, ~30 MB)
#   benchmarks/gpu_session.sh dry-run   # here: what runs without a GPU, on a 1M-word slice
#   benchmarks/gpu_session.sh           # on the GPU machine, with .data/gpu carried:
#       device tool: run(command="bash benchmarks/gpu_session.sh", carry=[".data/gpu"], timeout_s=560)
set -euo pipefail
cd "$(dirname "$0")/.."

data=.data/gpu
corpus="$data/enwiki-text8-17M.txt.xz"
bench_data=(--corpus "$corpus" --questions "$data/questions-words.txt"
            --parallel "$data/train.en.gz" "$data/train.fr.gz")
python=$(command -v python3 || command -v python)

case "${1:-run}" in
  prepare)
    shared="${MTLEMBED_DATA:-$(cd .. && pwd)/shared/data}"
    [ -d "$shared" ] || shared=/work/shared/data
    mkdir -p "$data"
    if [ ! -f "$corpus" ]; then
      text=$("$python" benchmarks/prepare_corpus.py --words 17M)  # benchmarks/.cache/, reused if there
      xz -T0 -6 -c "$text" > "$corpus.part" && mv "$corpus.part" "$corpus"
    fi
    cp "$shared/analogy/en/questions-words.txt" "$data/"
    cp "$shared/parallel/multi30k/task1_raw/train.en.gz" "$shared/parallel/multi30k/task1_raw/train.fr.gz" "$data/"
    du -sh "$data"  # the device tool carries at most 64 MiB, the working tree included
    exit 0
    ;;
  dry-run)
    [ -f "$corpus" ] || { echo "gpu_session: no $corpus: run 'benchmarks/gpu_session.sh prepare' first" >&2; exit 2; }
    out="${TMPDIR:-/tmp}/gpu-session-dry-run"
    exec "$python" benchmarks/bench_gpu.py --dry-run --skip-tests --cpu-words 1000000 --runs sg:100,cbow:100 \
      --row-floats 16 --cpu-full '' "${bench_data[@]}" --out "$out"
    ;;
  run) ;;
  *) echo "usage: $0 [prepare|dry-run]" >&2; exit 2 ;;
esac

[ -f "$corpus" ] || { echo "gpu_session: no $corpus: run 'benchmarks/gpu_session.sh prepare' here and carry $data" >&2
                      exit 2; }
export PYTHONUNBUFFERED=1
device=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr 'A-Z' 'a-z' | tr -cs 'a-z0-9' '-')
dir="${OUT:-benchmarks/results}/gpu-${device%-}"
mkdir -p "$dir"
nvidia-smi > "$dir/nvidia-smi.txt" 2>&1 || true

# This GPU's architecture only: the build runs on the session's clock (the default list is CI's to compile).
export MTLEMBED_CUDA_ARCHS="${MTLEMBED_CUDA_ARCHS:-90-real;90-virtual}"
SECONDS=0
"$python" -m pip install --no-build-isolation --no-deps -e . > "$dir/build.log" 2>&1 \
  || { tail -40 "$dir/build.log"; exit 1; }
echo "built in ${SECONDS} s"
"$python" -m mtlembed info

SECONDS=0
set +e  # a failing GPU test is a result; the benchmark still runs
"$python" -m pytest -m gpu -q -rs tests > "$dir/pytest.log" 2>&1
tests=$?
set -e
tail -25 "$dir/pytest.log"
echo "pytest -m gpu: exit ${tests} in ${SECONDS} s"

"$python" benchmarks/bench_gpu.py --skip-tests "${bench_data[@]}" --out "$dir" 2>&1 | tee "$dir/bench.log"
exit "$tests"
