"""Our driver of the official training loop (not official code; setup in README.md here), extended for the
comparison of README "The official code on the same data": the warm-up AUC of both nets (clean vs
noisy training pairs, clean labels from the noise map) and the AUC of every purification's scores,
and a check that the official tokenisation of an `mscn export precomp` folder gives the token ids
our corpus holds; per main-net step of every round, the mean score of the batch's own pairs (the
meta net's output), the mean self-adaptive margin and the loss (train_{A,B}.step_stats); resumable
runs in slices (--state, --stop-after-minutes); the warm-up pair saved as or started from
safetensors (--save-warmup-weights, --warmup-weights); one round of one net fed our batch plan
(--batch-plan: our mask, main batches, meta negatives and meta batches, in our order).

Run the official MSCN training loop (hhc1997/MSCN at $MSCN_REF) on CPU on a precomp folder and
record timings, per-epoch purification precision/recall, Beta-mixture fits, losses and dev/test
metrics as JSON.

The official model, losses, warmup(), split_data(), train() (meta step included) and evaluation
functions are called unchanged; only the driver and the environment (refenv.py) are ours:
  --warmup-batch-size  warm-up loader batch (official: 2 x batch size)
  --round-lr           lr of the epochs after the warm-up (official: --lr throughout)
  --noise-file         an existing caption->image index (.npy) that the official data.py loads
                       instead of drawing its own shuffle (so two implementations see one noise map)
  --max-steps N        stop every warm-up and training pass after N batches (timing runs only)
The defaults are the pipeline's built-in ones (64/32/32, batch 32, 10 warm-up epochs and 8 rounds at 5e-4); pass the paper's
(--embed-size 1024 --sim-dim 256 --word-dim 300 --img-dim 2048 --batch-size 128 --lr 2e-4) for those.
The official main() evaluates the warm-up pair on dev and keeps it unless a round beats it; the
summary's "official_main_would_test" says which pair that is, and both test results are recorded.
"""
import argparse, copy, functools, io, json, os, random, re, sys, time, contextlib, shutil
import numpy as np
import torch
import refenv
import data as D
import main_MSCN as M
import models
import utils as U
from opt import get_options
from vocab import deserialize_vocab
import evaluation_meta as E

p = argparse.ArgumentParser()
p.add_argument("--data-path", required=True); p.add_argument("--data-name", default="f30k_precomp")
p.add_argument("--vocab-path"); p.add_argument("--noise", type=float, default=0.5)
p.add_argument("--noise-file", default="")
p.add_argument("--epochs", type=int, default=8); p.add_argument("--warmup", type=int, default=10)
p.add_argument("--batch-size", type=int, default=32); p.add_argument("--warmup-batch-size", type=int, default=0)
p.add_argument("--embed-size", type=int, default=64)
p.add_argument("--word-dim", type=int, default=32); p.add_argument("--sim-dim", type=int, default=32)
p.add_argument("--img-dim", type=int, default=128); p.add_argument("--module", default="SGR")
p.add_argument("--lr", type=float, default=5e-4); p.add_argument("--round-lr", type=float, default=0.0)
p.add_argument("--meta-lr", type=float, default=1.7e-4)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--threads", type=int, default=2); p.add_argument("--out", default="summary.json")
p.add_argument("--max-steps", type=int, default=0)
p.add_argument("--state", default="", help="resumable state file: continue from it when it exists")
p.add_argument("--stop-after-minutes", type=float, default=0,
               help="with --state: pause (exit 3) at the first warm-up epoch or round boundary past this many minutes")
p.add_argument("--save-warmup-weights", default="", help="write the warm-up A/B pair as safetensors (mscn weights import)")
p.add_argument("--warmup-weights", default="", help="start the rounds from this safetensors warm-up pair (no warm-up epochs)")
p.add_argument("--dropout", type=float, default=None,
               help="set every nn.Dropout of the main nets (and of train()'s look-ahead copies) to this rate "
                    "(comparison runs: 0 with mscn-train --round-dropout 0 takes dropout randomness out)")
p.add_argument("--batch-plan", default="",
               help="our round's batch plan (mscn-train --batch-plan-out): that round of that net trains on our mask, "
                    "our main batches and our meta set and meta batches, in our order, instead of the loaders' shuffles")
