#!/bin/bash
# first_steps.sh SEED GAMMA [CHECKOUT]: train FactorDVAE with the study's settings in CHECKOUT (default:
# this repository; for the study's digits, its worktree of 0b21761, docs/study_tc.md) until the
# step-250 log line, print that line and stop. Two calls on one machine print the same digits;
# prefix WRAP (e.g. WRAP="taskset -c 0") to change the thread count and see them change.
set -euo pipefail
cd "${3:-$(dirname "$0")/../../..}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
${WRAP:-} python run.py --dataset dsprites_procedural --tc --gamma "$2" --seed "$1" --steps 10000 \
  --batch_size 64 --log_every 250 --eval_every 2000 --save_every 1000 --save_path "$out" > "$out/log" 2>&1 &
pid=$!
until grep -q "step 250:" "$out/log" 2>/dev/null; do
  sleep 2
  kill -0 $pid 2>/dev/null || { cat "$out/log"; exit 1; }
done
kill $pid; wait $pid 2>/dev/null || true
grep -o "step 250:.*" "$out/log"
