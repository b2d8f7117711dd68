#!/bin/bash
# Issue 17, sections 3 and 4: DIM(L) with its structural tasks (occlusion, coordinate
# prediction, both) and CPC with each of CPC v2's changes (four directions, LayerNorm
# patch encoder, per-patch augmentation), against DIM(L) and CPC as they are. Pairs of
# runs side by side, one core each (--threads 1), 20 minutes of wall-clock pre-training
# per run, then the linear probe of each run on frozen conv features; runs already
# finished in $OUT (e.g. section 10's dim-local-infonce and cpc, seed 0) are kept.
# Results: runs/cifar-1core, summary in structural_summary.json.
# Usage: bash benchmarks/cifar_structural.sh [SEED ...]     (default: 0 1)
cd "$(dirname "$0")/.." || exit 1
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/cifar-1core}
MINUTES=${MINUTES:-20}
SEEDS=("$@")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(0 1)
RUNS=dim-local-infonce,dim-local-occlude,dim-local-coord,dim-local-both
RUNS=$RUNS,cpc,cpc-all-dirs,cpc-layernorm,cpc-patchaug
mkdir -p "$OUT"
probe() {  # run seed
  $PY benchmarks/cifar_pretrain.py probe --runs "$1" --seed "$2" --threads 2 --out "$OUT" \
    >> "$OUT/probe-log-s$2.txt" 2>&1
}
train() {  # run seed
  $PY benchmarks/cifar_pretrain.py train --runs "$1" --seed "$2" --threads 1 \
    --minutes "$MINUTES" --out "$OUT" > "$OUT/log-$1-s$2.txt" 2>&1
}
pair() {  # run1 run2 seed
  train "$1" "$3" &
  a=$!
  train "$2" "$3" &
  b=$!
  wait $a $b
  probe "$1" "$3"
  probe "$2" "$3"
  echo "$(date -u) done $1, $2 s$3" >> "$OUT/chain.txt"
}
for seed in "${SEEDS[@]}"; do
  pair dim-local-occlude dim-local-coord "$seed"
  pair dim-local-both dim-local-infonce "$seed"
  pair cpc-all-dirs cpc "$seed"
  pair cpc-layernorm cpc-patchaug "$seed"
done
seeds=$(IFS=,; echo "${SEEDS[*]}")
$PY benchmarks/cifar_pretrain.py summary --out "$OUT" --seeds "$seeds" --runs "$RUNS" \
  --summary-file structural_summary.json
