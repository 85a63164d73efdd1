"""Training-time MIG (evaluation/training_mig.py): by hand on a representation whose MIG is known,
and the same number as eval.py's MIG (wiring)."""
import pytest

from checkpoints.restore import load_model
from evaluation.evaluate import EvalOptions, evaluate_checkpoint


@pytest.mark.slow  # a 10,000-point MIG twice (~10 s); eval's MIG: by hand in test_evaluate.py
def test_wiring_training_mig_is_eval_mig(eval_checkpoints, eval_data):
    """Wiring: training and eval.py compute MIG on the same points with the same code (the
    value itself is checked in test_eval_mig_by_hand)."""
    from evaluation.training_mig import training_mig

    payload, config, _, model, params, state, params_disc = load_model(eval_checkpoints["dvae"], eval_data)

    class TS:
        pass

    ts = TS()
    ts.params, ts.state = params, state
    trained = training_mig(model, ts, eval_data)["mig"]
    evaluated = evaluate_checkpoint(
        eval_checkpoints["dvae"], EvalOptions(metrics=["mig"], seed=config.seed, progress=False, write=False),
        data=eval_data,
    )
    assert evaluated["results"]["mig"] == trained and evaluated["protocol"] == "paper"
    assert list(evaluated["results"]) == ["mig"]


def test_training_mig_by_hand(monkeypatch):
    """training_mig on a representation whose MIG is known by construction (KnownMigRep:
    (H(f) - H(f // 2)) / H(f) from the factor values it was shown, about 1/2), on 10,000
    points: the value training logs is MIG, not just whatever compute_mig returns."""
    import types

    import evaluation.training_mig as train_mig
    from tests.metrics_fixtures import KnownMigRep, SyntheticData
    eval_data = SyntheticData(factor_sizes=(4, 3), latent=(0,))
    rep = KnownMigRep(eval_data)
    monkeypatch.setattr(train_mig, "make_representation_function", lambda *args: rep)
    model = types.SimpleNamespace(config=types.SimpleNamespace(seed=3))
    ts = types.SimpleNamespace(params=None, state=None)
    value = train_mig.training_mig(model, ts, eval_data)["mig"]
    assert sum(len(f) for f in rep.seen) == 10_000
    assert value == pytest.approx(rep.mig_by_hand(), abs=1e-12)
    assert 0.45 < value < 0.55  # ln 2 / ln 4 for uniform counts
