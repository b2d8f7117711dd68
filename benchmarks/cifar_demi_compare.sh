#!/bin/bash
# Issue 5 comparison (and DIM(G) with two views): pairs of runs side by side, one
# core each (--threads 1), 20 minutes of wall-clock pre-training per run, then the
# linear probe of each run on frozen conv features. Results: runs/cifar-1core.
# Optional: pids of training processes already running, to wait for first.
cd "$(dirname "$0")/.." || exit 1
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/cifar-1core}
mkdir -p "$OUT"
probe() {  # run seed
  $PY benchmarks/cifar_pretrain.py probe --runs "$1" --seed "$2" --threads 2 --out "$OUT" \
    >> "$OUT/probe-log-s$2.txt" 2>&1
}
pair() {  # run1 seed1 run2 seed2
  if [ -z "$SKIP_TRAIN" ]; then
    $PY benchmarks/cifar_pretrain.py train --runs "$1" --seed "$2" --threads 1 --out "$OUT" \
      > "$OUT/log-$1-s$2.txt" 2>&1 &
    a=$!
    $PY benchmarks/cifar_pretrain.py train --runs "$3" --seed "$4" --threads 1 --out "$OUT" \
      > "$OUT/log-$3-s$4.txt" 2>&1 &
    b=$!
    wait $a $b
  fi
  SKIP_TRAIN=
  probe "$1" "$2"
  probe "$3" "$4"
  echo "$(date -u) done $1 s$2, $3 s$4" >> "$OUT/chain.txt"
}
# Resuming a chain whose first pair is already training: wait for those pids.
if [ $# -gt 0 ]; then
  for pid in "$@"; do while kill -0 "$pid" 2>/dev/null; do sleep 10; done; done
  SKIP_TRAIN=1
fi
pair demi-bo 0 multiview 0
pair demi-is 0 simclr 0
pair demi-bo 1 multiview 1
pair demi-is 1 simclr 1
pair cpc 0 dim-local-infonce 0
pair dim-global-2view 0 dim-global-2view-g01 0
