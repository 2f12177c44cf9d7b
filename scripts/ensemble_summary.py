#!/usr/bin/env python3
"""Summary of `heal fl ensemble simulate` reports (issue 17 acceptance): per dataset, each hospital's
test ACC with the federation and with local training only (gain, mean over seeds), the ensemble's
test ACC against its best member and the central model, and the cost of the secure aggregation.
Usage: ensemble_summary.py REPORT.json..."""
import collections
import json
import statistics
import sys

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
