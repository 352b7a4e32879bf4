"""Times the official MSCN code (hhc1997/MSCN at $MSCN_REF, PyTorch on CPU) phase by phase on the
inputs `mscn-bench compare` wrote, driven line by line so the two sides can alternate.

Derived from run_official.py beside it (ours). The official model, warmup(), train()
(meta step included), encode_data() and shard_attn_scores() are called unchanged; refenv.py (ours)
only patches the environment. The purification pass mirrors split_data()'s computation (meta and
training diagonal scores with the official get_sim_individual, then the Beta mixture fit) without
the loader it builds afterwards.

  python bench_official.py DIR     (DIR/plan.json, features.npy, tokens.npy, lengths.npy)
stdin:  "warmup K" | "train K" | "purify" | "eval" | "quit"
stdout: one line per command: "ok SECONDS" (or "error MESSAGE")
"""
import contextlib, functools, json, os, sys, time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refenv  # noqa: E402  (puts $MSCN_REF on sys.path, patches .cuda())
import main_MSCN as M  # noqa: E402
import models  # noqa: E402
import evaluation_meta as E  # noqa: E402
from opt import get_options  # noqa: E402

d = sys.argv[1]
plan = json.load(open(os.path.join(d, "plan.json")))
torch.set_num_threads(int(plan.get("threads", 2)))
torch.manual_seed(0)
feats = np.load(os.path.join(d, "features.npy"))
tokens = np.load(os.path.join(d, "tokens.npy"))
lengths = np.load(os.path.join(d, "lengths.npy"))
per_image = int(plan["captions_per_image"])

sys.argv = ["x", "--embed_size", str(plan["embed"]), "--sim_dim", str(plan["sim"]), "--word_dim", str(plan["word"]),
            "--img_dim", str(plan["img_dim"]), "--batch_size", str(plan["batch"]), "--module_name", "SGR",
            "--lr", "2e-4", "--meta_lr", "1.7e-5", "--log_step", "100000000"]
opt = get_options()
opt.vocab_size = int(plan["vocab"])
net, meta = models.SGRAF(opt), models.Meta_Sim(input_size=opt.sim_dim)
M.SGRAF = models.SGRAF
optim = torch.optim.Adam(net.parameters(), lr=opt.lr)
meta_optim = torch.optim.Adam(meta.parameters(), lr=opt.lr)
bce = torch.nn.BCELoss()


def pairs(captions, images=None):
    """(images, padded captions, lengths) of caption ids with their images (default: their own)."""
    captions = list(captions)
    images = [c // per_image for c in captions] if images is None else list(images)
    lens = [int(lengths[c]) for c in captions]
    text = torch.zeros(len(captions), max(lens), dtype=torch.long)
    for i, c in enumerate(captions):
        text[i, :lens[i]] = torch.from_numpy(tokens[c, :lens[i]].astype(np.int64))
    return torch.from_numpy(feats[images]), text, lens


class MetaLoader:
    """The meta loader train() expects: a dataset that redraws negatives, batches of 5-tuples."""
    class _D:
        def get_add_non_correspondence_idx(self):
            pass
    dataset = _D()

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        for b in self.batches:
            im, tx, ln = pairs(b["captions"], b["images"])
            yield im, tx, ln, list(b["labels"]), list(range(len(ln)))


class Loader(list):
    """A list of batches with the dataset length encode_data() reads."""
    def __init__(self, batches, n):
        super().__init__(batches)
        self.dataset = range(n)


def warmup(k):
    im, tx, ln = pairs(plan["warmup_batches"][k])
    M.warmup(opt, [(im, tx, ln, list(range(len(ln))))], net, meta, optim, meta_optim)


def train(k):
    im, tx, ln = pairs(plan["train_batches"][k])
    M.train(opt, [(im, tx, ln, None, None, None, None)], MetaLoader([plan["meta_batches"][k]]),
            net, meta, optim, meta_optim, 0, bce)


def purify():
    p = plan["purify"]
    net.eval(); meta.eval()
    with torch.no_grad():
        sm, lm = [], []
        for b in p["meta_batches"]:
            im, tx, ln = pairs(b["captions"], b["images"])
            sm.extend(net.get_sim_individual(im, tx, ln, meta).flatten().tolist())
            lm.extend(b["labels"])
        sims = []
        ids = list(range(p["captions"]))
        for s in range(0, len(ids), p["chunk"]):
            im, tx, ln = pairs(ids[s:s + p["chunk"]])
            sims.extend(net.get_sim_individual(im, tx, ln, meta).flatten().tolist())
    sm, lm = np.array(sm), np.array(lm)
    noise, clean = sm[lm < 0.5], sm[lm > 0.5]
    for x in (noise, clean):
        x[x >= 1] = 1 - 10e-4; x[x <= 0] = 10e-4
    bmm = refenv.GeneralMixtureModel([refenv.TrueBetaDistribution.from_samples(noise),
                                      refenv.TrueBetaDistribution.from_samples(clean)])
    x = np.array(sims); x[x >= 1] = 1 - 10e-4; x[x <= 0] = 10e-4
    x = x.reshape(-1, 1)
    bmm.fit(x, stop_threshold=1e-2, max_iterations=10)
    _ = bmm.predict_proba(x)[:, 1] > 0.5


def evaluate():
    e = plan["eval"]
    n_img, n_cap, chunk = e["images"], e["images"] * per_image, e["chunk"]
    batches = []
    for s in range(0, n_cap, chunk):
        ids = list(range(s, min(s + chunk, n_cap)))
        im, tx, ln = pairs(ids)
        batches.append((im, tx, ln, ids))
    ie, ce, cl = E.encode_data(net, Loader(batches, n_cap), 100000000)
    ie = np.array([ie[i] for i in range(0, len(ie), per_image)])
    E.shard_attn_scores(net, ie, ce, cl, meta, opt, shard_size=e["shard"])


phases = {"warmup": warmup, "train": train, "purify": lambda _: purify(), "eval": lambda _: evaluate()}
out = sys.stdout
for line in sys.stdin:
    parts = line.split()
    if not parts or parts[0] == "quit":
        break
    try:
        arg = int(parts[1]) if len(parts) > 1 else 0
        with contextlib.redirect_stdout(sys.stderr):
            t = time.perf_counter()
            phases[parts[0]](arg)
            dt = time.perf_counter() - t
        out.write(f"ok {dt:.6f}\n")
    except Exception as ex:  # reported to the Swift side, which stops comparing this phase
        out.write(f"error {type(ex).__name__}: {str(ex).splitlines()[0] if str(ex) else ''}\n")
    out.flush()
