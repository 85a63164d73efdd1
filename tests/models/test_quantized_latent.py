"""QLAE, the registry's fifth model (models/quantized_latent.py, docs/design.md §11): the
quantization by hand, its gradients, the loss and the optimiser's two groups against hand
computations, its defaults and flags, exact resume, the NaN stop, the reconstruction score on
the ELBO's images, UDR without the KL filter, and traversals over its own codebook values."""
import json

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import configs
import run
from configs import Config
from models import build_model, losses, objectives, quantized_latent
from training.step import init_train_state, optimizers, qlae_optimizer, weight_labels

# -- the latent -----------------------------------------------------------------------------
# Two latents with five values each, deliberately unsorted: the nearest value, not a position.
VALUES = np.array([[-1.0, 0.0, 1.0, 2.0, 3.0], [0.5, -0.5, 0.1, 0.2, 0.3]], np.float32)
Z = np.array([[0.4, 0.14], [2.6, -10.0], [0.5, 0.27]], np.float32)
# Nearest by hand: 0.4 -> 0 (0.4 vs 0.6 to 1); 2.6 -> 3; 0.5 -> 0 (equally near 0 and 1: the
# first); 0.14 -> 0.1; -10 -> -0.5; 0.27 -> 0.3.
NEAREST = np.array([[0.0, 0.1], [3.0, -0.5], [0.0, 0.3]], np.float32)

quantize = hk.without_apply_rng(hk.transform(lambda z: quantized_latent.Quantizer(2, 5)(z)))
PARAMS = {"quantizer": {"values": jnp.asarray(VALUES)}}


def test_codebook_starts_at_linspace_for_every_latent():
    params = quantize.init(None, jnp.asarray(Z))
    np.testing.assert_array_equal(params["quantizer"]["values"],
                                  np.tile(np.linspace(-0.5, 0.5, 5, dtype=np.float32), (2, 1)))


def test_nearest_codebook_value_by_hand():
    decoded, quantized = quantize.apply(PARAMS, jnp.asarray(Z))
    np.testing.assert_array_equal(quantized, NEAREST)
    np.testing.assert_allclose(decoded, NEAREST, atol=1e-6)   # z + (q - z): q up to rounding


def test_straight_through_gradient_is_the_identity_in_z_and_zero_for_the_codebook():
    weights = jnp.asarray(np.arange(6, dtype=np.float32).reshape(3, 2) + 1.0)

    def decoded_sum(params, z):
        return jnp.sum(weights * quantize.apply(params, z)[0])

    grad_params, grad_z = jax.grad(decoded_sum, argnums=(0, 1))(PARAMS, jnp.asarray(Z))
    np.testing.assert_array_equal(grad_z, weights)
    np.testing.assert_array_equal(grad_params["quantizer"]["values"], np.zeros_like(VALUES))


def test_quantization_loss_moves_only_the_codebook_and_commitment_only_the_encoder():
    z, q = jnp.asarray(Z), jnp.asarray(NEAREST)
    dz, dq = jax.grad(lambda z, q: losses.quantization_loss(z, q).sum(), argnums=(0, 1))(z, q)
    np.testing.assert_array_equal(dz, 0.0)
    np.testing.assert_allclose(dq, -2 * (Z - NEAREST) / 2, rtol=1e-6)       # mean over N = 2
    dz, dq = jax.grad(lambda z, q: losses.commitment_loss(z, q).sum(), argnums=(0, 1))(z, q)
    np.testing.assert_allclose(dz, 2 * (Z - NEAREST) / 2, rtol=1e-6)
    np.testing.assert_array_equal(dq, 0.0)


def _bce(logits, x):
    return np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))


