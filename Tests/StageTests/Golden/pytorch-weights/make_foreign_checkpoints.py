"""Writes checkpoints in the layouts of the two codebases MSCN builds on, and the scores their
own models give, so that importing them can be checked without Python:

- ncr-checkpoint.pth.tar: NCR (github.com/XLearning-SCU/2021-NeurIPS-NCR, NCR/co_train.py):
  {"epoch", "model_A", "model_B", "best_rsum", "opt"}, each model a list of three state dicts
  [img_enc, txt_enc, sim_enc] (NCR's SGRAF.state_dict()). Made from the `sgr/eval` parity dump's
  backbone in NCR's own SGRAF class; net B is net A plus 0.05; the score head `sim_enc.sim_eval_w`
  (which MSCN replaced by its meta net) is drawn from torch.manual_seed(7).
- sgraf-saf-checkpoint.pth.tar: SGRAF (github.com/Paranioar/SGRAF, branch python3.6, train.py):
  {"epoch", "model", "best_rsum", "opt", "Eiters"}, one model, made from the `saf/eval` dump in
  SGRAF's own class (the authors release their SGR and SAF models as two such files), saved in
  torch.save's format before PyTorch 1.6, as their files are.
- ncr-scores-a.npy, ncr-scores-b.npy, sgraf-saf-scores.npy: each model's all-pairs scores
  [images, captions] on its dump's batch, from the codebase's own forward_emb + forward_sim in
  eval mode.

    NCR_REF=/path/to/NCR SGRAF_REF=/path/to/SGRAF-python3.6 /root/refvenv/bin/python \
        make_foreign_checkpoints.py ../../../ModelTests/Golden/mscn-parity

NCR_REF is the folder holding NCR's model.py, SGRAF_REF the one holding SGRAF's model.py. Only
those model files are imported; nothing of either codebase is copied here.
"""
import argparse
import importlib.util
import os
import sys

import numpy as np
import torch

from official_models import dump_array, dump_options

torch.Tensor.cuda = lambda self, *a, **k: self  # CPU only
torch.nn.Module.cuda = lambda self, *a, **k: self


def module_from(folder, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, "model.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build(mod, dump, shift, head_seed):
    """The codebase's SGRAF with the dump's backbone (+ shift) and a seeded score head."""
    o = dump_options(dump)
    opt = argparse.Namespace(**o, grad_clip=2.0, learning_rate=2e-4, max_violation=True)
    model = mod.SGRAF(opt)
    for part, enc in [("img_enc", model.img_enc), ("txt_enc", model.txt_enc), ("sim_enc", model.sim_enc)]:
        state = {}
        for n, v in enc.state_dict().items():
            if n.startswith("sim_eval_w."):
                continue
            t = torch.from_numpy(dump_array(dump, f"param/net/{part}.{n}"))
            state[n] = t + shift if t.is_floating_point() else t
        if part == "sim_enc":
            torch.manual_seed(head_seed)
            head = torch.nn.Linear(o["sim_dim"], 1)
            state["sim_eval_w.weight"], state["sim_eval_w.bias"] = head.weight.data, head.bias.data
        torch.nn.Module.load_state_dict(enc, state, strict=True)
    return model, opt


def scores(model, dump):
    """All-pairs scores [images, captions]; captions sorted by length for the codebases whose
    GRU packing needs it, then put back in the dump's order."""
    model.val_start()
    images = torch.from_numpy(dump_array(dump, "input/images"))
    captions = torch.from_numpy(dump_array(dump, "input/captions"))
    lengths = dump_array(dump, "input/lengths")
    order = np.argsort(-lengths, kind="stable")
    with torch.no_grad():
        img, cap, lens = model.forward_emb(images, captions[order], [int(x) for x in lengths[order]])
        sims = model.forward_sim(img, cap, lens).numpy()
    out = np.empty_like(sims)
    out[:, order] = sims
    return out.astype(np.float32)


root = sys.argv[1]
ncr = module_from(os.environ["NCR_REF"], "ncr_model")
sgraf = module_from(os.environ["SGRAF_REF"], "sgraf_model")

a, opt = build(ncr, os.path.join(root, "sgr/eval"), 0.0, 7)
b, _ = build(ncr, os.path.join(root, "sgr/eval"), 0.05, 7)
torch.save({"epoch": 4, "model_A": a.state_dict(), "model_B": b.state_dict(), "best_rsum": 301.5, "opt": opt},
           "ncr-checkpoint.pth.tar")
np.save("ncr-scores-a.npy", scores(a, os.path.join(root, "sgr/eval")))
np.save("ncr-scores-b.npy", scores(b, os.path.join(root, "sgr/eval")))

s, opt = build(sgraf, os.path.join(root, "saf/eval"), 0.0, 11)
# In the format before PyTorch 1.6, as the authors' released models (trained with torch 1.x) are.
torch.save({"epoch": 20, "model": s.state_dict(), "best_rsum": 482.0, "opt": opt, "Eiters": 1234},
           "sgraf-saf-checkpoint.pth.tar", _use_new_zipfile_serialization=False)
np.save("sgraf-saf-scores.npy", scores(s, os.path.join(root, "saf/eval")))
print("wrote ncr-checkpoint.pth.tar, sgraf-saf-checkpoint.pth.tar and their scores")
