"""Side-by-side table of one of our runs and the official code's run on the same exported data.

    python3 compare_official.py --run Data/runs/<name> --official summary.json [--bin .build/release] [--out table.md]
        [--steps 25] [--steps-only] [--log train_b@1=FILE]

Ours, from the run folder: dev rSum per round (evaluate_dev@N), purification precision / recall /
kept fraction (purify_{a,b}@N/report) and the AUC of the scores each purification fitted
(purify_{a,b}@N/mask `score` against the noise map's clean labels), the test rSum of the selected
round (metrics.json). Computed here with our executables: the warm-up AUC of net B (mscn-purify on
warmup_b; net A's is purify_a@1's) and the warm-up pair's dev and test rSum (mscn-evaluate).
Theirs: the JSON written by run_official.py (this folder's copy).
Needs only numpy; tensor files are read through `mscn tensor export-npy`.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np


def auc(scores, clean):
    """P(clean score > noisy score), ties half (Mann-Whitney U with average ranks)."""
    scores = np.asarray(scores, dtype=np.float64)
    clean = np.asarray(clean).astype(bool)
    n1, n0 = int(clean.sum()), int((~clean).sum())
    if n1 == 0 or n0 == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[clean].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


class Ours:
    def __init__(self, run, bin_dir, tmp):
        self.run, self.bin, self.tmp = run, bin_dir, tmp
        self.params = json.load(open(self.p("params.json")))["params"]

    def p(self, rel):
        return os.path.join(self.run, rel)

    def tensor(self, path, name):
        out = os.path.join(self.tmp, f"t{abs(hash((path, name)))}.npy")
        subprocess.run([os.path.join(self.bin, "mscn"), "tensor", "export-npy", path, name, out],
                       check=True, capture_output=True)
        return np.load(out)

    def rounds(self, family):
        n = 1
        while os.path.exists(self.p(f"{family}@{n}")):
            n += 1
        return n - 1

    def warmup(self, net):
        """The warm-up stage folder of `net` (a/b): `warmup_a/`, or the last epoch stage `warmup_a@N/`."""
        if os.path.exists(self.p(f"warmup_{net}/ckpt")):
            return f"warmup_{net}"
        # The highest epoch present: a folder assembled by hand may hold only the last one.
        prefix = f"warmup_{net}@"
        epochs = [int(d[len(prefix):]) for d in os.listdir(self.run) if d.startswith(prefix) and d[len(prefix):].isdigit()]
        if not epochs:
            sys.exit(f"{self.run}: no warm-up stage folder for net {net.upper()} (warmup_{net}/ or warmup_{net}@N/)")
        return f"{prefix}{max(epochs)}"

    def data_args(self):
        return ["--features", self.p("features_train/features"), "--corpus", self.p("ingest/data/corpus.tzst"),
                "--noise", self.p("noise/map"), "--meta", self.p("split/meta"),
                "--dev-features", self.p("features_dev/features"), "--seed", str(self.params.get("seed", 0))]

    def regime_file(self, net):
        """The regime check of `net`'s warm-up: regime_<net>@N/regime of the last epoch N, else the
        warm-up stage's own (runs made before the check was a stage)."""
        prefix = f"regime_{net}@"
        epochs = [int(d[len(prefix):]) for d in os.listdir(self.run) if d.startswith(prefix) and d[len(prefix):].isdigit()]
        if epochs:
            return self.p(f"{prefix}{max(epochs)}/regime")
        return self.p(self.warmup(net) + "/regime")

    def warmup_b_scores(self):
        mask = os.path.join(self.tmp, "warmup_b_mask.tzst")
        subprocess.run([os.path.join(self.bin, "mscn-purify"), "--checkpoint", self.p(self.warmup("b") + "/ckpt"), "--net", "B",
                        "--round", "1"] + self.data_args() + ["--out", mask, "--report", mask + ".json"],
                       check=True, capture_output=True)
        return self.tensor(mask, "score")

    def evaluate_warmup_pair(self, split):
        out = os.path.join(self.tmp, f"warmup_{split}.json")
        args = [os.path.join(self.bin, "mscn-evaluate"), "--ckpt-a", self.p(self.warmup("a") + "/ckpt"), "--ckpt-b", self.p(self.warmup("b") + "/ckpt"),
                "--features", self.p(f"features_{split}/features"), "--corpus", self.p("ingest/data/corpus.tzst"),
                "--split", split, "--out", out]
        if split == "dev":
            args += ["--meta", self.p("split/meta")]
        subprocess.run(args, check=True, capture_output=True)
        return json.load(open(out))["rsum"]

    def collect(self):
        clean = self.tensor(self.p("noise/map"), "clean")
        r = {"params": self.params, "rounds": []}
        for n in range(1, self.rounds("evaluate_dev") + 1):
            rec = {"dev_rsum": json.load(open(self.p(f"evaluate_dev@{n}/metrics")))["rsum"]}
            for net in ("a", "b"):
                rep = json.load(open(self.p(f"purify_{net}@{n}/report")))
                rec[f"purify_{net}"] = {"precision": rep["precision"], "recall": rep["recall"],
                                        "kept_fraction": rep["kept_fraction"],
                                        "auc": auc(self.tensor(self.p(f"purify_{net}@{n}/mask"), "score"), clean)}
            r["rounds"].append(rec)
        # The pipeline's regime check when the run records it (the stage regime_<net>@N, or in
        # older runs the end of the epoch stage), else computed here.
        regime = {n: self.regime_file(n.lower()) for n in ("A", "B")}
        if all(os.path.exists(f) for f in regime.values()):
            r["warmup_auc"] = {n: json.load(open(f))["auc"] for n, f in regime.items()}
        else:
            r["warmup_auc"] = {"A": r["rounds"][0]["purify_a"]["auc"] if r["rounds"] else None,
                               "B": auc(self.warmup_b_scores(), clean)}
        if os.path.exists(self.p("evaluate_dev@0/metrics")):   # the warm-up pair as round 0 of the selection
            r["warmup_dev_rsum"] = json.load(open(self.p("evaluate_dev@0/metrics")))["rsum"]
        else:
            r["warmup_dev_rsum"] = self.evaluate_warmup_pair("dev")
        r["test_warmup_pair"] = self.evaluate_warmup_pair("test")
        r["test_selected"] = json.load(open(self.p("metrics.json")))["rsum"]
        best = json.load(open(self.p("best.json")))
        r["selected_round"] = best.get("best_round")
        return r


