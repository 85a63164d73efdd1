#!/usr/bin/env bash
# Run the CPU study of configs/study_cpu.toml in the background, resuming whatever an earlier
# (interrupted) invocation left, and commit each run's training log and eval JSON as it lands
# (never checkpoints: *.pkl is ignored).
#   nohup scripts/run_study.sh > study.out 2>&1 &
#   scripts/run_study.sh --train_only          # phase 1 only: train every run, evaluate later
# Runs go seed by seed (VAE, then D-VAE), so a partial study always compares both models.
set -uo pipefail
cd "$(dirname "$0")/.."
config=configs/study_cpu.toml
results=docs/study
python=${PYTHON:-python}

commit() {
    # Retry: the folder is shared with whoever else commits in this checkout.
    for _ in 1 2 3 4 5; do
        git add -- "$results"/*.log.jsonl "$results"/*.eval.json 2>/dev/null
        if git diff --cached --quiet -- "$results"; then return 0; fi
        git commit -q -m "study: $1" -- "$results" && return 0
        sleep 5
    done
    echo "could not commit $results" >&2
}

for seed in 1 2 3 4 5; do
    "$python" scripts/sweep.py "$config" --only "_seed$seed" "$@"
    commit "seed $seed ($*)"
done
