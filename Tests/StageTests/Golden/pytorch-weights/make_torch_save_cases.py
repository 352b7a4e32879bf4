"""Writes torch-save-cases.pth and torch-save-half.pth: small torch.save files for the reader's
tests (Tests/TensorFileTests/TorchSaveTests.swift): views with offsets and strides, scalars,
plain values, a nested state dict; and a float16 tensor, which the reader refuses. And their
twins in the format before PyTorch 1.6 (torch-save-cases-legacy.pth, torch-save-half-legacy.pth),
which must read as the same tensors and values.

    /root/refvenv/bin/python make_torch_save_cases.py
"""
import collections

import torch

x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
cases = {
    "contiguous": x,
    "transposed": x.t(),              # strides (1, 4)
    "sliced": x[1:, 2:],              # offset 6, strides (4, 1)
    "count": torch.tensor(7, dtype=torch.int64),
    "ids": torch.tensor([1, -2, 3], dtype=torch.int32),
    "epoch": 3,
    "best_rsum": 412.5,
    "name": "cases",
    "sd": collections.OrderedDict(w=x[0].clone(), b=torch.tensor([0.5], dtype=torch.float64)),
}
half = {"h": torch.ones(2, dtype=torch.float16)}
for suffix, zip_format in [("", True), ("-legacy", False)]:
    # The legacy format names storages by their memory addresses: its files differ from run to run.
    torch.save(cases, f"torch-save-cases{suffix}.pth", _use_new_zipfile_serialization=zip_format)
    torch.save(half, f"torch-save-half{suffix}.pth", _use_new_zipfile_serialization=zip_format)
