#!/usr/bin/env python3
"""Summary of `heal fl ensemble simulate` reports (issue 17 acceptance): per dataset, each hospital's
test ACC with the federation and with local training only (gain, mean over seeds), the ensemble's
test ACC against its best member and the central model, and the cost of the secure aggregation.
With per-image test probabilities in the reports (since 2026-12-05), each difference also gets a 95 %
confidence interval from a paired bootstrap over the test images (Efron and Tibshirani 1993, ch. 13;
the same resampled images for every seed, whose differences are averaged; the seeds themselves are
not resampled, so the interval covers the test-set sampling, not the training randomness), and a
Student t interval over the seeds' own differences, which covers the training randomness.
Usage: ensemble_summary.py REPORT.json...   |   ensemble_summary.py --self-test"""
import collections
import json
import random
import statistics
import sys


def correct(probs, labels):
    """Per image, 1 when the argmax of its row (first maximum on ties, as nn::compute_metrics) is the label."""
    c = len(probs) // len(labels)
    out = []
    for i, y in enumerate(labels):
        row = probs[i * c:(i + 1) * c]
        out.append(1 if row.index(max(row)) == y else 0)
    return out


def paired_bootstrap(a, b, resamples=4000, seed=20261205, level=0.95):
    """a, b: per seed, per-image correctness (0/1) of two models on the same test images. Returns the
    mean over seeds of ACC(a) - ACC(b) and its percentile interval, resampling the images."""
    assert len(a) == len(b) and a and all(len(x) == len(y) == len(a[0]) for x, y in zip(a, b)), "shapes differ"
    n, s = len(a[0]), len(a)
    d = [sum(x[i] - y[i] for x, y in zip(a, b)) / s for i in range(n)]
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(d, k=n)) / n for _ in range(resamples))
    lo = means[int((1 - level) / 2 * resamples)]
    hi = means[min(resamples - 1, int((1 + level) / 2 * resamples))]
    return sum(d) / n, lo, hi


# Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (standard tables).
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def seed_interval(diffs):
    """Per-seed differences (each seed's own test-set difference): their mean and the 95 % t interval
    over seeds, which covers the training randomness (initialisation, partition, order) and not only
    the test sampling. None for fewer than 2 seeds."""
    s = len(diffs)
    if s < 2:
        return None
    m = statistics.mean(diffs)
    half = (T975[s - 2] if s - 1 <= len(T975) else 1.96) * statistics.stdev(diffs) / s ** 0.5
    return m, m - half, m + half


def self_test():
    rng = random.Random(7)
    labels = [rng.randrange(2) for _ in range(400)]
    truth = [[1.0 - y, float(y)] for y in labels]
    flat = [v for row in truth for v in row]
    assert correct(flat, labels) == [1] * 400
    assert correct([0.5, 0.5] * 400, labels) == [1 if y == 0 else 0 for y in labels]  # ties: first class
    same = [[rng.randrange(2) for _ in range(400)] for _ in range(3)]
    assert paired_bootstrap(same, same) == (0, 0, 0)
    # b is a with 40 of 400 images turned wrong in every seed: the difference is exactly +0.10 and
    # the interval, about +-0.03 wide, excludes zero and contains 0.10.
    a = [[1] * 400 for _ in range(3)]
    b = [[0 if i < 40 else 1 for i in range(400)] for _ in range(3)]
    m, lo, hi = paired_bootstrap(a, b)
    assert abs(m - 0.10) < 1e-12 and 0.06 < lo < 0.10 < hi < 0.14, (m, lo, hi)
    # Independent coin flips of equal accuracy: the interval covers zero, and its width is near the
    # normal theory's 2 x 1.96 x sqrt(0.5 / 3 / 400) = 0.080.
    a = [[rng.randrange(2) for _ in range(400)] for _ in range(3)]
    b = [[rng.randrange(2) for _ in range(400)] for _ in range(3)]
    m, lo, hi = paired_bootstrap(a, b)
    assert lo < 0 < hi and 0.065 < hi - lo < 0.095, (m, lo, hi)
    assert seed_interval([0.02]) is None
    assert seed_interval([0.01, 0.01, 0.01]) == (0.01, 0.01, 0.01)
    m, lo, hi = seed_interval([0.0, 2.0])  # sd sqrt(2), se 1, t(1) = 12.706
    assert abs(m - 1) < 1e-12 and abs(lo + 11.706) < 1e-9 and abs(hi - 13.706) < 1e-9, (m, lo, hi)
    print("ensemble_summary self-test: PASS")


if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
    self_test()
    sys.exit(0)

runs = collections.defaultdict(list)
for path in sys.argv[1:]:
    j = json.load(open(path))
    runs[j["dataset"]].append(j)

