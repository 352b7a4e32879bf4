"""Writes official-checkpoint.pth.tar: the weights of a parity dump (eval mode) loaded into the
official SGRAF + Meta_Sim as net A and net B, saved by torch.save in the layout of the official
code's checkpoints (utils.save_checkpoint of main_MSCN.py: epoch, net_A, meta_net_A, net_B,
meta_net_B, best_rsum, opt as an argparse.Namespace). Net B's weights are net A's plus 1, so
the two nets are told apart. With --legacy, in the format before PyTorch 1.6, as checkpoints
saved by torch 1.x before 1.6 are.

    MSCN_REF=/root/mscn_ref /root/refvenv/bin/python make_official_checkpoint.py \
        ../../../ModelTests/Golden/mscn-parity/sgr/eval official-checkpoint.pth.tar [--legacy]
"""
import argparse
import sys

import torch

from official_models import build, dump_array, dump_options

dump, out = sys.argv[1], sys.argv[2]
legacy = sys.argv[3:] == ["--legacy"]
options = dump_options(dump)
state = {}
for net, shift in [("A", 0.0), ("B", 1.0)]:
    model, meta = build(options)
    for module, prefix, key in [(model, "param/net/", f"net_{net}"), (meta, "param/meta/", f"meta_net_{net}")]:
        loaded = {}
        for n, v in module.state_dict().items():
            t = torch.from_numpy(dump_array(dump, prefix + n))
            loaded[n] = t + shift if t.is_floating_point() else t
        module.load_state_dict(loaded, strict=True)
        state[key] = module.state_dict()
state.update(epoch=3, best_rsum=412.5, opt=argparse.Namespace(**options))
torch.save(state, out, _use_new_zipfile_serialization=not legacy)
print(out, sum(len(v) for k, v in state.items() if k.startswith(("net_", "meta_net_"))), "tensors")
