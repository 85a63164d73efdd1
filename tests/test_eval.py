"""eval.py: JSON results, all metrics, st_gap only for discrete models, index cache = plain path,
one-line errors, training MIG = eval MIG (wiring), eval MIG by hand."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from eval_fixtures import make_checkpoint, small_data

import eval as ev
import metrics
from checkpoints.checkpoint import load_checkpoint, save_checkpoint
from checkpoints.restore import load_model
from evaluation.evaluate import EvalOptions, evaluate_checkpoint
from evaluation.index_cache import CachedRepresentation, IndexedData, supports_index_cache
from evaluation.protocol import result_path

ROOT = Path(__file__).resolve().parents[1]
SMALL_GAP = {"st_gap": {"num_batches": 3, "batch_size": 16}}
SIX = ["mig", "modularity", "sap_score", "factor_vae_metric", "beta_vae_sklearn", "dci_disentanglement"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return small_data(tmp_path_factory.mktemp("evaldata"))


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("ckpts")
    return {"dvae": make_checkpoint(folder, data, perturb=3.0),
            "vae": make_checkpoint(folder, data, perturb=3.0, gaussian=True)}


# Small but non-trivial samples for the cache-vs-plain comparison (the plain path encodes
# every drawn observation).
SMALL = {"mig": {"num_train": 500}, "modularity": {"num_train": 500, "num_test": 200},
         "sap": {"num_train": 500, "num_test": 200},
         "factor_vae": {"num_train": 40, "num_eval": 30, "num_variance_estimate": 500},
         "beta_vae": {"num_train": 40, "num_eval": 30},
         "dci": {"num_train": 300, "num_test": 100},
         "elbo": {"num_batches": 2, "batch_size": 16}}


@pytest.fixture(scope="module")
def evaluated(checkpoints, data):
    """evaluate_checkpoint (all six metrics + gap, reduced settings) of both checkpoints."""
    settings = {**SMALL, **SMALL_GAP}
    return {name: evaluate_checkpoint(path, EvalOptions(settings=settings, progress=False), data=data)
            for name, path in checkpoints.items()}


def test_json_has_everything(evaluated, checkpoints):
    discrete = json.loads(result_path(checkpoints["dvae"]).read_text())
    gaussian = json.loads(result_path(checkpoints["vae"]).read_text())
    assert result_path(checkpoints["dvae"]).name == "dsprites_procedural_seed1.eval.json"
    for result in (discrete, gaussian):
        for key in SIX + ["dci_completeness", "dci_informativeness_train", "dci_informativeness_test",
                          "factor_vae_train_accuracy", "factor_vae_num_active_dims", "beta_vae_train_accuracy"]:
            assert isinstance(result["results"][key], (int, float)), key
        for name in metrics.METRIC_NAMES:
            assert result["times"][name] >= 0
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


def test_cache_equals_plain(evaluated, checkpoints, data):
    cached = evaluated["dvae"]
    assert cached["index_cache"]["used"] and cached["index_cache"]["images_encoded"] <= data.images.shape[0]
    plain = evaluate_checkpoint(
        checkpoints["dvae"],
        EvalOptions(settings=SMALL, progress=False, use_cache=False, write=False, metrics=list(metrics.METRIC_NAMES)),
        data=data,
    )
    assert not plain["index_cache"]["used"]
    # The cached run started DCI early on its planned draws; the plain one ran it in turn.
    assert cached["dci_early"] and not plain["dci_early"]
    assert {k: v for k, v in cached["results"].items() if not k.startswith(("st_", "elbo"))} == plain["results"]
    # The comparison is not vacuous: the codes vary and FactorVAE has active codes.
    assert cached["results"]["factor_vae_num_active_dims"] > 0
    assert cached["results"]["mig"] > 0 and 0 < cached["results"]["beta_vae_sklearn"] < 1


def test_main_glob_table(checkpoints, data, capsys):
    folder = checkpoints["dvae"].parent
    rc = ev.main(
        [
            "--save_file",
            str(folder / "*.pkl"),
            "--metrics",
            "mig,st_gap",
            "--no_progress",
            "--settings",
            json.dumps({"mig": {"num_train": 200}, **SMALL_GAP}),
        ],
        data=data,
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert out.count("wrote ") == 2 and "st_gap" in out and "not defined for Gaussian models" in out
    result = json.loads(result_path(checkpoints["dvae"]).read_text())
    assert result["metrics"] == ["mig", "st_gap"] and set(result["results"]) == {
        "mig",
        "st_gap",
        "st_loss_hard",
        "st_loss_soft",
    }


def test_a_file_whose_name_looks_like_a_pattern_is_that_file(checkpoints, data, tmp_path, capsys):
    """`run[1].pkl` exists: it is evaluated, not read as the pattern matching `run1.pkl`."""
    from checkpoints.checkpoint import expand_checkpoint_paths

    named = tmp_path / "run[1].pkl"
    named.write_bytes(checkpoints["dvae"].read_bytes())
    (tmp_path / "run1.pkl").write_bytes(b"another file the pattern would match")
    assert expand_checkpoint_paths([str(named)]) == [named]
    assert expand_checkpoint_paths([str(tmp_path / "run[12].pkl")]) == [tmp_path / "run1.pkl"]  # still a pattern
    rc = ev.main(["--save_file", str(named), "--metrics", "mig", "--no_progress", "--settings",
                  json.dumps({"mig": {"num_train": 200}})], data=data)
    assert rc == 0 and f"wrote {tmp_path / 'run[1].eval.json'}" in capsys.readouterr().out


def test_indexed_data_same_random_state_calls(data):
    assert supports_index_cache(data)
    indexed = IndexedData(data)
    a, b = np.random.RandomState(5), np.random.RandomState(5)
    factors, observations = data.sample(50, a)
    factors_i, indices = indexed.sample(50, b)
    np.testing.assert_array_equal(factors, factors_i)
    np.testing.assert_array_equal(observations, data.images[indices].astype(np.float32))
    assert a.randint(1 << 30) == b.randint(1 << 30)
    # The cache returns what the representation function returns for the images themselves.
    calls = []
    rep = lambda x: (calls.append(len(x)), x.reshape(len(x), -1)[:, :3].sum(-1, keepdims=True) * 2.0)[1]
    cache = CachedRepresentation(data, rep, encode_batch=100)
    np.testing.assert_array_equal(cache(indices), rep(observations))
    np.testing.assert_array_equal(cache(indices[::-1]), rep(observations[::-1]))
    assert sum(calls[:-2]) == len(np.unique(indices))  # each image once (the last 2 calls: by hand)


def test_random_observations_not_cached(data):
    class Coloured(type(data)):
        def _observations_from_pixels(self, pixels, random_state):
            return pixels * random_state.uniform(0.5, 1, [len(pixels), 1, 1, 1])

    coloured = Coloured.__new__(Coloured)
    assert not supports_index_cache(coloured)
    assert not supports_index_cache(object())
    with pytest.raises(ValueError, match="index cache"):
        IndexedData(coloured)


@pytest.mark.slow  # a 10,000-point MIG twice (~10 s); eval's MIG is checked by hand below
def test_wiring_training_mig_is_eval_mig(checkpoints, data):
    """Wiring: training and eval.py compute MIG on the same points with the same code (the
    value itself is checked in test_eval_mig_by_hand)."""
    from evaluation.training_mig import training_mig

    payload, config, _, model, params, state, params_disc = load_model(checkpoints["dvae"], data)

    class TS:
        pass

    ts = TS()
    ts.params, ts.state = params, state
    trained = training_mig(model, ts, data)["mig"]
    evaluated = evaluate_checkpoint(
        checkpoints["dvae"], EvalOptions(metrics=["mig"], seed=config.seed, progress=False, write=False), data=data
    )
    assert evaluated["results"]["mig"] == trained and evaluated["protocol"] == "paper"
    assert list(evaluated["results"]) == ["mig"]


def test_eval_mig_by_hand(checkpoints, monkeypatch):
    """eval.py's MIG of a representation whose MIG is known by construction (KnownMigRep:
    (H(f) - H(f // 2)) / H(f) from the factor values it was shown, about 1/2)."""
    from metrics_fixtures import KnownMigRep, SyntheticData

    data = SyntheticData(factor_sizes=(4, 3), latent=(0,))
    rep = KnownMigRep(data)
    monkeypatch.setattr("evaluation.evaluate.make_representation_function", lambda *args: rep)
    result = evaluate_checkpoint(
        checkpoints["dvae"],
        EvalOptions(metrics=["mig"], settings={"mig": {"num_train": 2000}}, progress=False, write=False),
        data=data,
    )
    assert sum(len(f) for f in rep.seen) == 2000
    assert result["results"]["mig"] == pytest.approx(rep.mig_by_hand(), abs=1e-12)
    assert 0.4 < result["results"]["mig"] < 0.6


def _error_line(capsys, argv, data=None):
    rc = ev.main(argv, data=data)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


def test_errors_are_one_line(tmp_path, capsys, checkpoints, data, monkeypatch):
    assert "no checkpoint at" in _error_line(capsys, ["--save_file", str(tmp_path / "missing.pkl")])
    assert "no file matches" in _error_line(capsys, ["--save_file", str(tmp_path / "*.pkl")])
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"not a pickle at all")
    assert "junk.pkl" in _error_line(capsys, ["--save_file", str(junk)])
    assert "unknown metric" in _error_line(capsys, ["--save_file", str(checkpoints["dvae"]), "--metrics", "mig,irs"])
    assert "--settings" in _error_line(capsys, ["--save_file", str(checkpoints["dvae"]), "--settings", "{oops"])
    # A checkpoint of a data set whose files are missing: the error names the path tried.
    # (dSprites: one channel like the checkpoint's model, so its parameters pass the model check.)
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    payload = load_checkpoint(checkpoints["dvae"])
    payload["config"] = {**payload["config"], "dataset": "dsprites_full"}
    other = save_checkpoint(tmp_path / "dsprites_full_seed1.pkl", {**payload, "dataset": "dsprites_full"})
    err = _error_line(capsys, ["--save_file", str(other), "--metrics", "mig"])
    assert str(tmp_path / "dsprites" / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz") in err
    # A 3-channel data set's config on this 1-channel model: refused by the model check, before
    # any data is looked for.
    payload["config"] = {**payload["config"], "dataset": "mpi3d_toy"}
    other = save_checkpoint(tmp_path / "mpi3d_toy_seed1.pkl", {**payload, "dataset": "mpi3d_toy"})
    err = _error_line(capsys, ["--save_file", str(other), "--metrics", "mig"])
    assert "params/dec_deconv3/b: a float32 array of shape (1,), the model expects a float32 array of shape (3,)" in err


def test_command_line_error(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "eval.py"), "--save_file", str(tmp_path / "x.pkl")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: no checkpoint at {tmp_path / 'x.pkl'}"


# -- reliability -----------------------------------------------------------------------------
def test_settings_keywords_checked_before_any_work(capsys, checkpoints, monkeypatch):
    monkeypatch.setattr("evaluation.evaluate.load_model", lambda *a, **k: pytest.fail("loaded a checkpoint"))
    for settings, message in [
        ({"dci": {"num_trian": 100}}, "dci has no keyword(s) ['num_trian']"),
        ({"st_gap": {"seed": 3}}, "st_gap has no keyword(s) ['seed']"),
        ({"sap": {"progress": True}}, "sap has no keyword(s) ['progress']"),
    ]:
        err = _error_line(capsys, ["--save_file", str(checkpoints["dvae"]), "--settings", json.dumps(settings)])
        assert message in err and "valid:" in err
    assert "num_train" in metrics.setting_keywords("dci") and "booster" in metrics.setting_keywords("dci")


def test_a_bug_surfaces_with_its_traceback(checkpoints, data, monkeypatch):
    """A TypeError inside a metric is a bug, not 'a bad keyword in --settings'."""

    def broken(*args, **kwargs):
        raise TypeError("a real bug deep inside")

    monkeypatch.setitem(metrics._COMPUTE, "mig", broken)
    with pytest.raises(TypeError, match="a real bug deep inside"):
        ev.main(["--save_file", str(checkpoints["dvae"]), "--metrics", "mig", "--no_progress"], data=data)


@pytest.mark.parametrize("where", ["metric", "gap", "early_dci"])
def test_no_thread_outlives_a_failed_evaluation(checkpoints, data, monkeypatch, where):
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
        def fails_on_real_codes(data, representation_function, *args, **kwargs):  # the plan still runs
            if isinstance(representation_function, early_dci.StandInCodes):
                return real(data, representation_function, *args, **kwargs)
            fail()

        monkeypatch.setitem(metrics._COMPUTE, "beta_vae", fails_on_real_codes)
    if where == "gap":
        monkeypatch.setattr("metrics.st_gap._batch_losses", fail)
    with pytest.raises(RuntimeError, match=f"failure in {where}"):
        evaluate_checkpoint(
            checkpoints["dvae"],
            EvalOptions(settings={**SMALL, **SMALL_GAP}, progress=False, write=False),
            data=data,
            log=lambda *a: None,
        )
    assert started.get("dci")
    assert [t.name for t in threading.enumerate() if t.name in ("st-gap", "early-dci")] == []


@pytest.mark.slow  # three evaluations (~22 s)
def test_no_overlap_and_a_subset_with_dci_give_the_same_numbers(checkpoints, data):
    settings = {**SMALL, **SMALL_GAP}
    overlapped = evaluate_checkpoint(
        checkpoints["dvae"], EvalOptions(settings=settings, progress=False, write=False), data=data, log=lambda *a: None
    )
    one_by_one = evaluate_checkpoint(
        checkpoints["dvae"],
        EvalOptions(settings=settings, progress=False, write=False, overlap=False, early_dci=False),
        data=data,
        log=lambda *a: None,
    )
    assert overlapped["dci_early"] and overlapped["st_gap_overlapped"]
    assert not one_by_one["dci_early"] and not one_by_one["st_gap_overlapped"]
    assert one_by_one["results"] == overlapped["results"]
    # A subset that includes DCI: DCI starts from where MIG alone leaves the RandomState.
    subset = evaluate_checkpoint(
        checkpoints["dvae"],
        EvalOptions(settings=settings, progress=False, write=False, metrics=["mig", "dci"]),
        data=data,
        log=lambda *a: None,
    )
    assert subset["dci_early"] and subset["results"]["mig"] == overlapped["results"]["mig"]
    from evaluation.index_cache import IndexedData, index_settings
    from metrics import evaluate_all
    from models.representation import make_representation_function

    _, _, _, model, params, state, _ = load_model(checkpoints["dvae"], data)
    cache = CachedRepresentation(data, make_representation_function(model, params, state))
    direct = evaluate_all(
        IndexedData(data),
        cache,
        np.random.RandomState(42),
        metrics=["mig", "dci"],
        settings=index_settings(SMALL, ["mig", "dci"]),
    )
    assert subset["results"]["dci_disentanglement"] == direct["dci_disentanglement"]
