"""Builds the official MSCN models (SGRAF + Meta_Sim from $MSCN_REF/models.py) for a config.

Shared by the two scripts beside it. Only models.py is imported (it needs torch and numpy alone);
nothing of the official code is copied here.
"""
import json
import os
import sys
import types

import numpy as np
import torch

sys.path.insert(0, os.environ.get("MSCN_REF", os.path.expanduser("~/mscn_ref")))
torch.Tensor.cuda = lambda self, *a, **k: self  # CPU only
torch.nn.Module.cuda = lambda self, *a, **k: self
from models import SGRAF, Meta_Sim  # noqa: E402


def build(opt):
    """SGRAF(opt) and Meta_Sim for a dict of the reference's options (reference_opt.<net>)."""
    o = types.SimpleNamespace(grad_clip=2.0, **opt)
    return SGRAF(o), Meta_Sim(input_size=o.sim_dim, hidden_size=o.meta_hidden)


def dump_options(dump):
    """The reference options of a parity dump folder (manifest.json config)."""
    c = json.load(open(os.path.join(dump, "manifest.json")))["config"]
    return dict(img_dim=c["img_dim"], embed_size=c["embed"], word_dim=c["word_dim"], sim_dim=c["sim_dim"],
                vocab_size=c["vocab"], num_layers=1, bi_gru=True, no_imgnorm=False, no_txtnorm=False,
                module_name=c["module"], sgr_step=c.get("sgr_step", 3), margin=c.get("margin", 0.2),
                meta_hidden=c["meta_hidden"])


def dump_array(dump, name):
    return np.load(os.path.join(dump, name.replace("/", "__") + ".npy"))


def scores(net, meta, images, captions, lengths):
    """All-pairs scores [images, captions] of one net in eval mode, as the reference evaluates."""
    net.eval(); meta.eval()
    with torch.no_grad():
        img_emb, cap_emb, _ = net.forward_emb(torch.from_numpy(images), torch.from_numpy(captions), list(lengths))
        sims, _ = net.forward_sim(img_emb, cap_emb, list(lengths), meta)
    return sims.numpy()