a = p.parse_args()
torch.set_num_threads(a.threads)
out_dir = os.path.splitext(a.out)[0] + "_work"; os.makedirs(out_dir, exist_ok=True)
sys.argv = ["x", "--data_path", a.data_path, "--data_name", a.data_name,
            "--vocab_path", a.vocab_path or os.path.join(os.path.dirname(a.data_path.rstrip("/")), "vocab"),
            "--noise_ratio", str(a.noise), "--num_epochs", str(a.epochs), "--warmup_epoch", str(a.warmup),
            "--batch_size", str(a.batch_size), "--embed_size", str(a.embed_size), "--word_dim", str(a.word_dim),
            "--sim_dim", str(a.sim_dim), "--img_dim", str(a.img_dim), "--module_name", a.module,
            "--lr", str(a.lr), "--meta_lr", str(a.meta_lr), "--output_dir", out_dir, "--log_step", "100000"]
opt = get_options()
opt.noise_file = os.path.join(out_dir, f"noise_{a.noise}_{a.seed}.npy")
if a.noise_file:   # data.py loads an existing file instead of drawing its own shuffle
    shutil.copyfile(a.noise_file, opt.noise_file)
elif os.path.exists(opt.noise_file):
    os.remove(opt.noise_file)
if a.data_path.rstrip("/").endswith(a.data_name):   # get_dataset joins data_path/data_name itself
    opt.data_path = os.path.dirname(a.data_path.rstrip("/"))
    if not a.vocab_path:
        opt.vocab_path = os.path.join(opt.data_path, "vocab")
warmup_bs = a.warmup_batch_size or opt.batch_size * 2
round_lr = a.round_lr or a.lr

# --- environment patches carried over from run_official.py --------------------------------------
_init = D.PrecompDataset.__init__
def _init_capped(self, *args, **kw):
    _init(self, *args, **kw)
    self.length = min(self.length, len(self.captions))
D.PrecompDataset.__init__ = _init_capped
_collate = D.collate_fn
def _collate_ids_as_list(batch):
    out = _collate(batch)
    return out[:3] + (list(out[3]),) + out[4:] if len(out) == 4 else out
D.collate_fn = _collate_ids_as_list
MetaSim = functools.partial(models.Meta_Sim, input_size=opt.sim_dim)

# --- instrumentation (no behaviour change) -------------------------------------------------------
LOSSES = []     # (name, value) of every AverageMeter update
class RecMeter(U.AverageMeter):
    def update(self, val, n=1):
        LOSSES.append((self.name, float(val)))
        super().update(val, n)
M.AverageMeter = RecMeter

STEP_STATS = []   # (mean score p of the batch's own pairs, mean adaptive margin, loss) per main-net step
MAIN_CRITERIA = set()
_loss_forward = models.ContrastiveLoss.forward
def _rec_loss_forward(self, scores, hard_negative="none", probs=None, soft_margin=None):
    loss = _loss_forward(self, scores, hard_negative, probs, soft_margin)
    # Only the main nets' own criterion: the look-ahead copy (pseudo_net) has a fresh instance.
    if id(self) in MAIN_CRITERIA and probs is not None and soft_margin == "s_adaptive":
        with torch.no_grad():
            p = probs.detach().double()
            m = self.margin / (1 + torch.pow(p / (1 - p), -2))
            STEP_STATS.append((float(p.mean()), float(m.mean()), float(loss.detach())))
    return loss
models.ContrastiveLoss.forward = _rec_loss_forward

BMM_CAPTURE = {}
_GMM = refenv.GeneralMixtureModel
class RecGMM(_GMM):
    def __init__(self, distributions, weights=None):
        BMM_CAPTURE["init"] = [(d.alpha, d.beta) for d in distributions]
        super().__init__(distributions, weights)
    def fit(self, X, **kw):
        BMM_CAPTURE["x"] = np.asarray(X, dtype=np.float64).ravel().copy()
        r = super().fit(X, **kw)
        BMM_CAPTURE["final"] = dict(weights=self.weights.tolist(),
                                    params=[(d.alpha, d.beta) for d in self.distributions],
                                    iterations=len(self.history) - 1)
        return r