def test_loss_by_hand_on_a_tiny_example():
    rs = np.random.RandomState(0)
    logits = rs.normal(size=(2, 2, 2, 1)).astype(np.float32)
    images = np.array([0.0, 0.5, 1.0, 1.0, 0.0, 0.25, 1.0, 0.0], np.float32).reshape(2, 2, 2, 1)
    z = np.array([[0.3, -0.2, 0.9], [0.05, 0.5, -0.7]], np.float32)
    q = np.array([[0.25, -0.25, 0.5], [0.0, 0.5, -0.5]], np.float32)
    # Different weights, so that the two terms (equal in value) are told apart.
    config = Config(quantized=True, quantization_weight=0.02, commitment_weight=0.5)
    outputs = {"recon_logits": jnp.asarray(logits), "posterior": jnp.asarray(z), "representation": jnp.asarray(q)}
    per_example, terms = objectives.qlae_loss(outputs, jnp.asarray(images), config)
    bce = _bce(logits.astype(np.float64), images).reshape(2, -1).mean(axis=1)       # mean over the 4 pixels
    squared = ((z - q).astype(np.float64) ** 2).mean(axis=1)                        # mean over the 3 latents
    np.testing.assert_allclose(per_example, bce + 0.02 * squared + 0.5 * squared, rtol=1e-6)
    np.testing.assert_allclose([terms["bce"], terms["quantization"], terms["commitment"]],
                               [bce.mean(), squared.mean(), squared.mean()], rtol=1e-6)
    assert set(terms) == {"bce", "quantization", "commitment"}
    # The two terms are equal in value; their gradients tell the weights apart: the commitment
    # weight moves z (the encoder), the quantization weight moves q (the codebook).

    def total(z, q):
        outs = {**outputs, "posterior": z, "representation": q}
        return objectives.qlae_loss(outs, jnp.asarray(images), config)[0].sum()

    dz, dq = jax.grad(total, argnums=(0, 1))(jnp.asarray(z), jnp.asarray(q))
    np.testing.assert_allclose(dz, 0.5 * 2 * (z - q) / 3, rtol=1e-5)
    np.testing.assert_allclose(dq, 0.02 * -2 * (z - q) / 3, rtol=1e-5)


# -- the optimiser --------------------------------------------------------------------------
def _adam(grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    """The updates of Adam's steps 1..T for a gradient sequence, in float64."""
    m = v = 0.0
    updates = []
    for t, g in enumerate(grads, start=1):
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        updates.append(-lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps))
    return updates


def test_optimiser_groups_by_a_two_step_update_by_hand():
    """Weights: element-wise clip, then AdamW (decay on the weights); biases and codebook values:
    plain Adam. Two steps, so that the clipping shows (Adam's first step only sees the sign)."""
    params = {"enc_mlp": {"w": np.array([[0.5, -1.0], [2.0, 0.25]]), "b": np.array([0.3, -0.4])},
              "quantizer": {"values": np.array([[-0.5, 0.0, 0.5]])}}
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), params)
    assert weight_labels(params) == {"enc_mlp": {"w": "weights", "b": "unregularised"},
                                     "quantizer": {"values": "unregularised"}}
    g1 = {"enc_mlp": {"w": np.array([[5.0, -0.5], [-3.0, 0.2]]), "b": np.array([4.0, -6.0])},
          "quantizer": {"values": np.array([[2.5, -0.1, 7.0]])}}
    g2 = jax.tree_util.tree_map(lambda g: -0.3 * g + 0.1, g1)
    config = Config(quantized=True, learning_rate=0.01, weight_decay=0.1, gradient_clip=1.0)
    optimizer = qlae_optimizer(config)
    state, current = optimizer.init(params), params
    for g in (g1, g2):
        updates, state = optimizer.update(jax.tree_util.tree_map(jnp.float32, g), state, current)
        current = optax.apply_updates(current, updates)

    w0 = np.asarray(params["enc_mlp"]["w"], np.float64)
    clipped = [np.clip(g["enc_mlp"]["w"], -1.0, 1.0) for g in (g1, g2)]
    a1, a2 = _adam(clipped, 1.0)                        # AdamW: -lr * (adam direction + decay * w)
    w1 = w0 + 0.01 * a1 - 0.01 * 0.1 * w0
    w2 = w1 + 0.01 * a2 - 0.01 * 0.1 * w1
    np.testing.assert_allclose(current["enc_mlp"]["w"], w2, rtol=1e-5)
    for module, name in (("enc_mlp", "b"), ("quantizer", "values")):   # unclipped, undecayed
        start = np.asarray(params[module][name], np.float64)
        expected = start + sum(_adam([g1[module][name], g2[module][name]], 0.01))
        np.testing.assert_allclose(current[module][name], expected, rtol=1e-5)
    # The test can tell: without the clip or with the decay on the biases the numbers differ.
    unclipped = w0 + 0.01 * sum(_adam([g["enc_mlp"]["w"] for g in (g1, g2)], 1.0))
    assert not np.allclose(current["enc_mlp"]["w"], unclipped, rtol=1e-3)


