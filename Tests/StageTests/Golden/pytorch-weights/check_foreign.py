"""Scores a split with an NCR or SGRAF checkpoint in that codebase's own model and compares the
scores with `mscn-evaluate --scores` of the same checkpoint imported by `mscn weights import`.

    # export the evaluated split (as for check_official.py) and the scores mscn-evaluate wrote:
    check_foreign.py CKPT.pth.tar --code /path/to/folder/with/model.py \
        --features F.npy --tokens T.npy --offsets O.npy --expect S.npy [--first-images N]

NCR checkpoints ({"model_A", "model_B", "opt"}) average the two nets, as NCR's evaluation does;
SGRAF checkpoints ({"model", "opt"}) are one net. Only the codebase's model.py is imported.
Prints the largest absolute score difference and exits 1 if it exceeds --tolerance.
"""
import argparse
import importlib.util
import os
import sys

import numpy as np
import torch

import exported_split

torch.Tensor.cuda = lambda self, *a, **k: self  # CPU only
torch.nn.Module.cuda = lambda self, *a, **k: self

p = argparse.ArgumentParser()
p.add_argument("checkpoint")
p.add_argument("--code", required=True, help="folder holding the codebase's model.py")
p.add_argument("--features", required=True)
p.add_argument("--tokens", required=True)
p.add_argument("--offsets", required=True)
p.add_argument("--expect", required=True)
p.add_argument("--first-images", type=int, default=0)
p.add_argument("--captions-per-image", type=int, default=5)
p.add_argument("--tolerance", type=float, default=1e-5)
a = p.parse_args()

spec = importlib.util.spec_from_file_location("codebase_model", os.path.join(a.code, "model.py"))
code = importlib.util.module_from_spec(spec)
spec.loader.exec_module(code)

checkpoint = torch.load(a.checkpoint, map_location="cpu", weights_only=False)
opt = checkpoint["opt"]
for name, value in dict(grad_clip=2.0, learning_rate=2e-4, max_violation=True).items():
    if not hasattr(opt, name):
        setattr(opt, name, value)
keys = [k for k in ("model_A", "model_B", "model") if k in checkpoint]
models = []
for k in keys:
    m = code.SGRAF(opt)
    m.load_state_dict(checkpoint[k])
    m.val_start()
    models.append(m)

images, captions, lengths, expected = exported_split.load(a.features, a.tokens, a.offsets, a.expect,
                                                         a.first_images, a.captions_per_image)
# SGRAF's text encoder packs captions sorted by decreasing length; score in that order.
order = np.argsort(-lengths, kind="stable")
got = np.zeros_like(expected)
with torch.no_grad():
    for model in models:
        img, cap, lens = model.forward_emb(torch.from_numpy(images), torch.from_numpy(captions[order]),
                                           [int(x) for x in lengths[order]])
        got[:, order] += model.forward_sim(img, cap, lens).numpy() / len(models)
diff = float(np.abs(got - expected).max())
print(f"{len(models)} net(s) ({', '.join(keys)}), scores {got.shape}: max |codebase - expected| = {diff:.3e} (tolerance {a.tolerance:g})")
sys.exit(0 if diff <= a.tolerance else 1)
