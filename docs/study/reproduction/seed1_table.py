"""Markdown table: the five seed-1 TC runs as first trained (commit 8e8856e, on the first 2-core machine)
and as retrained on the current one (working tree). Run from the repository root."""
import json
import subprocess

REV = "8e8856e"
runs = [("gauss_factor10.0", "FactorVAE γ = 10"), ("factor10.0", "FactorDVAE γ = 10"),
        ("gauss_factor30.0", "FactorVAE γ = 30"), ("factor30.0", "FactorDVAE γ = 30"),
        ("gauss_factor100.0", "FactorVAE γ = 100")]
keys = [("mig", 3), ("modularity", 3), ("sap_score", 3), ("factor_vae_metric", 3),
        ("beta_vae_sklearn", 3), ("dci_disentanglement", 3), ("elbo", 2), ("st_gap", 2)]
print("| run (seed 1) | version | MIG | Modularity | SAP | FactorVAE | BetaVAE | DCI | −ELBO (nats) | gap |")
print("|---|---|---|---|---|---|---|---|---|---|")
for name, label in runs:
    path = f"docs/study/dsprites_procedural_{name}_seed1.eval.json"
    old = json.loads(subprocess.check_output(["git", "show", f"{REV}:{path}"]))["results"]
    new = json.load(open(path))["results"]
    for version, r in (("first (12-01 machine)", old), ("retrained", new)):
        cells = [f"{r[k]:.{d}f}" if k in r else "–" for k, d in keys]
        print(f"| {label} | {version} | " + " | ".join(cells) + " |")
