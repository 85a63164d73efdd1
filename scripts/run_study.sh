#!/usr/bin/env bash
# Run a study config (a sweep TOML: configs/study_cpu.toml, configs/study_tc.toml,
# configs/study_budget.toml) in the background, resuming whatever an earlier (interrupted)
# invocation left, and commit each run's training log, eval JSON, codes record (X.codes.npz) and
# UDR inputs (X.udr_codes.npz) as it lands (never checkpoints: *.pkl is ignored).
#   nohup scripts/run_study.sh configs/study_tc.toml > study_tc.out 2>&1 &
#   scripts/run_study.sh configs/study_cpu.toml --train_only   # train every run, evaluate later
#   SEEDS="4 5" nohup scripts/run_study.sh configs/study_tc.toml ... &
#       a second worker on other seeds (never give two the same seed); on 2 cores it gains
#       little or nothing (docs/study.md: 12.4 steps/s together against 10 alone; docs/study_tc.md:
#       no faster)
#   RESULTS=docs/study                    # the folder whose files are committed (default: the
#                                         # config's `results`)
# Runs go seed by seed (seed 1's runs, then seed 2's, ...) and, in a config of TC models only,
# within a seed gamma by gamma (both models of one gamma, then the next), so a partial study is
# balanced; a config with other models too runs each seed's runs in the sweep's order. Each run
# is one scripts/sweep.py call (--run NAME) and its files are committed as soon as it lands.
# Arguments after the config go to scripts/sweep.py.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "usage: scripts/run_study.sh CONFIG.toml [sweep.py options]  (got: ${1:-nothing})" >&2
    exit 2
fi
config=$1
shift
python=${PYTHON:-python}
results=${RESULTS:-$("$python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["results"])' "$config")} || exit 2
seeds=${SEEDS:-$("$python" -c '
import sys, tomllib
seeds = tomllib.load(open(sys.argv[1], "rb"))["seeds"]
print(" ".join(map(str, range(seeds["start"], seeds["stop"] + 1) if isinstance(seeds, dict) else seeds)))' "$config")} || exit 2
# The run names of each seed, in the order above: "seed name" per line.
runs=$("$python" -c '
import sys
from models.registry import REGISTRY
from sweeps.grid import SweepError, expand, load_sweep
try:
    sweep = load_sweep(sys.argv[1])
except SweepError as error:
    sys.exit(str(error))
tc_only = all(REGISTRY[m].discriminator for m in sweep.models)
runs = expand(sweep, sys.argv[2])
for seed in map(int, sys.argv[3:]):
    chosen = [r for r in runs if r.config.seed == seed]
    for run in sorted(chosen, key=lambda r: r.config.gamma) if tc_only else chosen:
        print(seed, run.name)' "$config" "$results" $seeds) || exit 2

# shellcheck disable=SC2086  # word splitting of $files / $changed is meant: names have no spaces
commit() {
    # Commit the files of run $1 that changed, with $2 in the message. Only this run's: after a
    # restart another run's partial log is on disk too, and belongs to its own commit. Retry: the
    # checkout is shared with whoever else commits in it.
    local files changed
    files=$(ls "$results/$1".log.jsonl "$results/$1".eval.json "$results/$1".codes.npz \
        "$results/$1".udr_codes.npz 2>/dev/null)
    [ -n "$files" ] || return 0
    for _ in 1 2 3 4 5; do
        git add -- $files || { sleep 5; continue; }
        changed=$(git diff --cached --name-only -- $files)
        [ -n "$changed" ] || return 0
        git commit -q -m "study ($(basename "$config" .toml)): $1 ($2)" -- $changed && return 0
        sleep 5
    done
    echo "could not commit $results/$1" >&2
}

record_udr() {
    # UDR scores a group of seeds at once, but checkpoints do not outlive the machine: keep each
    # finished run's UDR inputs (run $1), scored later with `scripts/udr.py --from_records`
    # (docs/metrics.md).
    local checkpoint="$results/$1.pkl"
    [ -f "$checkpoint" ] && [ -f "$results/$1.eval.json" ] && [ ! -f "$results/$1.udr_codes.npz" ] || return 0
    "$python" scripts/udr.py --record "$checkpoint" || echo "could not record UDR inputs of $checkpoint" >&2
}

# Up to three passes: a run killed mid-way (e.g. out of memory) resumes from its last
# checkpoint in the next pass; a pass over finished runs does nothing.
for pass in 1 2 3; do
    while read -r seed name; do
        "$python" scripts/sweep.py "$config" --results "$results" --run "$name" "$@" < /dev/null
        record_udr "$name"
        commit "$name" "seed $seed, pass $pass${*:+, $*}"
    done <<< "$runs"
done