def fmt(x, digits=1):
    if x is None:
        return "–"
    return f"{x:.{digits}f}"


def table(ours, theirs):
    rows = ["| | ours | official |", "|---|---|---|"]
    wa, wt = ours["warmup_auc"], theirs.get("warmup_auc", {})
    rows.append(f"| warm-up AUC A / B | {fmt(wa['A'], 3)} / {fmt(wa['B'], 3)} | {fmt(wt.get('A'), 3)} / {fmt(wt.get('B'), 3)} |")
    wd = theirs["warmup_dev"]
    rows.append(f"| warm-up pair dev rSum | {fmt(ours['warmup_dev_rsum'])} | {fmt(wd['ensemble']['rsum'])} "
                f"(A {fmt(wd['A']['rsum'])}, B {fmt(wd['B']['rsum'])}) |")
    for i, (o, t) in enumerate(zip(ours["rounds"], theirs["epochs"]), 1):
        for net in ("a", "b"):
            po, pt = o[f"purify_{net}"], t[f"purify_{net.upper()}"]
            rows.append(f"| round {i} purify {net.upper()}: precision / recall / kept / AUC | "
                        f"{fmt(po['precision'], 3)} / {fmt(po['recall'], 3)} / {fmt(po['kept_fraction'], 3)} / {fmt(po['auc'], 3)} | "
                        f"{fmt(pt['precision'], 3)} / {fmt(pt['recall'], 3)} / {fmt(pt['kept_fraction'], 3)} / {fmt(pt.get('auc'), 3)} |")
        rows.append(f"| round {i} dev rSum | {fmt(o['dev_rsum'])} | {fmt(t['dev']['ensemble']['rsum'])} |")
    rows.append(f"| test rSum, best round by dev | {fmt(ours['test_selected'])} (round {ours['selected_round']}) | "
                f"{fmt(theirs['test_best_round']['ensemble']['rsum'])} (round {theirs['best_round']}) |")
    rows.append(f"| test rSum, warm-up pair | {fmt(ours['test_warmup_pair'])} | {fmt(theirs['test_warmup_pair']['ensemble']['rsum'])} |")
    pick = theirs.get("official_main_would_test")
    rows.append(f"| official main() would test | | {pick} |")
    return "\n".join(rows)


