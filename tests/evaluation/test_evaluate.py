"""Evaluating a checkpoint (evaluation/evaluate.py): JSON results, all metrics, st_gap only for
discrete models, index cache = plain path, eval MIG by hand, no thread outliving a failure, the
same numbers without overlap (the command line: tests/test_eval.py)."""
import json

import numpy as np
import pytest

import metrics
from checkpoints.restore import load_model
from evaluation.codes_record import codes_path, read_codes_record
from evaluation.evaluate import EvalOptions, evaluate_checkpoint
from evaluation.index_cache import CachedRepresentation
from evaluation.protocol import result_path
from evaluation.rescore import scores_from_record

SMALL_GAP = {"st_gap": {"num_batches": 3, "batch_size": 16}}
SIX = ["mig", "modularity", "sap_score", "factor_vae_metric", "beta_vae_sklearn", "dci_disentanglement"]


# Small but non-trivial samples for the cache-vs-plain comparison (the plain path encodes
# every drawn observation).
SMALL = {"mig": {"num_train": 500}, "modularity": {"num_train": 500, "num_test": 200},
         "sap": {"num_train": 500, "num_test": 200},
         "factor_vae": {"num_train": 40, "num_eval": 30, "num_variance_estimate": 500},
         "beta_vae": {"num_train": 40, "num_eval": 30},
         "dci": {"num_train": 300, "num_test": 100},
         "elbo": {"num_batches": 2, "batch_size": 16},
         "infomec": {"num_points": 400}}


@pytest.fixture(scope="module")
def evaluated(eval_checkpoints, eval_data):
    """evaluate_checkpoint (all six metrics + gap, reduced settings) of both checkpoints."""
    settings = {**SMALL, **SMALL_GAP}
    return {name: evaluate_checkpoint(path, EvalOptions(settings=settings, progress=False), data=eval_data)
            for name, path in eval_checkpoints.items()}


def test_json_has_everything(evaluated, eval_checkpoints):
    discrete = json.loads(result_path(eval_checkpoints["dvae"]).read_text())
    gaussian = json.loads(result_path(eval_checkpoints["vae"]).read_text())
    assert result_path(eval_checkpoints["dvae"]).name == "dsprites_procedural_seed1.eval.json"
    for result in (discrete, gaussian):
        for key in SIX + ["dci_completeness", "dci_informativeness_train", "dci_informativeness_test",
                          "factor_vae_train_accuracy", "factor_vae_num_active_dims", "beta_vae_train_accuracy"]:
            assert isinstance(result["results"][key], (int, float)), key
        for name in metrics.METRIC_NAMES:  # seconds of each metric's own run, inside the whole evaluation's
            assert 0 < result["times"][name] <= result["times"]["total"], name
        assert result["dataset"] == "dsprites_procedural" and result["step"] == 0
        assert result["seed"] == 1 and result["eval_seed"] == 42 and result["protocol"] == "custom"
        assert result["settings"]["mig"] == {"num_train": 500}
        assert result["solvers"]["matches"].startswith("scikit-learn 1.2.2")
        assert "dual=True" in result["solvers"]["sap"] and "1e-4/n_train" in result["solvers"]["beta_vae"]
        assert result["machine"]["backend"] == "cpu" and result["machine"]["cores"] >= 1
    assert discrete["model"] == "dvae" and gaussian["model"] == "vae"
    assert discrete["results"]["st_gap"] > 0 and "st_loss_hard" in discrete["results"]
    assert discrete["settings"]["st_gap"] == {"num_batches": 3, "batch_size": 16}
    # A Gaussian model has no gap at all (not 0).
    assert not any(k.startswith("st_") for k in gaussian["results"]) and "st_gap" not in gaussian["times"]
    # Round trip: the file is the returned dict.
    for name, on_disk in (("dvae", discrete), ("vae", gaussian)):
        returned = {k: v for k, v in evaluated[name].items() if k != "json"}
        assert on_disk == json.loads(json.dumps(returned))


def test_cache_equals_plain(evaluated, eval_checkpoints, eval_data):
    cached = evaluated["dvae"]
    assert cached["index_cache"]["used"] and cached["index_cache"]["images_encoded"] <= eval_data.images.shape[0]
    plain = evaluate_checkpoint(
        eval_checkpoints["dvae"],
        EvalOptions(settings=SMALL, progress=False, use_cache=False, write=False, metrics=list(metrics.METRIC_NAMES)),
        data=eval_data,
    )
    assert not plain["index_cache"]["used"]
    # The cached run started DCI early on its planned draws; the plain one ran it in turn.
    assert cached["dci_early"] and not plain["dci_early"]
    six = {k: v for k, v in cached["results"].items() if not k.startswith(("st_", "elbo", "info", "codes_record"))}
    assert six == plain["results"]
    # The comparison is not vacuous: the codes vary and FactorVAE has active codes.
    assert cached["results"]["factor_vae_num_active_dims"] > 0
    assert cached["results"]["mig"] > 0 and 0 < cached["results"]["beta_vae_sklearn"] < 1


def test_eval_mig_by_hand(eval_checkpoints, monkeypatch):
    """eval.py's MIG of a representation whose MIG is known by construction (KnownMigRep:
    (H(f) - H(f // 2)) / H(f) from the factor values it was shown, about 1/2)."""
    from tests.metrics_fixtures import KnownMigRep, SyntheticData

    eval_data = SyntheticData(factor_sizes=(4, 3), latent=(0,))
    rep = KnownMigRep(eval_data)
    monkeypatch.setattr("evaluation.evaluate.make_representation_function", lambda *args: rep)
    result = evaluate_checkpoint(
        eval_checkpoints["dvae"],
        EvalOptions(metrics=["mig"], settings={"mig": {"num_train": 2000}}, progress=False, write=False),
        data=eval_data,
    )
    assert sum(len(f) for f in rep.seen) == 2000
    assert result["results"]["mig"] == pytest.approx(rep.mig_by_hand(), abs=1e-12)
    assert 0.4 < result["results"]["mig"] < 0.6


