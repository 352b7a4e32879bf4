"""Dump golden tensors from the official MSCN model for parity tests of another implementation.

python parity_dump.py OUT_DIR [--module SGR|SAF] [--seed N] [--batch B] [--img-dim D] [--embed E]
                              [--word-dim W] [--sim-dim S] [--vocab V] [--lr LR] [--no-float64]
Writes OUT_DIR/{eval,train}/manifest.json plus one .npy per tensor.

This is the project's copy of the reference dump script (our driver, no official code),
extended with float64 truth: after the float32 pass the same weights (the float32 values, widened)
and the same inputs are run again with the model in float64, and every computed tensor is also
stored as `f64/<name>` (float64). Where a float32 result is an ill-conditioned sum (gradients that
cancel to a few ulps of their terms) the float64 value is the truth both float32 results are held to.
"""
import argparse
import json
import os
import types

import numpy as np
import torch

import refenv
from models import SGRAF, Meta_Sim
from utils import MetaAdam

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--module", default="SGR")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--batch", type=int, default=4)
p.add_argument("--img-dim", type=int, default=32)
p.add_argument("--embed", type=int, default=16)
p.add_argument("--word-dim", type=int, default=8)
p.add_argument("--sim-dim", type=int, default=8)
p.add_argument("--meta-hidden", type=int, default=64)
p.add_argument("--vocab", type=int, default=30)
p.add_argument("--lengths", default="")
p.add_argument("--lr", type=float, default=0.1, help="pseudo-step lr (large so the 2nd-order term is visible)")
p.add_argument("--meta-lr", type=float, default=1.7e-5)
p.add_argument("--main-lr", type=float, default=2e-4)
p.add_argument("--no-float64", action="store_true", help="skip the float64 rerun (f64/ tensors)")
a = p.parse_args()

torch.set_default_dtype(torch.float32)
opt = types.SimpleNamespace(img_dim=a.img_dim, embed_size=a.embed, word_dim=a.word_dim, sim_dim=a.sim_dim,
                            vocab_size=a.vocab, num_layers=1, bi_gru=True, no_imgnorm=False, no_txtnorm=False,
                            module_name=a.module, sgr_step=3, margin=0.2, grad_clip=2.0)
B, R = a.batch, 36


def batch(gen):
    imgs = torch.from_numpy(gen.standard_normal((B, R, a.img_dim)).astype(np.float32))
    imgs = imgs / imgs.norm(dim=-1, keepdim=True)
    if a.lengths:
        lens = [int(x) for x in a.lengths.split(",")][:B]
    else:
        lens = sorted(gen.integers(3, 10, B).tolist(), reverse=False)
        gen.shuffle(lens)
    caps = torch.zeros(B, max(lens), dtype=torch.long)
    for i, L in enumerate(lens):
        ids = gen.integers(4, a.vocab, L)
        ids[0], ids[-1] = 1, 2
        caps[i, :L] = torch.from_numpy(ids)
    return imgs, caps, lens


F64 = False  # set during the float64 rerun
TRUTH_PREFIXES = ("out/", "grad_", "step/pseudo_loss", "step/pseudo_param/", "step/meta_out", "step/meta_loss",
                  "step/meta_grad_", "step/main_loss", "step/main_grad/")


def save(d, name, t, man):
    if F64:
        if not name.startswith(TRUTH_PREFIXES):
            return
        name = "f64/" + name
    arr = t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)
    if arr.dtype == np.float64 and not F64:
        arr = arr.astype(np.float32)
    fn = name.replace("/", "__") + ".npy"
    np.save(os.path.join(d, fn), arr)
    man["tensors"][name] = {"file": fn, "shape": list(arr.shape), "dtype": str(arr.dtype)}


def grads(loss, named, retain=True):
    ps = [p for _, p in named]
    gs = torch.autograd.grad(loss, ps, retain_graph=retain, allow_unused=True)
    return {n: (g if g is not None else torch.zeros_like(p)) for (n, p), g in zip(named, gs)}


def dump(mode, man=None):
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(a.seed)
    gen = np.random.default_rng(a.seed)
    net, meta = SGRAF(opt), Meta_Sim(input_size=a.sim_dim, hidden_size=a.meta_hidden)
    for m in net.modules():  # non-trivial running statistics so eval mode is a real test
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.copy_(torch.from_numpy(gen.standard_normal(m.num_features).astype(np.float32) * 0.1))
            m.running_var.copy_(torch.from_numpy(gen.uniform(0.5, 1.5, m.num_features).astype(np.float32)))
    if F64:  # the float32 initial values, widened; every tensor made from here on is float64
        net.double(); meta.double()
        torch.set_default_dtype(torch.float64)
    d = os.path.join(a.out, mode)
    os.makedirs(d, exist_ok=True)
    man = man or {"mode": mode, "config": vars(a) | {"out": os.path.basename(os.path.normpath(a.out)), "regions": R, "num_layers": 1, "bi_gru": True, "sgr_step": 3,
                                              "margin": 0.2, "grad_clip": 2.0, "bn_eps": 1e-5, "bn_momentum": 0.1},
           "tensors": {}}
    for n, t in net.state_dict().items():
        save(d, "param/net/" + n, t, man)
    for n, t in meta.state_dict().items():
        save(d, "param/meta/" + n, t, man)
    imgs, caps, lens = batch(gen)
    imgs = imgs.to(torch.get_default_dtype())
    save(d, "input/images", imgs, man); save(d, "input/captions", caps, man)
    save(d, "input/lengths", np.array(lens, dtype=np.int64), man)
    if mode == "eval":
        net.eval(); meta.eval()
    else:
        for m in net.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
        net.train(); meta.train()
    named = [("net/" + n, p) for n, p in net.named_parameters()] + [("meta/" + n, p) for n, p in meta.named_parameters()]
    img_emb, cap_emb, _ = net.forward_emb(imgs, caps, lens)
    sims, sims_ind = net.forward_sim(img_emb, cap_emb, lens, meta)
    save(d, "out/img_emb", img_emb, man); save(d, "out/cap_emb", cap_emb, man)
    save(d, "out/sims", sims, man); save(d, "out/sims_diag", sims_ind, man)
    sims_individual = net.sim_enc.forward_individual(img_emb, cap_emb, lens, meta)
    save(d, "out/sims_individual", sims_individual, man)
    lw = net.criterion(sims)
    lt = net.criterion(sims, hard_negative="max_violation", probs=sims_ind.squeeze(), soft_margin="s_adaptive")
    save(d, "out/loss_warmup", lw, man); save(d, "out/loss_train", lt, man)
    for n, g in grads(lw, named).items():
        save(d, "grad_warmup/" + n, g, man)
    for n, g in grads(lt, named).items():
        save(d, "grad_train/" + n, g, man)
    if mode == "train":
        for n, t in net.state_dict().items():
            if "running" in n or "num_batches" in n:
                save(d, "after_forward/net/" + n, t, man)
        meta_step(d, man, net, meta, imgs, caps, lens, gen)
    if F64:
        return man
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(man, f, indent=1)
    return man