def test_qlae_uses_its_optimiser_and_the_others_adam():
    params = {"enc_mlp": {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}}
    grads = {"enc_mlp": {"w": jnp.full((2, 2), 5.0), "b": jnp.full(2, 5.0)}}
    qlae, _ = optimizers(configs.from_dict({"quantized": True}))
    dvae, _ = optimizers(Config())
    first = qlae.update(grads, qlae.init(params), params)[0]
    # Decay on w only: the weights' step is larger than the biases' by lr * 0.1 * 1.
    np.testing.assert_allclose(first["enc_mlp"]["w"] - first["enc_mlp"]["b"][0], -1e-3 * 0.1, rtol=1e-4)
    second = dvae.update(grads, dvae.init(params), params)[0]
    np.testing.assert_allclose(second["enc_mlp"]["w"], second["enc_mlp"]["b"][0], rtol=0)


# -- configuration --------------------------------------------------------------------------
def parse(argv):
    return run.config_from_args(run.parse_args(argv))


def test_model_qlae_has_qlae_settings_and_the_protocol_defaults():
    config = parse(["--model", "qlae"])
    assert config.model_name == "qlae" and config.quantized and not (config.gaussian or config.tc)
    assert (config.learning_rate, config.weight_decay, config.quantization_weight, config.commitment_weight,
            config.num_values_per_latent, config.gradient_clip) == (1e-3, 0.1, 0.01, 0.01, 10, 1.0)
    assert (config.num_latents, config.batch_size, config.steps, config.log_every) == (10, 64, 300_000, 1_000)
    assert config.checkpoint_path().name == "dsprites_procedural_qlae_seed42.pkl"
    assert parse(["--quantized"]) == config
    # The paper's models keep theirs.
    assert parse(["--model", "dvae"]).learning_rate == 1e-4 == Config().learning_rate


def test_flags_and_config_files_override_qlae_defaults(tmp_path):
    flags = ("--model qlae --learning_rate 5e-4 --weight_decay 0 --quantization_weight 0.02 --commitment_weight 0.03 "
             "--num_values_per_latent 7 --gradient_clip 0.5").split()
    config = parse(flags)
    assert (config.learning_rate, config.weight_decay, config.quantization_weight, config.commitment_weight,
            config.num_values_per_latent, config.gradient_clip) == (5e-4, 0.0, 0.02, 0.03, 7, 0.5)
    file = tmp_path / "q.toml"
    file.write_text("quantized = true\nlearning_rate = 2e-3\nweight_decay = 0.2\n")
    from_file = parse(["--config", str(file)])
    assert (from_file.model_name, from_file.learning_rate, from_file.weight_decay) == ("qlae", 2e-3, 0.2)
    assert parse(["--config", str(file), "--learning_rate", "3e-3"]).learning_rate == 3e-3   # flags last
    # A file that leaves the learning rate out gets QLAE's, not the paper's.
    file.write_text("quantized = true\n")
    assert parse(["--config", str(file)]).learning_rate == 1e-3


