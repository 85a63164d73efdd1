#!/usr/bin/env bash
# Run a study config (a sweep TOML: configs/study_cpu.toml, configs/study_tc.toml,
# configs/study_budget.toml) in the background, resuming whatever an earlier (interrupted)
# invocation left, and commit each run's training log, eval JSON, codes record (X.codes.npz) and
# UDR inputs (X.udr_codes.npz) as it lands (never checkpoints: *.pkl is ignored).
#   nohup scripts/run_study.sh configs/study_tc.toml > study_tc.out 2>&1 &
#   scripts/run_study.sh configs/study_cpu.toml --train_only   # train every run, evaluate later
#   SEEDS="4 5" nohup scripts/run_study.sh configs/study_tc.toml ... &
#       a second worker on other seeds: training uses ~1.7 of 2 cores, so two workers on
#       disjoint seeds finish sooner (never give two the same seed)
#   RESULTS=docs/study                    # the folder whose files are committed (default: the
#                                         # config's `results`)
# Runs go seed by seed (seed 1's runs, then seed 2's, ...) and, in a config of TC models only,
# within a seed gamma by gamma (both models of one gamma, then the next), so a partial study is
# balanced; a config with other models too runs each seed's runs in the sweep's order. Arguments after the config go to scripts/sweep.py.
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
# Within a seed, one gamma at a time (both models of that gamma side by side in the results),
# as run-name fragments: "_factor10.0" ... or "ALL" (the whole seed) where some model has no
# gamma (only TC run names carry one). Seeds go to --only as "_seed<N>", a substring: seeds 1-9.
gammas=$("$python" -c '
import sys, tomllib
from models.registry import REGISTRY
config = tomllib.load(open(sys.argv[1], "rb"))
tc_only = all(REGISTRY[m].discriminator for m in config.get("models", []))
print(" ".join(f"_factor{float(g)}" for g in config.get("gammas", [])) if tc_only else "ALL")' "$config") || exit 2

# shellcheck disable=SC2086  # word splitting of $files / $changed is meant: names have no spaces
commit() {
    # Commit the files of this group's runs ($1: their run-name fragment, e.g. "_factor30.0_seed1")
    # that changed, named in the message ($2). Only this group's: after a restart another run's
    # partial log is on disk too, and belongs to its own group's commit. Retry: the checkout is
    # shared with whoever else commits in it.
    local files changed names
    files=$(ls "$results"/*"$1".log.jsonl "$results"/*"$1".eval.json "$results"/*"$1".codes.npz \
        "$results"/*"$1".udr_codes.npz 2>/dev/null)
    [ -n "$files" ] || return 0
    for _ in 1 2 3 4 5; do
        git add -- $files || { sleep 5; continue; }
        changed=$(git diff --cached --name-only -- $files)
        [ -n "$changed" ] || return 0
        names=$(echo "$changed" | xargs -n1 basename | sed -E 's/\.(log\.jsonl|eval\.json|codes\.npz|udr_codes\.npz)$//' | sort -u | paste -sd, -)
        git commit -q -m "study ($(basename "$config" .toml)): $names ($2)" -- $changed && return 0
        sleep 5
    done
    echo "could not commit $results" >&2
}

record_udr() {
    # UDR scores a group of seeds at once, but checkpoints do not outlive the machine: keep each
    # finished run's UDR inputs ($1: the group's run-name fragment), scored later with
    # `scripts/udr.py --from_records` (docs/metrics.md).
    local checkpoint
    for checkpoint in "$results"/*"$1".pkl; do
        [ -f "$checkpoint" ] && [ -f "${checkpoint%.pkl}.eval.json" ] && [ ! -f "${checkpoint%.pkl}.udr_codes.npz" ] \
            || continue
        "$python" scripts/udr.py --record "$checkpoint" || echo "could not record UDR inputs of $checkpoint" >&2
    done
}

# Up to three passes: a run killed mid-way (e.g. out of memory) resumes from its last
# checkpoint in the next pass; a pass over finished runs does nothing.
for pass in 1 2 3; do
    for seed in $seeds; do
        for gamma in $gammas; do
            [ "$gamma" = ALL ] && gamma=""
            "$python" scripts/sweep.py "$config" --results "$results" --only "${gamma}_seed$seed" "$@"
            record_udr "${gamma}_seed$seed"
            commit "${gamma}_seed$seed" "seed $seed${gamma:+ $gamma}, pass $pass${*:+, $*}"
        done
    done
done
