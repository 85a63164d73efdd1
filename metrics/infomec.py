"""InfoMEC (Hsu et al., "Disentanglement via Latent Quantization", NeurIPS 2023): InfoM
(modularity), InfoE (explicitness) and InfoC (compactness) of a representation, from the
normalised mutual information between each source (ground-truth factor) and each latent.

The numbers are those of the QLAE authors' own code (latent_quantization, commit 9a420a3, run
under the pinned scikit-learn), checked to 1e-9 by tests/metrics/test_infomec.py against
tests/reference/infomec.json. Their code runs with two changes today's scikit-learn needs:
`mutual_info_classif` returns one value per feature (the first is taken) and
`LogisticRegression` has no `multi_class` (lbfgs is multinomial); its `penalty=None` is
written as the equivalent `C=inf`. One choice differs on purpose: `mutual_info_classif` adds a
1e-10 jitter to continuous features drawn from numpy's *global* random state there; here from
one RandomState(0) per call of `compute_infomec`, drawn in the same order, so the numbers are
theirs with the global state seeded 0, and do not depend on what ran before. (The jitter
decides the estimate for a latent with tied values, a constant one above all.) Definitions:
docs/design.md §11 and docs/metrics.md.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn import feature_selection, linear_model, metrics, preprocessing
from sklearn.exceptions import ConvergenceWarning

NEIGHBOURS = 10              # the k of the continuous (Kraskov) mutual information estimate
JITTER_SEED = 0              # RandomState of mutual_info_classif's 1e-10 jitters (see above)
CONTINUOUS_ACTIVE_FRACTION = 1 / 20   # a continuous latent is active above this share of the widest range


def compute_infomec(sources, latents, discrete_latents: bool) -> dict:
    """InfoM, InfoE and InfoC of `latents` [n, L] against `sources` [n, S] (factor values).

    `discrete_latents`: the latents take few values (QLAE's quantized values, a categorical
    latent's argmax) and are compared by plug-in mutual information; otherwise by Kraskov's
    estimate on standardised values. Returns {"infom", "infoe", "infoc": floats,
    "nmi": [S, L], "active_latents": bool [L]}.
    """
    sources = np.asarray(sources)
    latents = np.asarray(latents)
    source_labels = label_columns(sources)
    nmi = normalized_mutual_information(source_labels, latents, discrete_latents)
    active = active_latents(latents, discrete_latents)
    infom, infoc = modularity_and_compactness(nmi[:, active], num_sources=sources.shape[1])
    return {"infom": infom, "infoe": explicitness(source_labels, latents, discrete_latents), "infoc": infoc,
            "nmi": nmi, "active_latents": active}


def label_columns(values: np.ndarray) -> np.ndarray:
    """Each column's values replaced by their rank among the column's distinct values, [n, C] int."""
    return np.stack([preprocessing.LabelEncoder().fit_transform(values[:, i]) for i in range(values.shape[1])],
                    axis=1)


def normalized_mutual_information(source_labels: np.ndarray, latents: np.ndarray, discrete_latents: bool):
    """NMI [S, L]: I(source_i; latent_j) / H(source_i), natural logarithms."""
    if discrete_latents:
        codes = label_columns(latents)
    else:   # each column standardised on its own, as the reference does
        codes = np.concatenate([preprocessing.StandardScaler().fit_transform(latents[:, [j]])
                                for j in range(latents.shape[1])], axis=1)
    jitter = np.random.RandomState(JITTER_SEED)   # one stream for every pair, in the reference's order
    nmi = np.empty((source_labels.shape[1], codes.shape[1]))
    for i in range(source_labels.shape[1]):
        source = source_labels[:, i]
        for j in range(codes.shape[1]):
            nmi[i, j] = (metrics.mutual_info_score(source, codes[:, j]) if discrete_latents
                         else _kraskov_mutual_information(codes[:, j], source, jitter))
        nmi[i, :] /= metrics.mutual_info_score(source, source)   # H(source_i)
    return nmi


def _kraskov_mutual_information(code: np.ndarray, source: np.ndarray, jitter: np.random.RandomState) -> float:
    """I(code; source) for one continuous code [n] and one discrete source [n]."""
    return float(feature_selection.mutual_info_classif(code[:, None], source, discrete_features=False,
                                                       n_neighbors=NEIGHBOURS, random_state=jitter)[0])


def active_latents(latents: np.ndarray, discrete_latents: bool) -> np.ndarray:
    """bool [L]: a discrete latent that takes more than one value; a continuous one whose range
    exceeds a twentieth of the widest latent's."""
    ranges = latents.max(axis=0) - latents.min(axis=0)
    return ranges > 0 if discrete_latents else ranges > np.max(ranges) * CONTINUOUS_ACTIVE_FRACTION


def modularity_and_compactness(nmi: np.ndarray, num_sources: int) -> tuple[float, float]:
    """(InfoM, InfoC) of the NMI of the active latents [S, L_active]: how much each latent's
    information is concentrated on one source, and each source's on one latent, each rescaled
    so that uniform spread is 0 and one-to-one is 1."""
    num_active = nmi.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):   # a latent or source with no information: nan
        infom = (np.mean(np.max(nmi, axis=0) / np.sum(nmi, axis=0)) - 1 / num_sources) / (1 - 1 / num_sources)
        infoc = (np.mean(np.max(nmi, axis=1) / np.sum(nmi, axis=1)) - 1 / num_active) / (1 - 1 / num_active)
    return float(infom), float(infoc)


def explicitness(source_labels: np.ndarray, latents: np.ndarray, discrete_latents: bool) -> float:
    """InfoE: mean over sources of the share of the source's entropy that a multinomial logistic
    regression on the latents explains, (H0 - H) / H0, both measured by the log loss on the
    fitting data; H0 from an all-zero input (the class-balanced marginal)."""
    features = (preprocessing.OneHotEncoder().fit_transform(latents) if discrete_latents
                else preprocessing.StandardScaler().fit_transform(latents))
    null = np.zeros_like(latents)
    shares = []
    for i in range(source_labels.shape[1]):
        explained = _logistic_log_loss(features, source_labels[:, i])
        marginal = _logistic_log_loss(null, source_labels[:, i])
        shares.append((marginal - explained) / marginal)
    return float(np.mean(shares))


def _logistic_log_loss(features, labels: np.ndarray) -> float:
    """Log loss of an unpenalised, class-balanced multinomial logistic regression (lbfgs, 100
    iterations, stopped there as the reference is) on the data it was fitted to."""
    model = linear_model.LogisticRegression(C=np.inf, tol=1e-4, fit_intercept=True, class_weight="balanced",
                                            solver="lbfgs", max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # 100 iterations is the protocol, converged or not
        model.fit(features, labels)
    return float(metrics.log_loss(labels, model.predict_proba(features)))
