"""A COCO-shaped precomp folder: {train,dev,test}_ims.npy float32 [N, 36, D] and {split}_caps.txt
with 5 captions per image, dev 1,000 images (5,000 captions, all of them the COCO rule's dev
meta pairs), and a test split cut into folds by `--folds` (COCO: 5,000 images, folds of 1,000).

Each image shows a coloured object doing something somewhere: some regions carry the object and
colour, some the place, some the action, the rest clutter (ReLU features, as bottom-up features
are). Captions name them through varied templates and synonyms, with the odd quote, hyphen or
clitic, so retrieval is learnable and the tokenizer sees real punctuation.

    /root/refvenv/bin/python generate.py OUT [--train 3000] [--dev 1000] [--test 500] [--dim 128] [--seed 0]
"""
import argparse
import os

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--train", type=int, default=3000)
p.add_argument("--dev", type=int, default=1000)
p.add_argument("--test", type=int, default=500)
p.add_argument("--dim", type=int, default=128)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()

COLORS = ["red", "blue", "green", "yellow", "black", "white", "orange", "purple"]
OBJECTS = [("dog", "puppy"), ("cat", "kitten"), ("man", "guy"), ("woman", "lady"), ("child", "kid"),
           ("horse", "pony"), ("bus", "coach"), ("car", "vehicle"), ("bicycle", "bike"), ("boat", "ship"),
           ("bird", "parrot"), ("train", "locomotive"), ("skateboarder", "skater"), ("surfer", "wave-rider"),
           ("cow", "calf"), ("elephant", "tusker"), ("giraffe", "animal"), ("truck", "lorry"),
           ("kite", "glider"), ("umbrella", "parasol")]
PLACES = ["beach", "street", "park", "kitchen", "field", "city square", "snowy hill", "river bank", "market", "airport"]
ACTIONS = [("running", "sprinting"), ("sitting", "resting"), ("jumping", "leaping"), ("standing", "waiting"),
           ("turning", "spinning"), ("eating", "chewing"), ("sleeping", "napping"), ("playing", "having fun")]
TEMPLATES = [
    "a {color} {obj} {act} at the {place}.",
    "A {obj} that is {color} is {act} near the {place}",
    "there's a {color} {obj} {act} in the {place}.",
    "The {place} with a {color} {obj} {act}",
    "{color} {obj} -- {act} -- on a {place} background",
    "a photo of a \"{color}\" {obj} {act} by the {place}.",
    "someone's {color} {obj}, {act} in a well-known {place}",
]

rng = np.random.default_rng(a.seed)
R, D = 36, a.dim
basis = {name: rng.standard_normal(D).astype(np.float32) for name in
         [f"c:{c}" for c in COLORS] + [f"o:{o[0]}" for o in OBJECTS] + [f"p:{p}" for p in PLACES] + [f"a:{x[0]}" for x in ACTIONS]}


def image(c, o, pl, ac):
    regions = rng.standard_normal((R, D)).astype(np.float32) * 0.6
    slots = rng.permutation(R)
    for r in slots[:8]:
        regions[r] += basis[f"o:{OBJECTS[o][0]}"] + 0.7 * basis[f"c:{COLORS[c]}"]
    for r in slots[8:14]:
        regions[r] += basis[f"p:{PLACES[pl]}"]
    for r in slots[14:18]:
        regions[r] += basis[f"a:{ACTIONS[ac][0]}"]
    return np.maximum(regions, 0)


def captions(c, o, pl, ac):
    out = []
    for t in rng.choice(len(TEMPLATES), 5, replace=False):
        obj = OBJECTS[o][rng.integers(2)]
        act = ACTIONS[ac][rng.integers(2)]
        out.append(TEMPLATES[t].format(color=COLORS[c], obj=obj, act=act, place=PLACES[pl]))
    return out


os.makedirs(a.out, exist_ok=True)
for split, n in [("train", a.train), ("dev", a.dev), ("test", a.test)]:
    feats = np.empty((n, R, D), dtype=np.float32)
    lines = []
    for i in range(n):
        c, o, pl, ac = rng.integers(len(COLORS)), rng.integers(len(OBJECTS)), rng.integers(len(PLACES)), rng.integers(len(ACTIONS))
        feats[i] = image(c, o, pl, ac)
        lines += captions(c, o, pl, ac)
    np.save(os.path.join(a.out, f"{split}_ims.npy"), feats)
    with open(os.path.join(a.out, f"{split}_caps.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(split, n, "images", len(lines), "captions", feats.shape)
