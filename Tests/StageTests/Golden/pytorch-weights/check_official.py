"""Loads weights exported by `mscn weights export` (safetensors, or an official .pth.tar checkpoint)
into the official model and compares scores.

Each net in the file (metadata `nets`) becomes the official SGRAF + Meta_Sim built from its
`reference_opt.<net>` metadata, loaded with safetensors.torch.load_file and
load_state_dict(strict=True); the scores of the nets are averaged, as evaluation does.

    # inputs and expected scores from a parity dump (one net, its out/sims):
    check_official.py W.safetensors --dump DIR
    # a split scored by mscn-evaluate --scores (export the tensors with `mscn tensor export-npy`):
    check_official.py W.safetensors --features F.npy --tokens T.npy --offsets O.npy --expect S.npy

Prints the largest absolute score difference and exits 1 if it exceeds --tolerance.
"""
import argparse
import json
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import exported_split
from official_models import build, dump_array, scores

p = argparse.ArgumentParser()
p.add_argument("weights")
p.add_argument("--dump")
p.add_argument("--features")
p.add_argument("--tokens")
p.add_argument("--offsets")
p.add_argument("--expect")
p.add_argument("--first-images", type=int, default=0, help="score only the first N images and their captions")
p.add_argument("--captions-per-image", type=int, default=5)
p.add_argument("--tolerance", type=float, default=1e-5)
a = p.parse_args()

models = []
if a.weights.endswith((".pth.tar", ".pth", ".pt")):
    # An official checkpoint (`mscn weights export ... OUT.pth.tar`), loaded as the official code loads one.
    checkpoint = torch.load(a.weights, weights_only=False)
    o = vars(checkpoint["opt"])
    options = {k: o[k] for k in ("img_dim", "embed_size", "word_dim", "sim_dim", "vocab_size", "num_layers", "bi_gru",
                                 "no_imgnorm", "no_txtnorm", "module_name", "sgr_step", "margin")}
    options["meta_hidden"] = o["meta_net_hidden_size"]
    for net in sorted(k[4:] for k in checkpoint if k.startswith("net_")):
        sgraf, meta_sim = build(options)
        sgraf.load_state_dict(checkpoint[f"net_{net}"], strict=True)
        meta_sim.load_state_dict(checkpoint[f"meta_net_{net}"], strict=True)
        models.append((sgraf, meta_sim))
else:
    with safe_open(a.weights, framework="pt") as f:
        meta = f.metadata()
    state = load_file(a.weights)
    for net in meta["nets"].split(","):
        sgraf, meta_sim = build(json.loads(meta[f"reference_opt.{net}"]))
        for module, key in [(sgraf, f"net_{net}."), (meta_sim, f"meta_net_{net}.")]:
            module.load_state_dict({k[len(key):]: v for k, v in state.items() if k.startswith(key)}, strict=True)
        models.append((sgraf, meta_sim))

if a.dump:
    images = dump_array(a.dump, "input/images")
    captions = dump_array(a.dump, "input/captions")
    lengths = dump_array(a.dump, "input/lengths")
    expected = dump_array(a.dump, "out/sims")
else:
    images, captions, lengths, expected = exported_split.load(a.features, a.tokens, a.offsets, a.expect,
                                                             a.first_images, a.captions_per_image)
# The official text encoder packs captions sorted by decreasing length (pack_padded_sequence's
# default), as the reference's collate sorts them; score in that order and put columns back.
order = np.argsort(-lengths, kind="stable")
got = np.empty_like(expected)
got[:, order] = np.mean([scores(n_, m_, images, captions[order], lengths[order]) for n_, m_ in models], axis=0)
diff = float(np.abs(got - expected).max())
print(f"{len(models)} net(s), scores {got.shape}: max |official - expected| = {diff:.3e} (tolerance {a.tolerance:g})")
sys.exit(0 if diff <= a.tolerance else 1)
