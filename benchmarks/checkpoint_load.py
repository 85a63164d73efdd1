"""Time `load_checkpoint` of this tree against an earlier commit, on real checkpoints, alternating.

    python benchmarks/checkpoint_load.py --against 7d6863a [--rounds 3] [--repeats 20] [--end_to_end]

Writes a freshly initialised D-VAE and FactorDVAE checkpoint (the paper's architecture, with
optimiser states: the size of every checkpoint a run writes) with this tree's writer, then
each version (this tree; `--against`, extracted with `git archive`) loads each file
`--repeats` times in its own process (the file is in the page cache after the first). Rounds
alternate the versions; the median per-load time over all loads is reported, with a digest of
what was loaded (equal digests: the versions return the same arrays, bit for bit). 7d6863a is
the last commit whose loader was pickle with a restricted `find_class`.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from versions import ROOT, alternate, extract, report, run_in

from checkpoints.checkpoint import save_checkpoint
from configs import Config
from models import build_model
from models.registry import REGISTRY
from training.resume import checkpoint_payload
from training.step import init_train_state

DRIVER = r"""
import hashlib, json, sys, time
import jax, numpy as np
from checkpoints.checkpoint import load_checkpoint
from checkpoints.restore import load_model
path, repeats, end_to_end = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
datasets = {}
if end_to_end:   # the data set once, outside the timing, as eval.py caches it across files
    load_model(path, datasets=datasets)
times = []
for _ in range(repeats):
    start = time.perf_counter()
    payload = load_model(path, datasets=datasets)[0] if end_to_end else load_checkpoint(path)
    times.append(time.perf_counter() - start)
digest = hashlib.sha256()
for key in ("params", "state", "opt_state", "params_disc", "opt_state_disc", "rng"):
    for leaf in jax.tree_util.tree_leaves(payload[key]):
        digest.update(str((leaf.dtype, leaf.shape)).encode() + np.ascontiguousarray(leaf).tobytes())
print("RESULT " + json.dumps({"seconds": times, "sha256": digest.hexdigest()[:16]}))
"""


def write_checkpoints(folder: Path) -> dict[str, Path]:
    """A D-VAE and a FactorDVAE (gamma 30) as run.py would write them at step 0."""
    import jax.numpy as jnp


    files = {}
    for name in ("dvae", "factor_dvae"):
        config = Config(**REGISTRY[name].config_fields(gamma=30.0))
        ts = init_train_state(build_model(config, 1), jnp.zeros((1, 64, 64, 1), jnp.float32))
        files[name] = save_checkpoint(folder / f"{name}.pkl", checkpoint_payload(config, ts))
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", default="7d6863a", help="a git revision to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--end_to_end", action="store_true",
                        help="time checkpoints.restore.load_model (read, check, build the model, restore its "
                             "parameters: what every entry point does before its first work) instead of "
                             "load_checkpoint alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_checkpoints(Path(tmp))
        versions = {"this tree": ROOT, args.against: extract(args.against, Path(tmp))}
        for name, path in files.items():
            runs = alternate(versions, args.rounds,
                             lambda version, folder, path=path: run_in(folder, DRIVER, str(path), str(args.repeats),
                                                            str(int(args.end_to_end))))
            times = {v: [t for run in r for t in run["seconds"]] for v, r in runs.items()}
            digests = {v: r[-1]["sha256"] for v, r in runs.items()}
            size = path.stat().st_size / 2**20
            report(times, digests, lambda version, median, values, ratio, name=name, size=size, digests=digests: (
                f"{name:12s} {size:5.1f} MiB  {version:10s} median {1000 * median:6.1f} ms per load "
                f"(min {1000 * min(values):.1f}); x{ratio:.2f} this tree's time; content {digests[version]}"))


if __name__ == "__main__":
    main()
