#!/usr/bin/env bash
# Run the CPU study of configs/study_cpu.toml in the background, resuming whatever an earlier
# (interrupted) invocation left, and commit each run's training log and eval JSON as it lands
# (never checkpoints: *.pkl is ignored).
#   nohup scripts/run_study.sh > study.out 2>&1 &
#   scripts/run_study.sh --train_only          # phase 1 only: train every run, evaluate later
#   SEEDS="4 5" nohup scripts/run_study.sh ... &  # a second worker on other seeds: training uses
#                                                 # ~1.7 of 2 cores, so two workers on disjoint
#                                                 # seeds finish sooner (never give two the same seed)
# Runs go seed by seed (VAE, then D-VAE), so a partial study always compares both models.
set -uo pipefail
cd "$(dirname "$0")/.."
config=configs/study_cpu.toml
results=docs/study
python=${PYTHON:-python}

commit() {
    # Retry: the checkout is shared with whoever else commits in it.
    local files
    files=$(ls "$results"/*.log.jsonl "$results"/*.eval.json 2>/dev/null)
    [ -n "$files" ] || return 0
    for _ in 1 2 3 4 5; do
        # shellcheck disable=SC2086  # file names have no spaces
        git add -- $files && { git diff --cached --quiet -- "$results" || git commit -q -m "study: $1" -- "$results"; } && return 0
        sleep 5
    done
    echo "could not commit $results" >&2
}

# Up to three passes: a run killed mid-way (e.g. out of memory) resumes from its last
# checkpoint in the next pass; a pass over finished runs does nothing.
for pass in 1 2 3; do
    for seed in ${SEEDS:-1 2 3 4 5}; do
        "$python" scripts/sweep.py "$config" --only "_seed$seed" "$@"
        commit "seed $seed, pass $pass ($*)"
    done
done
