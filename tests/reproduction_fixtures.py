"""Run logs and eval JSON of a committed run and of its retraining, for the tests of
analysis/reproduction.py and scripts/compare_runs.py."""
import json


def log_text(*records):
    return "".join(json.dumps(r) + "\n" for r in records)


OLD_LOG = log_text(
    {"kind": "train", "step": 250, "time": 1.0, "elapsed_s": 10.0, "steps_per_s": 25.0, "loss": 1461.82, "kl": 3.1},
    {"kind": "train", "step": 500, "time": 2.0, "elapsed_s": 20.0, "steps_per_s": 25.0, "loss": 447.62, "kl": 11.2},
    # a resume repeats step 500 (same values, a later clock)
    {"kind": "train", "step": 500, "time": 9.0, "elapsed_s": 5.0, "steps_per_s": 50.0, "loss": 447.62, "kl": 11.2},
    {"kind": "eval", "step": 500, "time": 3.0, "elapsed_s": 21.0, "mig": 0.05},
)


def eval_json(**results):
    return {"model": "dvae", "seed": 1, "step": 10000, "metrics": ["mig", "st_gap"],
            "results": {"mig": 0.0691, "st_gap": 6.13, **results},
            "times": {"mig": 4.4, "total": 300.0}, "created": "2026-12-01T00:00:00+0000",
            "index_cache": {"encode_seconds": 3.0}}


def write_run(folder, name, log, evaluation):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.log.jsonl").write_text(log)
    (folder / f"{name}.eval.json").write_text(json.dumps(evaluation))