def meta_step(d, man, net, meta, imgs, caps, lens, gen):
    """One training step as the official train(): pseudo step, meta update, main update."""
    state0 = {k: v.clone() for k, v in net.state_dict().items()}
    for n, t in state0.items():
        save(d, "step/net_state_before/" + n, t, man)
    mimgs, mcaps, mlens = batch(gen)
    mimgs = mimgs.to(torch.get_default_dtype())
    labels = torch.tensor([1.0 if i < B // 2 else 0.0 for i in range(B)]).unsqueeze(-1)
    save(d, "step/meta_images", mimgs, man); save(d, "step/meta_captions", mcaps, man)
    save(d, "step/meta_lengths", np.array(mlens, dtype=np.int64), man); save(d, "step/meta_labels", labels, man)

    def pseudo_from(state):
        pn = SGRAF(opt)
        if F64:
            pn.double()
        pn.load_state_dict(state)
        for m in pn.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
        pn.train()
        return pn

    pn = pseudo_from(state0)
    ploss = pn(imgs, caps, lens, meta, warm_up=False, ind=False)
    save(d, "step/pseudo_loss", ploss, man)
    pgrads = torch.autograd.grad(ploss, pn.parameters(), create_graph=True)
    MetaAdam(pn, pn.parameters(), lr=a.lr).meta_step(pgrads)
    for n, t in pn.named_parameters():
        save(d, "step/pseudo_param/" + n, t, man)
    mout = pn(mimgs, mcaps, mlens, meta, warm_up=False, ind=True)
    mloss = torch.nn.BCELoss()(mout, labels)
    save(d, "step/meta_out", mout, man); save(d, "step/meta_loss", mloss, man)
    full = torch.autograd.grad(mloss, list(meta.parameters()), retain_graph=True)
    # direct part: pseudo weights as constants
    pn2 = pseudo_from({**state0, **{n: t.detach() for n, t in pn.named_parameters()}})
    # keep BN running stats of pn2 identical to pn before the meta forward (irrelevant in train mode)
    mout2 = pn2(mimgs, mcaps, mlens, meta, warm_up=False, ind=True)
    direct = torch.autograd.grad(torch.nn.BCELoss()(mout2, labels), list(meta.parameters()))
    for (n, _), gf, gd in zip(meta.named_parameters(), full, direct):
        save(d, "step/meta_grad_full/" + n, gf, man)
        save(d, "step/meta_grad_direct/" + n, gd, man)
    fn = torch.cat([g.flatten() for g in full]); dn = torch.cat([g.flatten() for g in direct])
    man["f64_second_order_rel_norm" if F64 else "second_order_rel_norm"] = float((fn - dn).norm() / fn.norm())
    # meta update (fresh Adam, as after warm-up), then the main step with the meta net frozen
    mopt = torch.optim.Adam(meta.parameters(), lr=a.meta_lr)
    mopt.zero_grad()
    for p_, g in zip(meta.parameters(), full):
        p_.grad = g.detach().clone()
    mopt.step()
    for n, t in meta.named_parameters():
        save(d, "step/meta_param_after/" + n, t, man)
    for p_ in meta.parameters():
        p_.requires_grad = False
    net.load_state_dict(state0)
    opt_main = torch.optim.Adam(net.parameters(), lr=a.main_lr)
    opt_main.zero_grad()
    loss = net(imgs, caps, lens, meta, warm_up=False, ind=False)
    loss.backward()
    save(d, "step/main_loss", loss, man)
    for n, p_ in net.named_parameters():
        save(d, "step/main_grad/" + n, p_.grad, man)
    torch.nn.utils.clip_grad_norm_(net.parameters(), 2.0)
    opt_main.step()
    for n, t in net.state_dict().items():
        save(d, "step/net_state_after/" + n, t, man)


for mode in ("eval", "train"):
    man = dump(mode)
    if not a.no_float64:
        F64 = True
        man = dump(mode, man)
        F64 = False
        with open(os.path.join(a.out, mode, "manifest.json"), "w") as f:
            json.dump(man, f, indent=1)
print("wrote", a.out)