for ds, rs in sorted(runs.items()):
    print(f"\n## {ds}: {len(rs)} seeds")
    print("| hospital | architecture | federated test ACC (per seed) | local-only (per seed) | mean gain |")
    print("|---|---|---|---|---:|")
    for h in range(len(rs[0]["members"])):
        fed = [r["members"][h]["test_accuracy"] for r in rs]
        loc = [r["members"][h]["local_only_test_accuracy"] for r in rs]
        arch = rs[0]["members"][h]["architecture"].split("(")[0]
        gains = [f - l for f, l in zip(fed, loc)]
        print(f"| {h + 1} | {arch} | {' / '.join(f'{v:.3f}' for v in fed)} | {' / '.join(f'{v:.3f}' for v in loc)} "
              f"| {statistics.mean(gains):+.3f} |")
    ens = [r["secure_diagnosis"]["test_accuracy"] for r in rs]  # the test split answered by secure diagnosis
    diff = max(r["secure_diagnosis"]["max_abs_diff_from_plaintext"] for r in rs)
    best = [max(m["test_accuracy"] for m in r["members"]) for r in rs]
    cen = [r["central"]["test_accuracy"] for r in rs]
    lens = [r["local_only_ensemble_test_accuracy"] for r in rs]
    print()
    print("| | per seed | mean |")
    print("|---|---|---:|")
    for name, v in (("secure ensemble (SMPC diagnosis)", ens), ("plaintext weighted ensemble", [r["ensemble"]["test_accuracy"] for r in rs]), ("best member", best), ("central (hecnn, all data)", cen),
                    ("ensemble of local-only members", lens)):
        print(f"| {name} | {' / '.join(f'{x:.3f}' for x in v)} | {statistics.mean(v):.3f} |")
    print(f"| secure ensemble - best member (points) | {' / '.join(f'{100 * (e - b):+.1f}' for e, b in zip(ens, best))} "
          f"| {100 * statistics.mean(e - b for e, b in zip(ens, best)):+.1f} |")
    print(f"| ensemble - central (points) | {' / '.join(f'{100 * (e - c):+.1f}' for e, c in zip(ens, cen))} "
          f"| {100 * statistics.mean(e - c for e, c in zip(ens, cen)):+.1f} |")
    ea = [r["ensemble"]["test_auc"] for r in rs]
    ca = [r["central"]["test_auc"] for r in rs]
    ba = [max(m["test_auc"] for m in r["members"]) for r in rs]
    print(f"\ntest AUC (threshold-free): secure ensemble {' / '.join(f'{x:.3f}' for x in ea)} (mean "
          f"{statistics.mean(ea):.3f}), best member {statistics.mean(ba):.3f}, central {' / '.join(f'{x:.3f}' for x in ca)} "
          f"(mean {statistics.mean(ca):.3f})")
    ev = [r["ensemble"]["val_accuracy"] for r in rs]
    cv = [r["central"]["best_val_accuracy"] for r in rs]
    print(f"validation ACC: ensemble {' / '.join(f'{x:.3f}' for x in ev)}, central {' / '.join(f'{x:.3f}' for x in cv)}")
    up, plain, share = [], [], []
    for r in rs:
        for row in r["rounds"]:
            up.append(max(row["bytes_up"]))
            plain.append(row["plaintext_bytes"])
            share.append(row["secagg_seconds"] / row["seconds"])
    print(f"\nsecure aggregation: upload per institution per round {statistics.mean(up):.0f} B vs "
          f"{statistics.mean(plain):.0f} B in the clear ({statistics.mean(up) / statistics.mean(plain):.2f}x); "
          f"{100 * statistics.mean(share):.2f} % of round time (max {100 * max(share):.2f} %); "
          f"ledger verified in {sum(r['ledger_verified'] for r in rs)}/{len(rs)} runs; "
          f"max |secure - plaintext| ensemble probability {diff:.1e}")

    # Paired bootstrap over the test images (reports that carry per-image probabilities).
    if all("test_labels" in r for r in rs):
        def acc_check(cor, reported, what):
            got = sum(cor) / len(cor)
            assert abs(got - reported) < 1e-9, f"{what}: per-image ACC {got} != reported {reported}"
            return cor

        ens_c, cen_c, best_c, vbest_c = [], [], [], []
        mem_c = [[] for _ in rs[0]["members"]]
        loc_c = [[] for _ in rs[0]["members"]]
        for r in rs:
            y = r["test_labels"]
            ens_c.append(acc_check(correct(r["ensemble"]["test_probabilities"], y), r["ensemble"]["test_accuracy"], "ensemble"))
            cen_c.append(acc_check(correct(r["central"]["test_probabilities"], y), r["central"]["test_accuracy"], "central"))
            for h, m in enumerate(r["members"]):
                mem_c[h].append(acc_check(correct(m["test_probabilities"], y), m["test_accuracy"], m["institution"]))
                loc_c[h].append(acc_check(correct(m["local_only_test_probabilities"], y), m["local_only_test_accuracy"],
                                          m["institution"] + " local-only"))
            best = max(range(len(r["members"])), key=lambda h: r["members"][h]["test_accuracy"])
            vbest = max(range(len(r["members"])), key=lambda h: r["members"][h]["best_val_accuracy"])
            best_c.append(mem_c[best][-1])
            vbest_c.append(mem_c[vbest][-1])
        n = len(rs[0]["test_labels"])
        print(f"\npaired bootstrap over the {n} test images (4000 resamples, the same images for every seed; "
              f"mean of {len(rs)} seeds, in points, 95 % interval); and the t interval over the seeds' own "
              f"differences (training randomness):")
        print("| difference | mean | 95 % interval (test images) | 95 % interval (seeds, t) |")
        print("|---|---:|---|---|")
        rows = [(f"member {h + 1} ({rs[0]['members'][h]['architecture'].split('(')[0]}): federated - local-only",
                 mem_c[h], loc_c[h]) for h in range(len(mem_c))]
        rows += [("ensemble - best member (best on test, per seed)", ens_c, best_c),
                 ("ensemble - best member on validation", ens_c, vbest_c),
                 ("ensemble - central", ens_c, cen_c)]
        for name, a, b in rows:
            m, lo, hi = paired_bootstrap(a, b)
            per_seed = [(sum(x) - sum(y)) / len(x) for x, y in zip(a, b)]
            si = seed_interval(per_seed)
            seeds = f"[{100 * si[1]:+.1f}, {100 * si[2]:+.1f}]" if si else "(one seed)"
            print(f"| {name} | {100 * m:+.1f} | [{100 * lo:+.1f}, {100 * hi:+.1f}] | {seeds} |")
