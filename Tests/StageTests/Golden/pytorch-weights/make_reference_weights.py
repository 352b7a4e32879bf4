"""Writes reference-<module>.safetensors: the weights of a parity dump (eval mode) loaded into the
official SGRAF + Meta_Sim with load_state_dict(strict=True), then saved by
safetensors.torch.save_file under the reference checkpoint's keys (net_A.*, meta_net_A.*).

    MSCN_REF=/root/mscn_ref /root/refvenv/bin/python make_reference_weights.py \
        ../../../ModelTests/Golden/mscn-parity/sgr/eval reference-sgr.safetensors
"""
import sys

import torch
from safetensors.torch import save_file

from official_models import build, dump_array, dump_options

dump, out = sys.argv[1], sys.argv[2]
net, meta = build(dump_options(dump))
for module, prefix in [(net, "param/net/"), (meta, "param/meta/")]:
    state = {n: torch.from_numpy(dump_array(dump, prefix + n)) for n in module.state_dict()}
    # num_batches_tracked is an int64 scalar; the dump stores it as int64 [] too.
    module.load_state_dict(state, strict=True)
weights = {f"net_A.{k}": v.contiguous() for k, v in net.state_dict().items()}
weights.update({f"meta_net_A.{k}": v.contiguous() for k, v in meta.state_dict().items()})
save_file(weights, out)
print(out, len(weights), "tensors")
