"""For the tests of sweeps/ and scripts/sweep.py: a sweep file's values, and real checkpoints and
eval JSON files standing in for finished or interrupted runs."""
import functools
import json

from checkpoints import checkpoint


def sweep_values(**changes):
    values = {"datasets": ["dsprites_procedural"], "models": ["vae", "dvae", "factor_dvae"],
              "gammas": [10, 20], "seeds": [1, 2], "base": {"steps": 30, "batch_size": 8}}
    values.update(changes)
    return values


@functools.lru_cache(maxsize=None)
def _initial_state(config):
    import jax.numpy as jnp

    from models import build_model
    from training.step import init_train_state
    return init_train_state(build_model(config, 1), jnp.zeros((1, 64, 64, 1), jnp.float32))


def fake_checkpoint(run, step):
    """A real (freshly initialised) checkpoint of the run's model, stored as if at `step`."""
    from training.resume import checkpoint_payload
    payload = checkpoint_payload(run.config, _initial_state(run.config.replace(seed=0, save_path="")))
    checkpoint.save_checkpoint(run.checkpoint, {**payload, "step": step})


def fake_eval_json(run, step):
    """The fields evaluate_checkpoint records about how it evaluated, for the paper's protocol."""
    from evaluation.protocol import METRIC_CHOICES
    run.eval_json.write_text(json.dumps({"step": step, "protocol": "paper", "eval_seed": 42, "results": {},
                                         "metrics": list(METRIC_CHOICES),
                                         "settings": {"st_gap": {"num_batches": 100, "batch_size": 64}}}))