@pytest.mark.parametrize("where", ["metric", "gap", "early_dci"])
def test_no_thread_outlives_a_failed_evaluation(eval_checkpoints, eval_data, monkeypatch, where):
    import threading
    import time as time_lib

    from evaluation import early_dci

    started = {}

    def fail(*args, **kwargs):
        raise RuntimeError(f"failure in {where}")

    def slow_dci(*args, **kwargs):  # the early DCI thread still busy when a metric fails
        started["dci"] = True
        time_lib.sleep(1.0)
        return fail() if where == "early_dci" else original(*args, **kwargs)

    original = early_dci.dci.dci_from_codes
    monkeypatch.setattr(early_dci.dci, "dci_from_codes", slow_dci)
    if where == "metric":
        import functools

        real = metrics._COMPUTE["beta_vae"]

        @functools.wraps(real)
        def fails_on_real_codes(eval_data, representation_function, *args, **kwargs):  # the plan still runs
            if isinstance(representation_function, early_dci.StandInCodes):
                return real(eval_data, representation_function, *args, **kwargs)
            fail()

        monkeypatch.setitem(metrics._COMPUTE, "beta_vae", fails_on_real_codes)
    if where == "gap":
        monkeypatch.setattr("metrics.st_gap._batch_losses", fail)
    with pytest.raises(RuntimeError, match=f"failure in {where}"):
        evaluate_checkpoint(
            eval_checkpoints["dvae"],
            EvalOptions(settings={**SMALL, **SMALL_GAP}, progress=False, write=False),
            data=eval_data,
            log=lambda *a: None,
        )
    assert started.get("dci")
    assert [t.name for t in threading.enumerate() if t.name in ("st-gap", "early-dci")] == []


@pytest.mark.slow  # three evaluations (~22 s)
def test_no_overlap_and_a_subset_with_dci_give_the_same_numbers(eval_checkpoints, eval_data):
    settings = {**SMALL, **SMALL_GAP}
    overlapped = evaluate_checkpoint(
        eval_checkpoints["dvae"], EvalOptions(settings=settings, progress=False, write=False), data=eval_data,
        log=lambda *a: None,
    )
    one_by_one = evaluate_checkpoint(
        eval_checkpoints["dvae"],
        EvalOptions(settings=settings, progress=False, write=False, overlap=False, early_dci=False),
        data=eval_data,
        log=lambda *a: None,
    )
    assert overlapped["dci_early"] and overlapped["st_gap_overlapped"]
    assert not one_by_one["dci_early"] and not one_by_one["st_gap_overlapped"]
    assert one_by_one["results"] == overlapped["results"]
    # A subset that includes DCI: DCI starts from where MIG alone leaves the RandomState.
    subset = evaluate_checkpoint(
        eval_checkpoints["dvae"],
        EvalOptions(settings=settings, progress=False, write=False, metrics=["mig", "dci"]),
        data=eval_data,
        log=lambda *a: None,
    )
    assert subset["dci_early"] and subset["results"]["mig"] == overlapped["results"]["mig"]
    from evaluation.index_cache import IndexedData, index_settings
    from metrics import evaluate_all
    from models.representation import make_representation_function

    _, _, _, model, params, state, _ = load_model(eval_checkpoints["dvae"], eval_data)
    cache = CachedRepresentation(eval_data, make_representation_function(model, params, state))
    direct = evaluate_all(
        IndexedData(eval_data),
        cache,
        np.random.RandomState(42),
        metrics=["mig", "dci"],
        settings=index_settings(SMALL, ["mig", "dci"]),
    )
    assert subset["results"]["dci_disentanglement"] == direct["dci_disentanglement"]


def test_infomec_leaves_the_six_metrics_alone_and_its_record_rescores_to_it(evaluated, eval_checkpoints, eval_data):
    """InfoMEC draws its own sample after the six: they give the same numbers with it as without
    it; the codes record it writes rescores (no checkpoint) to the JSON's InfoMEC."""
    with_infomec = evaluated["dvae"]["results"]
    options = EvalOptions(settings=SMALL, progress=False, write=False, metrics=list(metrics.METRIC_NAMES))
    without = evaluate_checkpoint(eval_checkpoints["dvae"], options, data=eval_data)
    assert {k: with_infomec[k] for k in without["results"]} == without["results"]
    record = read_codes_record(codes_path(eval_checkpoints["dvae"]))
    assert record["codes"].shape == (400, 10) and record["argmax_codes"].shape == (400, 10)
    assert record["header"]["discrete"] is False and record["header"]["factor_sizes"] == eval_data.factors_num_values
    rescored = scores_from_record(record)
    for key in ("infom", "infoe", "infoc", "infom_argmax", "infoe_argmax", "infoc_argmax"):
        assert rescored[key] == with_infomec[key], key
    # Each latent's argmax codes are values of that latent's codebook (the checkpoint's, perturbed).
    loaded = load_model(eval_checkpoints["dvae"], eval_data)
    codebook = np.asarray(loaded.params["codebook"]["embed"])[..., 0]   # [N, K]
    assert all(np.isin(record["argmax_codes"][:, n], codebook[n]).all() for n in range(10))
    assert len(np.unique(record["argmax_codes"])) > 10
    # A Gaussian latent has no argmax codes.
    gaussian = evaluated["vae"]["results"]
    assert "infom" in gaussian and "infom_argmax" not in gaussian
    assert read_codes_record(codes_path(eval_checkpoints["vae"]))["argmax_codes"] is None