@pytest.mark.parametrize("argv, message", [
    (["--weight_decay", "0.2"], "--weight_decay 0.2 has no effect without --quantized"),
    (["--model", "vae", "--num_values_per_latent", "5"], "--num_values_per_latent 5 has no effect without"),
    (["--quantized", "--gaussian"], "select no model"),
    (["--model", "qlae", "--tc", "--gamma", "3"], "--model qlae contradicts --tc"),
    (["--model", "dvae", "--quantized"], "--model dvae contradicts --quantized"),
    (["--model", "qlae", "--num_values_per_latent", "1"], "--num_values_per_latent must be at least 2"),
    (["--model", "qlae", "--gradient_clip", "0"], "--gradient_clip must be positive"),
    (["--model", "qlae", "--commitment_weight", "-1"], "--commitment_weight must be at least 0.0"),
])
def test_bad_qlae_settings_are_refused_in_one_line(argv, message, capsys):
    assert run.main(argv + ["--steps", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_configs_of_the_four_paper_models_are_unchanged():
    """Old checkpoints' configs (without QLAE's fields) load as before; the new fields are defaults."""
    stored = {k: v for k, v in Config(gaussian=True, tc=True, gamma=30.0).to_dict().items()
              if k not in ("quantized", *configs.QLAE_FIELDS)}
    config = configs.from_dict(stored)
    assert config == Config(gaussian=True, tc=True, gamma=30.0) and config.model_name == "factor_vae"
    assert config.learning_rate == 1e-4 and configs.ROLES["num_values_per_latent"] == configs.IDENTITY
    assert {configs.ROLES[k] for k in configs.QLAE_FIELDS if k != "num_values_per_latent"} == {configs.SCHEDULE}


# -- training -------------------------------------------------------------------------------
@pytest.fixture
def qlae_config(tiny_config):
    return configs.from_dict({**tiny_config.to_dict(), "quantized": True, "learning_rate": 1e-3})


def test_the_codebook_trains_and_the_log_has_qlae_losses(tiny_data, qlae_config):
    """(Resuming a QLAE run is bitwise identical: tests/training/test_loop.py.)"""
    from checkpoints.checkpoint import load_checkpoint
    from training.loop import train

    train(qlae_config, data=tiny_data, progress=False)
    payload = load_checkpoint(qlae_config.checkpoint_path())
    assert payload["model"] == "qlae" and payload["state"] == {} and payload["config"]["learning_rate"] == 1e-3
    values = payload["params"]["quantizer"]["values"]
    assert values.shape == (10, 10) and not np.allclose(values, np.linspace(-0.5, 0.5, 10))   # learned
    log = [json.loads(line) for line in qlae_config.checkpoint_path().with_name(
        qlae_config.run_name + ".log.jsonl").read_text().splitlines()]
    train_lines = [r for r in log if r.get("kind") == "train"]
    assert train_lines and all({"bce", "quantization", "commitment", "loss"} <= set(r) for r in train_lines)
    assert all(r["noise_scale"] == 0.0 and "kl" not in r for r in train_lines)


def test_nan_loss_stops_a_qlae_run(tiny_data, qlae_config):
    from tests.eval_fixtures import PoisonedData
    from training.loop import TrainingDiverged, train
    with pytest.raises(TrainingDiverged, match="non-finite loss"):
        train(qlae_config, data=PoisonedData(tiny_data), progress=False)


@pytest.mark.slow  # compiles the multi-seed step (minutes on 2 cores)
def test_several_seeds_in_one_process(tiny_data, qlae_config):
    from checkpoints.checkpoint import load_checkpoint
    from training.loop import train

    train(qlae_config.replace(seeds="1,2", steps=4), data=tiny_data, progress=False)
    single = train(qlae_config.replace(seed=2, steps=4, save_path=qlae_config.save_path + "/single"),
                   data=tiny_data, progress=False)
    stored = load_checkpoint(qlae_config.replace(seed=2).checkpoint_path())
    assert stored["model"] == "qlae" and stored["step"] == 4
    np.testing.assert_allclose(stored["params"]["quantizer"]["values"], single.params["quantizer"]["values"],
                               rtol=1e-5, atol=1e-6)


def test_codebook_gradient_comes_from_the_quantization_loss_only(tiny_data):
    """In the whole model: the reconstruction reaches the codebook through nothing (straight
    through), the commitment loss stops at it, so its gradient is quantization_weight times
    the quantization loss's, by hand."""
    config = configs.from_dict({"quantized": True, "batch_size": 8, "quantization_weight": 0.3})
    model = build_model(config, 1)
    x = jnp.asarray(tiny_data.images[:8].astype(np.float32))
    params = init_train_state(model, x).params
    grads = jax.grad(lambda p: model.loss(p, {}, None, jax.random.PRNGKey(0), x)[0])(params)
    outputs, _ = model.forward.apply(params, {}, jax.random.PRNGKey(0), x)
    z, values = np.asarray(outputs["posterior"], np.float64), np.asarray(params["quantizer"]["values"])
    index = np.argmin(np.abs(z[..., None] - values[None]), axis=-1)                  # [batch, N]
    expected = np.zeros_like(values, np.float64)
    for b in range(8):
        for n in range(10):   # d/dv of 0.3 * mean_b mean_n (z - v)^2
            expected[n, index[b, n]] += 0.3 * -2 * (z[b, n] - values[n, index[b, n]]) / (8 * 10)
    np.testing.assert_allclose(grads["quantizer"]["values"], expected, rtol=1e-4, atol=1e-9)
    assert np.abs(expected).max() > 0


# -- evaluation -----------------------------------------------------------------------------
SMALL = {"mig": {"num_train": 300}, "modularity": {"num_train": 300, "num_test": 100},
         "sap": {"num_train": 300, "num_test": 100},
         "factor_vae": {"num_train": 30, "num_eval": 20, "num_variance_estimate": 300},
         "beta_vae": {"num_train": 30, "num_eval": 20}, "dci": {"num_train": 200, "num_test": 100},
         "elbo": {"num_batches": 2, "batch_size": 16}, "reconstruction": {"num_batches": 2, "batch_size": 16},
         "st_gap": {"num_batches": 2, "batch_size": 16}, "infomec": {"num_points": 300}}
SIX = ["mig", "modularity", "sap_score", "factor_vae_metric", "beta_vae_sklearn", "dci_disentanglement"]


@pytest.fixture(scope="module")
def eval_checkpoints(tmp_path_factory, tiny_data):
    from tests.eval_fixtures import make_checkpoint
    folder = tmp_path_factory.mktemp("qlae_eval")
    return {"qlae": make_checkpoint(folder, tiny_data, perturb=3.0, quantized=True),
            "dvae": make_checkpoint(folder, tiny_data, perturb=3.0)}


def test_eval_writes_the_six_metrics_and_the_reconstruction_but_no_gap_or_elbo(eval_checkpoints, tiny_data):
    from evaluation.evaluate import EvalOptions, evaluate_checkpoint, format_table
    from evaluation.protocol import result_path

    result = evaluate_checkpoint(eval_checkpoints["qlae"], EvalOptions(settings=SMALL, progress=False),
                                 data=tiny_data)
    on_disk = json.loads(result_path(eval_checkpoints["qlae"]).read_text())
    assert on_disk["model"] == "qlae" and on_disk["results"] == result["results"]
    scores = on_disk["results"]
    assert all(isinstance(scores[k], float) for k in SIX)
    assert scores["recon_num_images"] == 32 and scores["recon_noise_scale"] == 0.0
    assert scores["recon_loss"] > 0 and scores["recon_loss_per_image"] == pytest.approx(
        scores["recon_loss"] * 64 * 64, rel=1e-6)
    assert not any(k.startswith(("st_", "elbo")) for k in scores)
    assert "it needs the Gumbel-softmax latent" in on_disk["st_gap_note"]
    assert "not defined for a latent without a prior" in on_disk["elbo_note"]
    # InfoMEC reads the quantized values as discrete codes; there is no argmax read-out.
    assert {"infom", "infoe", "infoc"} <= set(scores) and not any(k.endswith("_argmax") for k in scores)
    # ... and its sample's factors and quantized codes are kept, marked discrete, without argmax codes.
    from evaluation.codes_record import codes_path, read_codes_record
    record = read_codes_record(codes_path(eval_checkpoints["qlae"]))
    assert scores["codes_record"] == str(codes_path(eval_checkpoints["qlae"]))
    assert record["header"]["discrete"] and record["header"]["model"] == "qlae" and record["argmax_codes"] is None
    table = format_table(result)
    assert "recon_loss" in table and "elbo_note" not in table and "(not defined for a latent" in table
    # The quantized read-out takes at most V values per latent.
    from checkpoints.restore import load_model
    from models.representation import make_representation_function
    restored = load_model(eval_checkpoints["qlae"], tiny_data)
    codes = make_representation_function(restored.model, restored.params, restored.state)(
        tiny_data.images[:200].astype(np.float32))
    values = np.asarray(restored.params["quantizer"]["values"])
    assert all(set(codes[:, n]) <= set(values[n]) for n in range(10))


def test_reconstruction_reads_the_elbos_images(eval_checkpoints, tiny_data):
    """On a D-VAE the reconstruction score summed per image is the ELBO's reconstruction term
    on the same images; on QLAE the ELBO and the gap are refused."""
    from checkpoints.restore import load_model
    from metrics.elbo import compute_elbo
    from metrics.reconstruction import compute_reconstruction
    from metrics.st_gap import compute_st_gap

    dvae = load_model(eval_checkpoints["dvae"], tiny_data)
    arguments = (dvae.model, dvae.params, dvae.state, tiny_data)
    elbo = compute_elbo(*arguments, step=10, seed=3, num_batches=2, batch_size=16)
    recon = compute_reconstruction(*arguments, step=10, seed=3, num_batches=2, batch_size=16)
    assert recon["recon_loss_per_image"] == pytest.approx(elbo["elbo_recon"], rel=1e-6)
    assert recon["recon_noise_scale"] == elbo["elbo_noise_scale"] == 2.0     # the schedule's end at step 10
    other = compute_reconstruction(*arguments, step=10, seed=4, num_batches=2, batch_size=16)
    assert other["recon_loss"] != recon["recon_loss"]                          # the seed picks the images
    qlae = load_model(eval_checkpoints["qlae"], tiny_data)
    with pytest.raises(ValueError, match="ELBO is not defined for qlae"):
        compute_elbo(qlae.model, qlae.params, qlae.state, tiny_data, step=0, num_batches=1, batch_size=4)
    with pytest.raises(ValueError, match="discrete models only, with the Gumbel-softmax latent"):
        compute_st_gap(qlae.model, qlae.params, qlae.state, None, tiny_data, num_batches=1, batch_size=4)


# -- UDR without the KL filter --------------------------------------------------------------
def test_udr_of_a_model_without_kl_keeps_every_latent(eval_checkpoints, tiny_data, tmp_path):
    from checkpoints.restore import load_model
    from evaluation.udr_groups import score_record_group
    from metrics.udr import compute_udr_sklearn
    from metrics.udr_records import read_record, write_record
    from models.representation import make_udr_function

    qlae = load_model(eval_checkpoints["qlae"], tiny_data)
    function = make_udr_function(qlae.model, qlae.params, qlae.state, 10)
    codes, kl = function(tiny_data.images[:10].astype(np.float32))
    assert codes.shape == (10, 10) and kl is None and qlae.model.posterior_kl is None

    rs = np.random.RandomState(0)
    projections = [rs.normal(size=(64 * 64, 5)) for _ in range(3)]
    linear = [lambda x, p=p: np.asarray(x).reshape(len(x), -1) @ p for p in projections]
    without_kl = [lambda x, f=f: (f(x), None) for f in linear]
    tiny_kl = [lambda x, f=f: (f(x), np.full(5, 1e-3)) for f in linear]     # all below the filter
    large_kl = [lambda x, f=f: (f(x), np.full(5, 1.0)) for f in linear]     # all kept
    score = {name: compute_udr_sklearn(tiny_data, functions, np.random.RandomState(7), num_data_points=100,
                                       include_raw_correlations=False, filter_low_kl=False)["model_scores"]
             for name, functions in (("none", without_kl), ("tiny", tiny_kl), ("large", large_kl))}
    assert score["none"] == score["large"] and score["none"] != score["tiny"]   # no zeroing without a KL

    from metrics.udr import sample_representations
    paths = []
    for i, f in enumerate(without_kl):
        state = np.random.RandomState(7)
        (c,), (k,) = sample_representations(tiny_data, [f], state, 10, 100)
        assert k is None
        header = {"checkpoint": f"m{i}.pkl", "config": configs.from_dict({"quantized": True, "seed": i}).to_dict(),
                  "udr_seed": 7, "batch_size": 10, "num_data_points": 100}
        paths.append(write_record(tmp_path / f"m{i}.udr_codes.npz", c, k, state, header))
    records = [read_record(p) for p in paths]
    assert all(r["kl"] is None for r in records)
    options = {"correlation_matrix": "lasso", "filter_low_kl": True, "kl_filter_threshold": 0.01}
    scored = score_record_group(paths, records, options, log=lambda line: None)
    assert [r["udr"] for r in scored] == score["none"]        # the filter asked for, not applied
    assert all(r["kl_filter"] == "not applied: the model has no KL" for r in scored)


# -- figures --------------------------------------------------------------------------------
def test_traversals_run_over_each_latents_own_codebook_values(tiny_data, tmp_path, monkeypatch):
    from analysis import model_figures
    from tests.eval_fixtures import random_checkpoint

    path = random_checkpoint(tmp_path, quantized=True)
    # Each latent its own unsorted values: the traversal takes them in increasing order.
    from checkpoints import checkpoint as checkpoint_io
    payload = checkpoint_io.load_checkpoint(path)
    values = np.random.RandomState(1).uniform(-2, 2, size=(10, 10)).astype(np.float32)
    payload["params"]["quantizer"]["values"] = values
    payload = {k: v for k, v in payload.items() if k != "format_version"}
    checkpoint_io.save_checkpoint(path, payload)

    loaded = model_figures.Loaded(path, tiny_data)
    grid, labels = loaded.traversal_values(10)
    np.testing.assert_array_equal(grid, np.sort(values, axis=1))
    assert labels == [f"v{i}" for i in range(10)]
    seen = []
    decode = loaded.decode
    monkeypatch.setattr(loaded, "decode", lambda z: seen.append(np.asarray(z)) or decode(z))
    model_figures.traversals(loaded, tiny_data.images[0].astype(np.float32), steps=10)
    z = seen[0].reshape(10, 10, 10)                                        # [latent, step, N]
    for n in range(10):
        np.testing.assert_array_equal(z[n, :, n], np.sort(values[n]))
    written = model_figures.visualize(path, out=tmp_path / "figures", data=tiny_data, steps=5, num_images=3,
                                      num_points=100)
    assert len(written) == 6 and all(p.stat().st_size > 1000 for p in written)


def test_sweeps_train_qlae_with_its_defaults_unless_the_base_says_otherwise(tmp_path):
    from sweeps import grid

    sweep = grid.parse_sweep({"datasets": ["dsprites_procedural"], "models": ["dvae", "qlae"], "seeds": [1, 2],
                              "base": {"steps": 100}})
    runs = grid.expand(sweep, tmp_path)
    assert [(r.config.model_name, r.config.learning_rate) for r in runs] == [
        ("dvae", 1e-4), ("dvae", 1e-4), ("qlae", 1e-3), ("qlae", 1e-3)]
    assert runs[2].name == "dsprites_procedural_qlae_seed1" and runs[2].describe() == "dsprites_procedural qlae seed 1"
    base = grid.parse_sweep({"datasets": ["dsprites_procedural"], "models": ["qlae"], "seeds": [1],
                             "base": {"learning_rate": 5e-4, "weight_decay": 0.05}})
    assert [(r.config.learning_rate, r.config.weight_decay) for r in grid.expand(base, tmp_path)] == [(5e-4, 0.05)]
