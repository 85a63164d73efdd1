"""Which test results change when the five seed-1 TC runs trained on the first machine are replaced
by their retrained versions: compares the tables at commit f1be3b4 (first versions) with the
working tree (retrained), printing every row whose verdict at p < 0.05 (raw or Holm), or whose sign,
differs. Run from the repository root: python docs/study/reproduction/sensitivity.py"""
import csv
import io
import subprocess

FIRST = "f1be3b4"
TABLES = "docs/study/tables"


def rows(name, revision=None):
    if revision is None:
        text = open(f"{TABLES}/{name}").read()
    else:
        text = subprocess.check_output(["git", "show", f"{revision}:{TABLES}/{name}"], text=True)
    return list(csv.DictReader(io.StringIO(text)))


def verdict(row, p_key, effect_key):
    p, effect = float(row[p_key]), float(row[effect_key])
    sign = "+" if effect > 0 else "−" if effect < 0 else "0"
    return sign, p < 0.05, p


def compare(name, key_columns, effect_key, p_keys):
    first = {tuple(r[k] for k in key_columns): r for r in rows(name, FIRST)}
    final = {tuple(r[k] for k in key_columns): r for r in rows(name)}
    changed, total = [], 0
    for key in sorted(final):
        if key not in first:
            continue
        total += 1
        for p_key in p_keys:
            (s0, sig0, p0), (s1, sig1, p1) = (verdict(first[key], p_key, effect_key),
                                              verdict(final[key], p_key, effect_key))
            if sig0 != sig1 or (s0 != s1 and (sig0 or sig1)):
                changed.append(f"| {name} | {' '.join(k for k in key if k)} | {p_key} | "
                               f"{s0} p={p0:.3f} | {s1} p={p1:.3f} |")
    print(f"{name}: {total} rows in both versions, {len(changed)} verdicts changed")
    return changed


if __name__ == "__main__":
    lines = []
    lines += compare("differences.csv", ["baseline", "candidate", "gamma", "metric"], "difference",
                     ["p_value", "p_holm"])
    lines += compare("tc_effects.csv", ["latent", "gamma", "metric"], "difference",
                     ["p_value", "p_holm"])
    lines += compare("selection.csv", ["pool", "metric"], "spearman", ["p_value", "p_holm"])
    print()
    print("| table | row | test | first versions (f1be3b4) | retrained |")
    print("|---|---|---|---|---|")
    print("\n".join(lines))