M.GeneralMixtureModel = RecGMM
_from_samples = refenv.TrueBetaDistribution.from_samples.__func__
META_SIMS = []
def _rec_from_samples(cls, x, weights=None):
    META_SIMS.append(np.asarray(x, dtype=np.float64).ravel().copy())
    return _from_samples(cls, x, weights)
M.TrueBetaDistribution.from_samples = classmethod(_rec_from_samples)

SPLIT_CAPTURE = {}   # pred / prob of the last split_data (what its labelled loader keeps)
PLAN = json.load(open(a.batch_plan)) if a.batch_plan else None


class PlanMetaDataset:
    """The meta loader's dataset as train() sees it: get_add_non_correspondence_idx() installs
    our round's negatives (caption, image) instead of drawing them."""
    def __init__(self, ds, captions, images):
        self.ds, self.captions, self.images = ds, captions, images
    def get_add_non_correspondence_idx(self):
        self.ds.rand_caption_idx = self.captions.copy()
        self.ds.nocor_rand_t2i_idx = self.images.copy()
    def __len__(self):
        return len(self.ds)


class PlanLoaders:
    """Our round, step by step: the main batches (PlanLoaders.train) and, for every meta step in
    order, its meta batch (PlanLoaders.meta; train() draws one per meta step, so one pass covers
    the round). Built on the official datasets; only the order and the pairs are ours."""
    def __init__(self, plan, official_pred, prob, caps_tr, ims_tr, meta_loader):
        steps = plan["steps"]
        pred = np.zeros(len(official_pred), dtype=bool)
        pred[np.asarray(plan["captions"], dtype=np.int64)] = True
        self.mask_differs = int((pred != np.asarray(official_pred, dtype=bool)).sum())
        dset = D.PrecompDataset_correct(caps_tr, ims_tr, "train_C", opt.noise_ratio, opt.noise_file,
                                        mode="labeled", pred=pred.astype(np.int64), probability=prob)
        pos = {int(c): i for i, c in enumerate(np.nonzero(pred)[0])}
        self.steps = [[pos[c] for c in st["captions"]] for st in steps]
        bad = sum(int(dset.t2i_index[pos[c]]) != i for st in steps for c, i in zip(st["captions"], st["images"]))
        if bad:
            raise SystemExit(f"batch plan: {bad} captions have another image in the official noisy map")
        self.dataset = dset
        ds = meta_loader.dataset
        m = plan["meta_positives"]
        pairs = plan["meta_pairs"]
        if m != len(ds.captions) or len(pairs) != 2 * m:
            raise SystemExit(f"batch plan: {m} meta positives and {len(pairs) - m} negatives; the official meta set has {len(ds.captions)} of each")
        if any(p[3] != 1 for p in pairs[:m]) or any(p[3] != 0 or p[0] != 0 for p in pairs[m:]):
            raise SystemExit("batch plan: meta pairs are not positives then training negatives")
        neg = np.asarray([p[1:3] for p in pairs[m:]], dtype=np.int64)
        self.meta_dataset = PlanMetaDataset(ds, neg[:, 0], neg[:, 1])
        self.meta_steps = [st.get("meta") for st in steps]
        if plan.get("meta_interval", 1) != 1 or opt.meta_interval != 1:
            raise SystemExit("batch plan: meta interval 1 only (ours steps at i % k == 0, the official code at (i+1) % k == 0)")
        self.summary = {"steps": len(steps), "captions": len(plan["captions"]), "mask_differs": self.mask_differs,
                        "meta_steps": sum(x is not None for x in self.meta_steps)}

    class _Main:
        def __init__(self, outer): self.o, self.dataset = outer, outer.dataset
        def __len__(self): return len(self.o.steps)
        def __iter__(self):
            for idx in self.o.steps:
                yield D.collate_fn([self.dataset[i] for i in idx])

    class _Meta:
        def __init__(self, outer): self.o, self.dataset = outer, outer.meta_dataset
        def __iter__(self):
            ds = self.dataset.ds
            for idx in self.o.meta_steps:
                if idx is not None:
                    yield D.collate_fn_meta_C([ds[i] for i in idx])

    @property
    def train(self): return PlanLoaders._Main(self)
    @property
    def meta(self): return PlanLoaders._Meta(self)


