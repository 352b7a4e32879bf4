"""Reads a split exported from a run with `mscn tensor export-npy` (features, caption tokens and
offsets, and the scores `mscn-evaluate --scores` wrote), for the check scripts beside it."""
import numpy as np


def load(features, tokens, offsets, expect, first_images=0, captions_per_image=5):
    """(images [n, R, D], padded captions [m, Lmax] int64, lengths [m], expected scores [n, m]) for
    the first `first_images` images (all if 0) and their captions."""
    images = np.load(features)
    tokens, offsets = np.load(tokens), np.load(offsets)
    expected = np.load(expect)
    n = first_images or len(images)
    m = n * captions_per_image
    images, offsets, expected = images[:n], offsets[:m + 1], expected[:n, :m]
    lengths = np.diff(offsets)
    captions = np.zeros((len(lengths), int(lengths.max())), dtype=np.int64)
    for j in range(len(lengths)):
        captions[j, :lengths[j]] = tokens[offsets[j]:offsets[j + 1]]
    return images, captions, lengths, expected