def our_step_stats(run, family, n, logs=None):
    """(score_mean, margin_mean, loss) per step of `family@n/log` (a round's log.tsv), or of the
    file `logs` names for `family@n` (--log)."""
    path = (logs or {}).get(f"{family}@{n}") or os.path.join(run, f"{family}@{n}/log")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        if "score_mean" not in head:
            return None
        ip, im, il = head.index("score_mean"), head.index("margin_mean"), head.index("loss")
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    return [(float(r[ip]), float(r[im]), float(r[il])) for r in rows]


def step_table(run, theirs, block, logs=None):
    """Per `block` steps of every round and net: mean score, mean margin, mean loss; ours /
    official (ours / official − 1 in brackets), and the whole round's means last."""
    rows = [f"| round, net | steps | mean score ours / official | mean margin ours / official | mean loss ours / official |",
            "|---|---|---|---|---|"]
    worst = {}
    def cells(o, f):
        return (f"{o[0]:.4f} / {f[0]:.4f} ({100 * (o[0] / f[0] - 1):+.1f}%) | {o[1]:.4f} / {f[1]:.4f} "
                f"({100 * (o[1] / f[1] - 1):+.1f}%) | {o[2]:.3f} / {f[2]:.3f} ({100 * (o[2] / f[2] - 1):+.1f}%)")
    for i, t in enumerate(theirs["epochs"], 1):
        for net in ("B", "A"):
            ours = our_step_stats(run, f"train_{net.lower()}", i, logs)
            off = t[f"train_{net}"].get("step_stats")
            if not ours or not off:
                continue
            for k in range(0, min(len(ours), len(off)), block):
                o = np.mean(ours[k:k + block], axis=0)
                f = np.mean(off[k:k + block], axis=0)
                for j, name in enumerate(("score", "margin", "loss")):
                    worst[name] = max(worst.get(name, 0), abs(o[j] / f[j] - 1))
                rows.append(f"| {i} {net} | {k}–{min(k + block, len(ours), len(off)) - 1} | {cells(o, f)} |")
            n = min(len(ours), len(off))
            rows.append(f"| {i} {net} | all {n} | {cells(np.mean(ours[:n], axis=0), np.mean(off[:n], axis=0))} |")
    rows.append("")
    rows.append("largest relative difference per block: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in worst.items()))
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--official", required=True)
    ap.add_argument("--bin", default=".build/release")
    ap.add_argument("--out")
    ap.add_argument("--steps", type=int, default=0, help="also compare per this many steps of every round")
    ap.add_argument("--steps-only", action="store_true", help="only the per-step table (no evaluation)")
    ap.add_argument("--log", action="append", default=[], metavar="STAGE=FILE",
                    help="our per-step log of a round from elsewhere, e.g. train_b@1=/tmp/train_b1.log (repeatable)")
    a = ap.parse_args()
    logs = dict(x.split("=", 1) for x in a.log)
    theirs = json.load(open(a.official))
    if a.steps_only:
        print(step_table(a.run, theirs, a.steps or 25, logs))
        return
    with tempfile.TemporaryDirectory(prefix="compare-official-") as tmp:
        ours = Ours(a.run, a.bin, tmp).collect()
    text = table(ours, theirs)
    if a.steps:
        text += "\n\n" + step_table(a.run, theirs, a.steps, logs)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
        with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
            json.dump({"ours": ours, "official_summary": a.official}, f, indent=1)


if __name__ == "__main__":
    main()