class Capped:
    """A loader that stops after n batches."""
    def __init__(self, loader, n):
        self.loader, self.n, self.dataset = loader, n, loader.dataset
    def __iter__(self):
        for i, b in enumerate(self.loader):
            if i >= self.n:
                return
            yield b
    def __len__(self):
        return min(len(self.loader), self.n)


timing = {}
def timed(name, fn, *args, steps=None, **kw):
    t = time.time(); r = fn(*args, **kw); dt = time.time() - t
    e = timing.setdefault(name, {"seconds": 0.0, "calls": 0, "steps": 0})
    e["seconds"] += dt; e["calls"] += 1; e["steps"] += steps or 0
    return r

def q(x):
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return None
    return {"n": int(x.size), "mean": float(x.mean()), "std": float(x.std()),
            "q05": float(np.quantile(x, .05)), "q50": float(np.median(x)), "q95": float(np.quantile(x, .95)),
            "min": float(x.min()), "max": float(x.max())}

def auc(scores, clean):
    """P(score of a clean pair > score of a noisy pair), ties half (Mann-Whitney U)."""
    from scipy.stats import rankdata
    scores, clean = np.asarray(scores, dtype=np.float64), np.asarray(clean).astype(bool)
    n1, n0 = int(clean.sum()), int((~clean).sum())
    if n1 == 0 or n0 == 0:
        return None
    r = rankdata(scores)
    return float((r[clean].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def train_scores(net, meta_net, loader):
    """Eval-mode diagonal scores of every training caption with its noisy image, in caption order
    (what split_data fits its mixture to). Leaves torch's RNG as it found it, so the official
    run continues exactly as without this measurement."""
    state = torch.get_rng_state()
    net.eval(); meta_net.eval()
    out = np.zeros(len(loader.dataset), dtype=np.float64)
    with torch.no_grad():
        for images, captions, lengths, ids, _ in loader:
            s = net.get_sim_individual(images, captions, lengths, meta_net)
            out[np.asarray(ids)] = s.reshape(-1).numpy()
    torch.set_rng_state(state)
    return out


def check_export_tokens(data_dir, split, captions_token, vocab):
    """The official tokenisation of an exported caption file must give our token ids: the export
    writes our ids as words separated by spaces, so splitting on spaces recovers them."""
    path = os.path.join(data_dir, f"{split}_caps.txt")
    with open(path) as f:
        ours = [[1] + [vocab.word2idx.get(w, 3) for w in line.split()] + [2] for line in f]
    bad = sum(a != b for a, b in zip(ours, captions_token)) + abs(len(ours) - len(captions_token))
    if bad:
        raise SystemExit(f"{path}: {bad} captions tokenise to other ids than the exported ones")
    return len(ours)


log = io.StringIO()
class Tee(io.TextIOBase):
    def write(self, s):
        sys.__stdout__.write(s); log.write(s); return len(s)


def evaluate(nets, loader):
    """Per-net and A+B ensemble retrieval, with the official encode/score/rank functions."""
    res, sims_sum = {}, 0
    for name, (n, mn) in nets.items():
        ie, ce, cl = E.encode_data(n, loader, 100000)
        ie = np.array([ie[i] for i in range(0, len(ie), 5)])
        s = E.shard_attn_scores(n, ie, ce, cl, mn, opt, shard_size=100)
        res[name] = metrics(ie.shape[0], s)
        sims_sum = sims_sum + s
    res["ensemble"] = metrics(ie.shape[0], sims_sum / len(nets))
    return res

def metrics(npts, sims):
    r = E.i2t(npts, sims, 5); ri = E.t2i(npts, sims, 5)
    return {"i2t_r1": float(r[0]), "i2t_r5": float(r[1]), "i2t_r10": float(r[2]), "i2t_medr": float(r[3]),
            "t2i_r1": float(ri[0]), "t2i_r5": float(ri[1]), "t2i_r10": float(ri[2]), "t2i_medr": float(ri[3]),
            "rsum": float(r[0] + r[1] + r[2] + ri[0] + ri[1] + ri[2])}

def purification_record(loader, clean_labels):
    """What split_data kept (from the labelled loader it returns) and the BMM it fitted."""
    ds = loader.dataset
    kept_labels = np.asarray(ds._labels)
    kept, clean_kept = len(kept_labels), int(kept_labels.sum())
    x = BMM_CAPTURE["x"]
    m_noise, m_clean = META_SIMS[-2], META_SIMS[-1]
    return {"kept": kept, "kept_fraction": kept / len(clean_labels),
            "precision": clean_kept / max(kept, 1), "recall": clean_kept / int(clean_labels.sum()),
            "auc": auc(x, clean_labels),
            "bmm_init": BMM_CAPTURE["init"], "bmm_final": BMM_CAPTURE["final"],
            "score_clean": q(x[clean_labels == 1]), "score_noisy": q(x[clean_labels == 0]),
            "meta_score_pos": q(m_clean), "meta_score_neg": q(m_noise),
            "p_clean_kept": q(np.asarray(ds.probability))}

def loss_summary(start):
    out = {}
    for name, v in LOSSES[start:]:
        if name in ("loss",):
            out.setdefault("values", []).append(v)
    vals = out.get("values", [])
    if not vals:
        return None
    k = max(1, len(vals) // 4)
    return {"steps": len(vals), "first": vals[0], "last": vals[-1], "mean": float(np.mean(vals)),
            "mean_first_quarter": float(np.mean(vals[:k])), "mean_last_quarter": float(np.mean(vals[-k:]))}


def save_state(path, phase, done, **extra):
    """Everything the run needs to continue where it stopped: weights, optimisers, every RNG, the
    meta set's current negatives, and the records so far."""
    ds = meta_loader.dataset
    st = dict(phase=phase, done=done, nets=[m.state_dict() for m in (nA, mA, nB, mB)],
              opts=[o.state_dict() for o in (oA, moA, oB, moB)], lr=opt.lr,
              torch_rng=torch.get_rng_state(), np_rng=np.random.get_state(), py_rng=random.getstate(),
              meta_neg=(ds.nocor_rand_t2i_idx, ds.rand_caption_idx), timing=timing, log=log.getvalue(),
              elapsed=time.time() - t_start, **extra)
    torch.save(st, path + ".tmp")
    os.replace(path + ".tmp", path)


def pause_if_due(phase, done, **extra):
    """With --stop-after-minutes: at a phase boundary past the budget, save the state and exit 3
    (run the same command again to continue; each invocation stays within the CPU-lock budget).
    Called only after an epoch or round of work, so repeated invocations always make progress."""
    if a.state and a.stop_after_minutes and time.time() - t_invocation > 60 * a.stop_after_minutes:
        save_state(a.state, phase, done, **extra)
        sys.__stdout__.write(f"paused after {phase} {done}; state in {a.state}\n")
        sys.exit(3)


def save_weights_safetensors(path):
    """The four modules in the checkpoint naming `mscn weights import` reads (net_A.*, meta_net_A.*, ...)."""
    from safetensors.torch import save_file
    nets = {"net_A": nA, "meta_net_A": mA, "net_B": nB, "meta_net_B": mB}
    save_file({f"{key}.{k}": v.contiguous() for key, m in nets.items() for k, v in m.state_dict().items()}, path)


def load_weights_safetensors(path):
    from safetensors.torch import load_file
    w = load_file(path)
    for key, m in {"net_A": nA, "meta_net_A": mA, "net_B": nB, "meta_net_B": mB}.items():
        m.load_state_dict({k[len(key) + 1:]: v for k, v in w.items() if k.startswith(key + ".")}, strict=True)


t_invocation = time.time()
t_start = t_invocation
resume = torch.load(a.state, weights_only=False) if a.state and os.path.exists(a.state) else None
if resume:
    t_start -= resume["elapsed"]
    timing.update(resume["timing"])
    log.write(resume["log"])
with contextlib.redirect_stdout(Tee()):
    M.init_seeds(a.seed)
    vocab = deserialize_vocab(os.path.join(opt.vocab_path, f"{opt.data_name}_vocab.json"))
    opt.vocab_size = len(vocab)
    caps_tr, ims_tr = D.get_dataset(opt.data_path, opt.data_name, "train", vocab)
    caps_me, ims_me = D.get_dataset(opt.data_path, opt.data_name, "meta", vocab)
    caps_dv, ims_dv = D.get_dataset(opt.data_path, opt.data_name, "dev", vocab)
    caps_te, ims_te = D.get_dataset(opt.data_path, opt.data_name, "test", vocab)
    data_dir = os.path.join(opt.data_path, opt.data_name)
    if os.path.exists(os.path.join(os.path.dirname(data_dir), "export.json")) and not resume:
        for split, caps in (("train", caps_tr), ("meta", caps_me), ("dev", caps_dv), ("test", caps_te)):
            print(f"token check {split}: {check_export_tokens(data_dir, split, caps, vocab)} captions match the exported ids")
    meta_loader = D.get_loader(caps_me, ims_me, "meta_C", opt.batch_size, 0, captions_add=caps_tr, images_add=ims_tr)
    val_loader = D.get_loader(caps_dv, ims_dv, "dev", opt.batch_size, 0)
    test_loader = D.get_loader(caps_te, ims_te, "test", opt.batch_size, 0)
    nA, mA, nB, mB = models.SGRAF(opt), MetaSim(), models.SGRAF(opt), MetaSim()
    M.SGRAF = models.SGRAF
    if a.dropout is not None:
        def with_dropout(net):
            for mod in net.modules():
                if isinstance(mod, torch.nn.Dropout):
                    mod.p = a.dropout
            return net
        with_dropout(nA); with_dropout(nB)
        M.SGRAF = lambda o: with_dropout(models.SGRAF(o))
        print(f"dropout of every main-net nn.Dropout set to {a.dropout}")
    MAIN_CRITERIA.update({id(nA.criterion), id(nB.criterion)})
    if a.max_steps:   # cap every training pass (split_data, validation and test still see all data)
        _gc = D.get_loader_correct
        M.get_loader_correct = lambda *x, **k: Capped(_gc(*x, **k), a.max_steps)
    _gc_split = M.get_loader_correct
    def _get_loader_correct_rec(*x, **k):
        SPLIT_CAPTURE.update(pred=np.asarray(k["pred"]).copy(), prob=np.asarray(k["prob"]).copy())
        return _gc_split(*x, **k)
    M.get_loader_correct = _get_loader_correct_rec
    bce = torch.nn.BCELoss()
    warm_loader, _, clean_labels = D.get_loader(caps_tr, ims_tr, "train", warmup_bs, 0,
                                                noise_ratio=opt.noise_ratio, noise_file=opt.noise_file)
    clean_labels = np.asarray(clean_labels)
    if a.max_steps:
        warm_loader = Capped(warm_loader, a.max_steps)
    print(f"clean captions {clean_labels.sum()} of {len(clean_labels)}; warm-up batch {warmup_bs}, "
          f"warm-up lr {opt.lr}, round lr {round_lr}, meta lr {opt.meta_lr}")

    def make_optimisers(lr, meta_lr):
        return (torch.optim.Adam(nA.parameters(), lr=lr), torch.optim.Adam(mA.parameters(), lr=meta_lr),
                torch.optim.Adam(nB.parameters(), lr=lr), torch.optim.Adam(mB.parameters(), lr=meta_lr))

    def restore(st):
        for m, sd in zip((nA, mA, nB, mB), st["nets"]):
            m.load_state_dict(sd)
        for o, sd in zip((oA, moA, oB, moB), st["opts"]):
            o.load_state_dict(sd)
        torch.set_rng_state(st["torch_rng"]); np.random.set_state(st["np_rng"]); random.setstate(st["py_rng"])
        meta_loader.dataset.nocor_rand_t2i_idx, meta_loader.dataset.rand_caption_idx = st["meta_neg"]

    warm = {"A": [], "B": []}
    oA, moA, oB, moB = make_optimisers(opt.lr, opt.lr)   # warm-up: the meta nets at the main lr
    warm_done = 0
    if resume and resume["phase"] == "warmup":
        restore(resume)
        warm, warm_done = resume["warm"], resume["done"]
    if a.warmup_weights:
        load_weights_safetensors(a.warmup_weights)
        print(f"warm-up weights from {a.warmup_weights}; no warm-up epochs run")
    elif not (resume and resume["phase"] == "rounds"):
        for e in range(warm_done, opt.warmup_epoch):
            for name, n, mn, o, mo in (("A", nA, mA, oA, moA), ("B", nB, mB, oB, moB)):
                s0 = len(LOSSES); t = time.time()
                timed("warmup", M.warmup, opt, warm_loader, n, mn, o, mo, steps=len(warm_loader))
                rec = loss_summary(s0); rec["seconds"] = time.time() - t
                warm[name].append(rec)
                print(f"warm-up {name} epoch {e + 1}: loss mean {rec['mean']:.4f} last quarter {rec['mean_last_quarter']:.4f}")
            if e + 1 < opt.warmup_epoch:
                pause_if_due("warmup", e + 1, warm=warm)
    auc_loader, _, _ = D.get_loader(caps_tr, ims_tr, "train_all", opt.batch_size * 64, 0,
                                    noise_ratio=opt.noise_ratio, noise_file=opt.noise_file, samper_seq=True)
    all_loader = auc_loader
    if resume and resume["phase"] == "rounds":
        opt.lr = round_lr
        oA, moA, oB, moB = make_optimisers(opt.lr, opt.meta_lr)
        restore(resume)
        r = resume
        warm, warm_dev, warm_auc, warm_state = r["warm"], r["warm_dev"], r["warm_auc"], r["warm_state"]
        epochs, best, best_ep, best_state, ep_done = r["epochs"], r["best"], r["best_ep"], r["best_state"], r["done"]
    else:
        with torch.no_grad():
            warm_dev = timed("validate", evaluate, {"A": (nA, mA), "B": (nB, mB)}, val_loader)
        print("warm-up dev rSum:", {k: v["rsum"] for k, v in warm_dev.items()})
        warm_state = [copy.deepcopy(m.state_dict()) for m in (nA, mA, nB, mB)]
        if a.save_warmup_weights:
            save_weights_safetensors(a.save_warmup_weights)
        warm_auc = {n: auc(train_scores(net, mn, auc_loader), clean_labels) for n, net, mn in (("A", nA, mA), ("B", nB, mB))}
        print("warm-up AUC (clean vs noisy training pairs):", warm_auc)
        # rounds: the reference re-creates the optimisers after the warm-up (meta lr from here on)
        opt.lr = round_lr
        oA, moA, oB, moB = make_optimisers(opt.lr, opt.meta_lr)
        epochs, best, best_ep, best_state, ep_done = [], -1, None, None, 0

    def round_state():
        return dict(warm=warm, warm_dev=warm_dev, warm_auc=warm_auc, warm_state=warm_state,
                    epochs=epochs, best=best, best_ep=best_ep, best_state=best_state)

    if ep_done == 0 and opt.num_epochs > 0 and not (resume and resume["phase"] == "rounds"):
        pause_if_due("rounds", 0, **round_state())
    def planned(net, rnd, split_loader):
        """The loaders train() gets for `net`'s round `rnd`: the official ones, or with a batch
        plan for that net and round, ours (on our mask; how far the official split's mask is from
        it is printed and recorded)."""
        if not PLAN or PLAN["net"].upper() != net or PLAN["round"] != rnd:
            return split_loader, meta_loader, None
        pl = PlanLoaders(PLAN, SPLIT_CAPTURE["pred"], SPLIT_CAPTURE["prob"], caps_tr, ims_tr, meta_loader)
        print(f"batch plan for net {net} round {rnd}: {pl.summary['steps']} steps over {pl.summary['captions']} "
              f"captions; our mask and the official split's differ in {pl.mask_differs} captions")
        return pl.train, pl.meta, pl.summary

    for ep in range(ep_done, opt.num_epochs):
        rec = {"epoch": ep + 1}
        n0 = len(log.getvalue())
        # Co-teaching: each net's purification picks the captions the other net trains on.
        for judge, (nJ, mJ), pupil, (nP, mP, oP, moP) in (("A", (nA, mA), "B", (nB, mB, oB, moB)),
                                                          ("B", (nB, mB), "A", (nA, mA, oA, moA))):
            t = time.time()
            kept = timed("split", M.split_data, opt, all_loader, meta_loader, nJ, mJ, caps_tr, ims_tr)
            rec[f"purify_{judge}"] = purification_record(kept, clean_labels)
            rec[f"purify_{judge}"]["seconds"] = time.time() - t
            loader, mloader, plan_rec = planned(pupil, ep + 1, kept)
            s0 = len(LOSSES); t = time.time(); k0 = len(STEP_STATS)
            timed("train", M.train, opt, loader, mloader, nP, mP, oP, moP, ep, bce, steps=len(loader))
            rec[f"train_{pupil}"] = loss_summary(s0); rec[f"train_{pupil}"]["seconds"] = time.time() - t
            if plan_rec: rec[f"train_{pupil}"]["batch_plan"] = plan_rec
            rec[f"train_{pupil}"]["step_stats"] = STEP_STATS[k0:]
        t = time.time()
        with torch.no_grad():
            rec["dev"] = timed("validate", evaluate, {"A": (nA, mA), "B": (nB, mB)}, val_loader)
        rec["dev_seconds"] = time.time() - t
        text = log.getvalue()[n0:]
        rec["correct_data_acc"] = [float(x) for x in re.findall(r"Correct data acc: ([0-9.]+)", text)]
        rec["total_data_acc"] = [float(x) for x in re.findall(r"Total data acc: ([0-9.]+)", text)]
        epochs.append(rec)
        r = rec["dev"]["ensemble"]["rsum"]
        print(f"round {ep + 1}: purify A prec {rec['purify_A']['precision']:.3f} rec {rec['purify_A']['recall']:.3f} "
              f"kept {rec['purify_A']['kept']}; purify B prec {rec['purify_B']['precision']:.3f} "
              f"rec {rec['purify_B']['recall']:.3f} kept {rec['purify_B']['kept']}; AUC A {rec['purify_A']['auc']} B {rec['purify_B']['auc']}; dev rSum {r:.1f} "
              f"(A {rec['dev']['A']['rsum']:.1f}, B {rec['dev']['B']['rsum']:.1f})")
        json.dump({"partial": True, "warmup_loss": warm, "warmup_dev": warm_dev, "warmup_auc": warm_auc, "epochs": epochs},
                  open(a.out + ".partial", "w"), indent=1)
        if r > best:
            best, best_ep = r, ep + 1
            best_state = [copy.deepcopy(m.state_dict()) for m in (nA, mA, nB, mB)]
        if ep + 1 < opt.num_epochs:
            pause_if_due("rounds", ep + 1, **round_state())

    def load(states):
        for m, s in zip((nA, mA, nB, mB), states):
            m.load_state_dict(s)
    with torch.no_grad():
        test_best = None
        if best_state is not None:
            load(best_state)
            test_best = timed("test", evaluate, {"A": (nA, mA), "B": (nB, mB)}, test_loader)
        load(warm_state)
        test_warm = timed("test", evaluate, {"A": (nA, mA), "B": (nB, mB)}, test_loader)
    official_pick = "warmup" if warm_dev["ensemble"]["rsum"] >= best else f"round {best_ep}"

for k, v in timing.items():
    if v["steps"]:
        v["seconds_per_step"] = v["seconds"] / v["steps"]
summary = {"config": vars(a), "warmup_batch_size": warmup_bs, "round_lr": round_lr,
           "torch": torch.__version__, "threads": torch.get_num_threads(),
           "clean_captions": int(clean_labels.sum()), "captions": int(len(clean_labels)),
           "timing": timing, "wall_seconds": time.time() - t_start,
           "warmup_loss": warm, "warmup_dev": warm_dev, "warmup_auc": warm_auc, "epochs": epochs,
           "best_round": best_ep, "best_dev_rsum": best,
           "test_best_round": test_best, "test_warmup_pair": test_warm,
           "official_main_would_test": official_pick}
json.dump(summary, open(a.out, "w"), indent=1)
open(os.path.splitext(a.out)[0] + ".log", "w").write(log.getvalue())
print(json.dumps({"timing": timing, "best_round": best_ep,
                  "test_best_round": test_best and test_best["ensemble"]["rsum"],
                  "test_warmup_pair": test_warm["ensemble"]["rsum"], "official_pick": official_pick}, indent=1))
