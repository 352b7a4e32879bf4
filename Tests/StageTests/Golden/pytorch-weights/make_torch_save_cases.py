"""Writes torch-save-cases.pth and torch-save-half.pth: small torch.save files for the reader's
tests (Tests/TensorFileTests/TorchSaveTests.swift): views with offsets and strides, scalars,
plain values, a nested state dict; and a float16 tensor, which the reader refuses.

    /root/refvenv/bin/python make_torch_save_cases.py
"""
import collections

import torch

x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
torch.save({
    "contiguous": x,
    "transposed": x.t(),              # strides (1, 4)
    "sliced": x[1:, 2:],              # offset 6, strides (4, 1)
    "count": torch.tensor(7, dtype=torch.int64),
    "ids": torch.tensor([1, -2, 3], dtype=torch.int32),
    "epoch": 3,
    "best_rsum": 412.5,
    "name": "cases",
    "sd": collections.OrderedDict(w=x[0].clone(), b=torch.tensor([0.5], dtype=torch.float64)),
}, "torch-save-cases.pth")
torch.save({"h": torch.ones(2, dtype=torch.float16)}, "torch-save-half.pth")
