#!/usr/bin/env python3
"""The bad-input campaign: ~730 damaged inputs over every command-line stage.

Every case runs one stage (or `mscn` subcommand) on inputs with one thing wrong: a truncated or
bit-flipped tensor file, a well-formed file with wrong contents (a token id past the vocabulary,
a NaN weight, a tensor of the wrong length or dtype), a damaged JPEG, a bad caption file, a bad
npy header, bad JSON, a missing file, an unwritable output, a full disk, a numeric option out of
bounds, an unknown option. A stage must fail cleanly: exit non-zero with one line
"<tool>: error: ..." (or the argument parser's "Error: ..."), no crash, no hang, no output that
looks finished and no temporary left behind.

    python3 Tests/Fuzz/fuzz.py [--bin .build/release] [--work Data/fuzz] [FILTER ...]

Inputs. The first run prepares its inputs under WORK/inputs with the binaries under test: a
small built-in data set (`mscn dataset generate`), then the stages as Pipelines/mscn.yaml runs
them (same flags, small sizes): ingest, features, noise, split, two warm-up epochs of both nets,
regime checks, one round (purify, train), dev and test evaluation, select-best, a report and a
precomp export; beside it a few artefacts made to mismatch (another run, a smaller vocabulary,
another model configuration, 64-dim features). Later runs reuse them while the binaries' digests
(and the files themselves) are unchanged. WORK/inputs/run is laid out as a run folder.

Verdicts. A case is flagged with one or more of:
    HANG                 killed after the per-case timeout
    CRASH                died of a signal, or a crash trace on stderr
    EXIT0                exit 0 where a failure was expected
    UNCLEAR              failed without a one-line error
    LEFT:<outputs>       failed but left an output that looks finished
    LITTER:<files>       left a temporary (hidden name) or stray file in its output folders
    FAILED-ON-VALID      failed on an input it should accept
    WRONG-REASON         failed, but not for the damage the case made (its `reason` pattern)
    HARNESS:<what>       the case's own setup failed: the case tested nothing
Each case says what it expects: 'fail' (the default), 'ok', or 'either' (both outcomes are right,
and a failure must still be clean); every 'ok' or 'either' that is not a control says why.

Root-only cases: the full-disk cases mount a 256 KiB tmpfs on WORK/full, and the unwritable-
folder cases run the tool as user nobody (setpriv), since root ignores file modes. Without root
(or when the mount or setpriv fails) they are skipped and counted as skipped.

Results: WORK/results.jsonl (one record per case) and WORK/fuzz.log (readable). Exit status 0
when every case that ran is clean, 1 otherwise (including a failed preparation).
Needs python3 and numpy; zstd through libzstd.so.1 (see tensorfile.py).
"""
import argparse
import hashlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib

import numpy as np

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tensorfile  # noqa: E402  (beside this file)

# The repository (Tests/Fuzz/..): the defaults of --bin and --work are inside it.
REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXECUTABLES = ('mscn', 'mscn-ingest', 'mscn-features', 'mscn-noise', 'mscn-split', 'mscn-train',
               'mscn-purify', 'mscn-evaluate')
CASE_TIMEOUT = 120          # seconds; the slowest clean case takes a few
PREPARE_TIMEOUT = 600       # one preparation step
# Bump when prepare_inputs() changes what it makes, so old prepared inputs are not reused.
INPUTS_RECIPE = 1

# The prepared pipeline: large enough for every stage to do real work (a warm-up epoch is 16
# batches), small enough that a whole training case takes about a second.
TRAIN_IMAGES, DEV_IMAGES, TEST_IMAGES = 100, 20, 20
# "Another run" for the mismatch cases: other images, other counts, the same vocabulary.
OTHER_TRAIN_IMAGES, OTHER_DEV_IMAGES, OTHER_TEST_IMAGES = 60, 10, 10
NOISE_RATIO = '0.7'
WARMUP_EPOCHS = 2
# Pipelines/mscn.yaml at layout=images.
MODEL_FLAGS = ['--module', 'sgr', '--embed-size', '64', '--sim-dim', '32', '--word-dim', '32']
BATCH_FLAGS = ['--warmup-batch-size', '32', '--batch-size', '32']
RATE_FLAGS = ['--lr', '0.0005', '--meta-lr', '0.00017']
DECAY_FLAGS = ['--lr-decay-every', '30']

CRASH_RE = re.compile(r'Fatal error|Stack dump|Current stack trace|Illegal instruction|Segmentation fault|'
                      r'Swift runtime failure|Aborted|core dumped|Trace/breakpoint|SIGSEGV|SIGILL|SIGBUS|'
                      r'Bus error|Unexpectedly found nil|Index out of range|Fatal', re.I)
PROGRESS_RE = re.compile(r'\d+/\d+ \(\d+%\)')
# The tool's own error ("mscn-train: error: ...", "mscn tensor verify: error: ...") or the
# argument parser's ("Error: ...", exit 64).
ERROR_LINE_RE = re.compile(r'^(mscn[\w-]*( [\w-]+)*: error: |Error: )')


class HarnessError(Exception):
    """The harness, not the tool under test, went wrong (a setup that changed nothing, say)."""


class PrepareError(Exception):
    """A preparation step failed: the binaries cannot make the campaign's inputs."""


# ------------------------------------------------------------------------------------ locations

class Paths:
    """Where things are; set once by main()."""
    bin = work = inputs = run = extra = cases = full = None


P = Paths()


def expand(text, case_dir=None):
    """Placeholders in case arguments: @D the case's folder, @R the prepared run folder,
    @X the prepared extras, @F the full-disk mount."""
    if '@D' in text:
        if case_dir is None:
            raise HarnessError('%s: @D outside a case' % text)
        text = text.replace('@D', case_dir)
    return text.replace('@R', P.run).replace('@X', P.extra).replace('@F', P.full)


def stage_environment():
    """The environment the pipeline gives its stages (Pipelines/mscn.yaml): Haswell kernels where
    the CPU has AVX2, idle OpenBLAS threads asleep, the serial replay of OpenBLAS's two-thread
    split. A value already set wins, as in the pipeline."""
    env = dict(os.environ)
    try:
        avx2 = ' avx2 ' in open('/proc/cpuinfo').read().replace('\n', ' ')
    except OSError:
        avx2 = False
    if avx2:
        env.setdefault('OPENBLAS_CORETYPE', 'Haswell')
    env.setdefault('OPENBLAS_THREAD_TIMEOUT', '12')
    env.setdefault('MSCN_SERIAL_BLAS', '1')
    return env


ENV = stage_environment()

# -------------------------------------------------------------------------------- case registry

CASES = []


class Case:
    """One run of one tool. argv[0] is the executable's name (found under --bin); argv and
    outputs may hold the placeholders of expand(). `outputs` are the paths that must not look
    finished after a failure; `reason`, when given, is a pattern the error line must match (for
    inputs that could be refused for some other, earlier reason). `needs` says which root-only
    facilities the case uses: 'full' (the tmpfs) or 'nobody' (setpriv)."""

    def __init__(self, stage, name, argv, expect='fail', why='', setup=None, outputs=(), user=None,
                 reason=None):
        if expect not in ('fail', 'ok', 'either'):
            raise ValueError('%s / %s: expect=%r' % (stage, name, expect))
        if expect != 'fail' and not why and 'control' not in name:
            raise ValueError('%s / %s: expect=%r needs a why' % (stage, name, expect))
        self.stage, self.name, self.argv = stage, name, list(argv)
        self.expect, self.why, self.setup = expect, why, setup
        self.outputs, self.user, self.reason = list(outputs), user, reason
        self.needs = set()
        if user == 'nobody':
            self.needs.add('nobody')
        if any('@F' in a for a in self.argv + self.outputs):
            self.needs.add('full')


def case(stage, name, argv, **kw):
    CASES.append(Case(stage, name, argv, **kw))


# ------------------------------------------------------------------------------ setup helpers
# A setup is f(case_dir, info): it writes the case's damaged inputs into the case folder. `info`
# carries the case's random generator (seeded by its name, so a case does the same damage
# whichever cases run with it), a detail list for the record, and the expectation, which a
# setup may relax when the damage lands where the tool never looks.

_bytes_cache = {}


def data_of(path):
    """The bytes of a prepared input (read once)."""
    path = expand(path)
    if path not in _bytes_cache:
        with open(path, 'rb') as f:
            _bytes_cache[path] = f.read()
    return _bytes_cache[path]


def put(path, blob):
    """Writes a file, unlinking first: case folders hold hard links to the prepared inputs."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.remove(path)
    with open(path, 'wb') as f:
        f.write(blob)


def seq(*steps):
    steps = [s for s in steps if s]

    def run(d, info):
        for s in steps:
            s(d, info)
    return run


def wrote(name, content):
    """@D/<name> = content (bytes, or a function of info giving bytes)."""
    def run(d, info):
        put(os.path.join(d, name), content(info) if callable(content) else content)
    return run


def copied(name, src):
    """@D/<name> = a private copy of a prepared file or folder (the tool may write to it)."""
    def run(d, info):
        s, dst = expand(src), os.path.join(d, name)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        (shutil.copytree if os.path.isdir(s) else shutil.copy)(s, dst)
    return run


def linked_tree(name, src):
    """@D/<name> = a folder of hard links to a prepared folder (cheap; edits go through put())."""
    def run(d, info):
        shutil.copytree(expand(src), os.path.join(d, name), copy_function=os.link, symlinks=True)
    return run


def removed(rel):
    def run(d, info):
        p = os.path.join(d, rel)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        elif os.path.lexists(p):
            os.remove(p)
        else:
            raise HarnessError('%s: nothing to remove' % rel)
    return run


def made_dir(rel):
    def run(d, info):
        os.makedirs(os.path.join(d, rel))
    return run


def made_symlink(rel, target):
    def run(d, info):
        os.symlink(target, os.path.join(d, rel))
    return run


def ro_folder(rel='out/ro'):
    """A folder only root may write; the case runs as nobody."""
    def run(d, info):
        p = os.path.join(d, rel)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, 0o755)
    return run


def damaged(name, src, how, unread=(), unread_why=''):
    """@D/<name> = the bytes of `src` damaged by how(data, rng) -> (bytes, flipped position or
    None). A flip inside a tensor the tool never reads (`unread`: name prefixes) cannot be
    noticed, since frames are checked when read: the case then expects either outcome."""
    def run(d, info):
        data = data_of(src)
        for _ in range(20):
            new, pos = how(data, info['rng'])
            if new == data:
                raise HarnessError('the damage changed nothing')
            if not decodes_alike(new, data):
                break
            # A flipped bit zstd ignores (seen: one in a compressed block's header) leaves a
            # valid file with the same contents: no damage to detect. Draw another.
            info['detail'].append('flip at byte %d left the contents unchanged: drawn again' % pos if pos is not None
                                  else 'a flip left the contents unchanged: drawn again')
        else:
            raise HarnessError('20 draws of the damage all left the contents unchanged')
        put(os.path.join(d, name), new)
        if pos is not None:
            tensor = tensorfile.tensor_at(data, pos) if data[:8] == tensorfile.HEAD_MAGIC else None
            info['detail'].append('flipped byte %d of %d%s' % (pos, len(data), ' (tensor %s)' % tensor if tensor else ''))
            if tensor and any(tensor.startswith(u) for u in unread):
                info['expect'] = 'either'
                info['why'] = '%s: the flipped byte lies in %s' % (unread_why, tensor)
    return run


def decodes_alike(new, old):
    """Whether damaged bytes still form a valid tensor file with the original's contents."""
    if old[:8] != tensorfile.HEAD_MAGIC:
        return False
    try:
        return tensorfile.same_contents(tensorfile.decode(new), tensorfile.decode(old))
    except tensorfile.TensorFileProblem:
        return False


def edited(name, src, change=None, frame_bytes=tensorfile.DEFAULT_FRAME_BYTES):
    """@D/<name> = the tensor file `src` with change(TensorFile) applied, re-written as a valid
    file (checksums right). Re-encoding is byte-exact, so a change that changes nothing is a
    harness error."""
    def run(d, info):
        tf = tensorfile.read(expand(src))
        if change:
            change(tf)
        new = tensorfile.encode(tf, frame_bytes)
        if new == data_of(src):
            raise HarnessError('the edit of %s changed nothing' % src)
        put(os.path.join(d, name), new)
    return run


def lines_edited(rel, fn):
    """Edits the text file @D/<rel> (already in the case folder) as a list of byte lines;
    fn may also return the whole new content as bytes."""
    def run(d, info):
        p = os.path.join(d, rel)
        raw = open(p, 'rb').read()
        lines = raw.split(b'\n')
        if lines and lines[-1] == b'':
            lines = lines[:-1]
        new = fn(lines)
        blob = new if isinstance(new, bytes) else b'\n'.join(new) + b'\n'
        if blob == raw:
            raise HarnessError('the edit of %s changed nothing' % rel)
        put(p, blob)
    return run


def replaced(data, old, new, count=1):
    """data with `old` replaced (must occur)."""
    if old not in data:
        raise HarnessError('%r not found' % old)
    return data.replace(old, new, count)


def fill_full_disk(d, info):
    """Fills the tmpfs to 0 bytes free before the tool starts."""
    fd = os.open(os.path.join(P.full, 'filler'), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b'\0' * size)
            except OSError:
                pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------ byte damage

def byte_variants(full=True):
    """(tag, how) for the byte-level damage of a tensor file: cuts, and one-bit flips in the
    magic, the first frame, the middle, the footer and the trailer. Positions are drawn when the
    case runs (they depend on the file's size)."""
    def cut(at):
        def how(data, rng):
            return data[:at(len(data))], None
        return how

    def flip(where):
        def how(data, rng):
            pos = where(data, rng)
            b = bytearray(data)
            b[pos] ^= 1 << rng.randrange(8)
            return bytes(b), pos
        return how

    def footer_pos(data, rng):
        footer_len = struct.unpack('<Q', data[-24:-16])[0]
        return len(data) - 24 - footer_len + rng.randrange(footer_len)

    cuts = [('trunc@0', lambda n: 0), ('trunc@1', lambda n: 1), ('trunc@7', lambda n: 7),
            ('trunc@half', lambda n: n // 2), ('trunc@-1', lambda n: n - 1), ('trunc@-9', lambda n: n - 9)]
    flips = [('flip-magic', lambda data, rng: 3),
             ('flip-head', lambda data, rng: rng.randrange(8, min(64, len(data)))),
             ('flip-mid', lambda data, rng: rng.randrange(len(data) // 4, 3 * len(data) // 4)),
             ('flip-footer', footer_pos),
             ('flip-trailer', lambda data, rng: len(data) - 1 - rng.randrange(24))]
    if not full:
        cuts = [c for c in cuts if c[0] in ('trunc@0', 'trunc@half', 'trunc@-1')]
        flips = [f for f in flips if f[0] in ('flip-head', 'flip-mid', 'flip-footer')]
    return [(tag, cut(at)) for tag, at in cuts] + [(tag, flip(where)) for tag, where in flips]


def simple_damage():
    """The three damages of the report, select-best and export cases."""
    return [('trunc@0', lambda data, rng: (b'', None)),
            ('trunc@half', lambda data, rng: (data[:len(data) // 2], None)),
            ('flip-mid', [h for t, h in byte_variants() if t == 'flip-mid'][0])]


def flip_in_frame(tensor, which, frame_bytes):
    """how(): re-frames the file in `frame_bytes` frames and flips a bit of one frame ('middle'
    or 'last') of `tensor`: damage deep inside a multi-frame file."""
    def how(data, rng):
        framed = tensorfile.encode(tensorfile.decode(data), frame_bytes)
        spans = [s for s in tensorfile.frame_spans(framed) if s[0] == tensor]
        if len(spans) < 3:
            raise HarnessError('%s has %d frames of %d bytes: not a multi-frame file' % (tensor, len(spans), frame_bytes))
        _, _, start, end = spans[-1] if which == 'last' else spans[len(spans) // 2]
        pos = rng.randrange(start, end)
        b = bytearray(framed)
        b[pos] ^= 1 << rng.randrange(8)
        return bytes(b), None
    return how


def flip_in_tensor(tensor):
    """how(): flips a bit inside the stored frames of `tensor`: damage where a tool that reads
    only some tensors must look."""
    def how(data, rng):
        spans = [s for s in tensorfile.frame_spans(data) if s[0] == tensor]
        if not spans:
            raise HarnessError('no frames of %s' % tensor)
        _, _, start, end = spans[rng.randrange(len(spans))]
        pos = rng.randrange(start, end)
        b = bytearray(data)
        b[pos] ^= 1 << rng.randrange(8)
        return bytes(b), pos
    return how


def set_values(name, fn):
    """change(): tensor `name` = fn(copy of its array)."""
    def change(tf):
        t = tf[name]
        t.array = fn(t.array.copy())
    return change


def at(i, v):
    def fn(a):
        a[i] = v
        return a
    return fn


def retyped(name, dtype):
    def change(tf):
        tf[name].dtype = dtype
    return change


def dropped(*names):
    def change(tf):
        for n in names:
            tf.drop(n)
    return change


def set_metadata(key, value):
    """value None removes the key (which must exist)."""
    def change(tf):
        if key not in tf.metadata:
            raise HarnessError('no metadata %r' % key)
        if value is None:
            del tf.metadata[key]
        else:
            tf.metadata[key] = value
    return change


def without_digest(tf):
    set_metadata('input_digest', None)(tf)


def chain(*changes):
    def change(tf):
        for c in changes:
            c(tf)
    return change


# ================================================================================== the cases
# Prepared inputs (see prepare_inputs): @R is a run folder with the pipeline's stage names.
CORPUS = '@R/ingest/data/corpus.tzst'
VOCAB = '@R/ingest/data/vocab.json'
ROOT = '@R/dataset/root'
FEAT_TRAIN = '@R/features_train/features'
FEAT_DEV = '@R/features_dev/features'
FEAT_TEST = '@R/features_test/features'
NOISE = '@R/noise/map'
META = '@R/split/meta'
WA1, WA1_LOG = '@R/warmup_a@1/ckpt', '@R/warmup_a@1/log'
WA2, WA2_LOG = '@R/warmup_a@2/ckpt', '@R/warmup_a@2/log'
WB1_LOG = '@R/warmup_b@1/log'
WB2 = '@R/warmup_b@2/ckpt'
PA1_MASK, PA1_REPORT = '@R/purify_a@1/mask', '@R/purify_a@1/report'
PB1_MASK = '@R/purify_b@1/mask'
TA1, TA1_LOG = '@R/train_a@1/ckpt', '@R/train_a@1/log'
TB1 = '@R/train_b@1/ckpt'
EV0, EV1 = '@R/evaluate_dev@0/metrics', '@R/evaluate_dev@1/metrics'
BEST = '@R/select/best'
TEST_METRICS, TEST_SCORES = '@R/evaluate_test/metrics', '@R/evaluate_test/scores'
REGIME_A = '@R/regime_a@2/regime'
PRECOMP = '@X/precomp/f30k_precomp'
PRECOMP_VOCAB = '@X/precomp/vocab/f30k_precomp_vocab.json'
OTHER = '@X/other'       # another small run: other images and counts, the same vocabulary


def train_captions():
    """Captions of the prepared training split (from the noise map, one entry per caption)."""
    return len(tensorfile.read(expand(NOISE))['t2i'].array)


def train_images():
    return train_captions() // 5


# ===== mscn-ingest (the prepared data set's root, hard-linked into each case)

ING_OUT = ['@D/out/data']
JPG = 'root/images/train_00005.jpg'
TRAIN_CAPS = 'root/train_caps.txt'


def jpeg_sof(field, value):
    """The prepared JPEG with one field of its baseline SOF0 segment changed."""
    def content(info):
        b = bytearray(data_of(ROOT + '/images/train_00005.jpg'))
        k = b.find(b'\xff\xc0')
        if k < 0:
            raise HarnessError('no SOF0 marker in the JPEG')
        # SOF0: FFC0, length (2), precision (1), height (2), width (2), components (1)
        if field == 'height':
            b[k + 5:k + 7] = struct.pack('>H', value)
        elif field == 'width':
            b[k + 7:k + 9] = struct.pack('>H', value)
        elif field == 'ncomp':
            b[k + 9] = value
        elif field == 'marker':
            b[k + 1] = value
        return bytes(b)
    return content


def ingest(name, edit=None, extra=(), root='@D/root', outdir='@D/out/data', **kw):
    case('mscn-ingest', name, ['mscn-ingest', '--layout', 'images', '--root', root, '--out-dir', outdir] + list(extra),
         setup=seq(linked_tree('root', ROOT), edit), outputs=ING_OUT + ([outdir] if outdir.startswith('@F') else []), **kw)


def define_ingest():
    jpg = lambda info: data_of(ROOT + '/images/train_00005.jpg')  # noqa: E731
    ingest('control (valid root)', expect='ok')
    ingest('jpeg: random bytes', wrote(JPG, lambda info: bytes(info['rng'].randrange(256) for _ in range(len(jpg(info))))))
    ingest('jpeg: empty file', wrote(JPG, b''))
    ingest('jpeg: truncated at half', wrote(JPG, lambda info: jpg(info)[:len(jpg(info)) // 2]))
    ingest('jpeg: truncated, last 2 bytes (EOI) cut', wrote(JPG, lambda info: jpg(info)[:-2]))
    ingest('jpeg: 20 bytes', wrote(JPG, lambda info: jpg(info)[:20]))
    ingest('jpeg: bit flip in entropy data', wrote(JPG, lambda info: (lambda j, k: j[:k] + bytes([j[k] ^ 0x10]) + j[k + 1:])(jpg(info), len(jpg(info)) * 3 // 4)),
           expect='either', why='JPEG has no checksum: a flipped bit decodes to other pixels, or to a decoder warning')
    ingest('jpeg: SOF width 0', wrote(JPG, jpeg_sof('width', 0)))
    ingest('jpeg: SOF height 65535', wrote(JPG, jpeg_sof('height', 65535)))
    ingest('jpeg: SOF 2 components', wrote(JPG, jpeg_sof('ncomp', 2)))
    ingest('jpeg: SOF0 -> SOF3 (lossless)', wrote(JPG, jpeg_sof('marker', 0xC3)))
    ingest('jpeg: PNG bytes named .jpg', wrote(JPG, b'\x89PNG\r\n\x1a\n' + bytes(200)))
    ingest('jpeg: zero bytes, --skip-bad', wrote(JPG, bytes(200)), extra=['--skip-bad'], expect='ok',
           why='--skip-bad drops an image that does not decode, with its captions')
    ingest('jpeg: is a directory', seq(removed(JPG), made_dir(JPG)))
    ingest('jpeg: dangling symlink', seq(removed(JPG), made_symlink(JPG, '/nonexistent/x.jpg')))
    ingest('image missing', removed(JPG))
    ingest('image missing, --skip-bad', removed(JPG), extra=['--skip-bad'], expect='ok', why='--skip-bad drops a missing image')
    ingest('images/ folder missing', removed('root/images'))
    ingest('images/ folder missing, --skip-bad', removed('root/images'), extra=['--skip-bad'],
           why='every image dropped: must fail, not write an empty corpus')
    ingest('jpeg of another size (32x32)', wrote(JPG, lambda info: data_of('@X/img32.jpg')), expect='ok',
           why='images are resized to --image-size')
    ingest('jpeg 1x1 (SOF patched)', wrote(JPG, jpeg_sof('height', 1)), expect='either',
           why='a 1-pixel-high header over 64 rows of data: decodes with a warning (an error) or to a 1x64 image resized')
    ingest('captions: one empty line', lines_edited(TRAIN_CAPS, lambda L: L[:7] + [b''] + L[8:]))
    ingest('captions: one whitespace-only line', lines_edited(TRAIN_CAPS, lambda L: L[:7] + [b'   \t '] + L[8:]))
    ingest('captions: punctuation-only line', lines_edited(TRAIN_CAPS, lambda L: L[:7] + [b'... !!'] + L[8:]), expect='either',
           why='punctuation tokens are words of their own: a caption of tokens is a caption')
    ingest('captions: one line fewer', lines_edited(TRAIN_CAPS, lambda L: L[:-1]))
    ingest('captions: one line more', lines_edited(TRAIN_CAPS, lambda L: L + [b'a red cross']))
    ingest('captions: 4 lines fewer', lines_edited(TRAIN_CAPS, lambda L: L[:-4]))
    ingest('captions: one line dropped in the middle', lines_edited(TRAIN_CAPS, lambda L: L[:100] + L[101:]))
    ingest('captions: empty file', wrote(TRAIN_CAPS, b''))
    ingest('captions: file missing', removed(TRAIN_CAPS))
    ingest('captions: non-UTF-8 byte', lines_edited(TRAIN_CAPS, lambda L: L[:7] + [L[7] + b' \xff\xfe caf\xe9'] + L[8:]))
    ingest('captions: Latin-1 file', lines_edited(TRAIN_CAPS, lambda L: L[:3] + [b'a caf\xe9 cr\xe8me square'] + L[4:]))
    ingest('captions: NUL byte in a line', lines_edited(TRAIN_CAPS, lambda L: L[:7] + [b'a red\x00 cross'] + L[8:]), expect='either',
           why='NUL is valid UTF-8: a word with a NUL in it, or a refusal')
    ingest('captions: no final newline', lines_edited(TRAIN_CAPS, lambda L: b'\n'.join(L)), expect='ok', why='a missing final newline is common')
    ingest('captions: CRLF line ends', lines_edited(TRAIN_CAPS, lambda L: b'\r\n'.join(L) + b'\r\n'), expect='ok', why='Windows line ends are common')
    ingest('captions: UTF-8 BOM', lines_edited(TRAIN_CAPS, lambda L: [b'\xef\xbb\xbf' + L[0]] + L[1:]), expect='either',
           why='a BOM is skipped or becomes part of the first word')
    ingest('captions: 1 MB line', lines_edited(TRAIN_CAPS, lambda L: L[:7] + [b'a red cross ' * 90000] + L[8:]), expect='either',
           why='a long caption is a caption; a length limit with a clear error is fine too')
    ingest('captions: binary file', wrote(TRAIN_CAPS, lambda info: bytes(info['rng'].randrange(256) for _ in range(200000))))
    ingest('dev captions: one line fewer', lines_edited('root/dev_caps.txt', lambda L: L[:-1]))
    ingest('dev captions: missing', removed('root/dev_caps.txt'))
    TI = 'root/train_images.txt'
    ingest('image list: one line fewer', lines_edited(TI, lambda L: L[:-1]))
    ingest('image list: empty line inside', lines_edited(TI, lambda L: L[:5] + [b''] + L[5:]))
    ingest('image list: duplicate name', lines_edited(TI, lambda L: L[:5] + [L[4]] + L[6:]), expect='either',
           why='an image listed twice (in place of another) is a legal if odd data set')
    ingest('image list: ../ traversal', lines_edited(TI, lambda L: L[:5] + [b'../train_caps.txt'] + L[6:]))
    ingest('image list: absolute path', lines_edited(TI, lambda L: L[:5] + [b'/etc/passwd'] + L[6:]))
    ingest('image list: non-UTF-8', lines_edited(TI, lambda L: L[:5] + [b'train_\xff.jpg'] + L[6:]))
    ingest('image list: empty', wrote(TI, b''))
    ingest('test list missing', removed('root/test_images.txt'))
    ingest('meta_images.txt without meta_caps.txt', wrote('root/meta_images.txt', b'dev_00000.jpg\n'))
    ingest('root does not exist', root='@D/nonexistent')
    ingest('root is a file', root='@D/root/train_caps.txt')
    ingest('out-dir not writable (nobody)', outdir='@D/out/ro/data', user='nobody', edit=ro_folder())
    ingest('out-dir is a file', outdir='@D/root/train_caps.txt')
    ingest('out-dir under a file', outdir='@D/root/train_caps.txt/data')
    ingest('out-dir on a full disk', outdir='@F/ingest')
    ingest('--captions-per-image 0', extra=['--captions-per-image', '0'])
    ingest('--captions-per-image -1', extra=['--captions-per-image', '-1'])
    ingest('--captions-per-image 7', extra=['--captions-per-image', '7'])
    ingest('--captions-per-image 3', extra=['--captions-per-image', '3'])
    ingest('--image-size 0', extra=['--image-size', '0'])
    ingest('--image-size -8', extra=['--image-size', '-8'])
    ingest('--image-size 100000', extra=['--image-size', '100000'], expect='either',
           why='a bound on the image size (memory) with a clear error, or a very large resize')
    ingest('--min-count -1', extra=['--min-count', '-1'], expect='either', why='below 1 is refused or means every word')
    ingest('--min-count 1000000', extra=['--min-count', '1000000'], expect='either',
           why='an empty vocabulary (every word unknown) is refused or accepted')
    ingest('--dev-limit -1', extra=['--dev-limit', '-1'])
    ingest('--vocab missing file', extra=['--vocab', '@D/nope.json'])
    ingest('--vocab empty file', extra=['--vocab', '@D/v.json'], edit=wrote('v.json', b''))
    ingest('--vocab truncated json', extra=['--vocab', '@D/v.json'], edit=wrote('v.json', lambda info: data_of(VOCAB)[:len(data_of(VOCAB)) // 2]))
    ingest('--vocab json of wrong shape', extra=['--vocab', '@D/v.json'], edit=wrote('v.json', b'{"word2idx": [1,2,3]}'))
    ingest('--vocab json list', extra=['--vocab', '@D/v.json'], edit=wrote('v.json', b'[]'))
    ingest('--vocab with duplicate indices', extra=['--vocab', '@D/v.json'], edit=wrote('v.json',
           b'{"word2idx": {"<pad>": 0, "<start>": 1, "<end>": 2, "<unk>": 3, "a": 4, "red": 4}, "idx2word": {"0":"<pad>","1":"<start>","2":"<end>","3":"<unk>","4":"a"}, "idx": 5}'))
    ingest('--vocab with negative index', extra=['--vocab', '@D/v.json'], edit=wrote('v.json',
           b'{"word2idx": {"<pad>": 0, "<start>": 1, "<end>": 2, "<unk>": 3, "a": -7}, "idx2word": {"0":"<pad>","1":"<start>","2":"<end>","3":"<unk>","-7":"a"}, "idx": 5}'))
    ingest('--layout bogus', extra=['--layout', 'bogus'])
    ingest('unknown option', extra=['--frobnicate'])
    case('mscn-ingest', 'missing --root', ['mscn-ingest', '--layout', 'images', '--out-dir', '@D/out/data'], outputs=ING_OUT)

    # precomp layout: the prepared run exported by `mscn export precomp`
    def precomp(name, edit=None, **kw):
        case('mscn-ingest', 'precomp: ' + name,
             ['mscn-ingest', '--layout', 'precomp', '--root', '@D/root', '--out-dir', '@D/out/data', '--vocab', PRECOMP_VOCAB],
             setup=seq(linked_tree('root', PRECOMP), edit), outputs=ING_OUT, **kw)
    npy = lambda: data_of(PRECOMP + '/train_ims.npy')  # noqa: E731
    IMS = 'root/train_ims.npy'

    def npy_header_patched(fn):
        """train_ims.npy with its header dict rewritten by fn(text), padded to the same length."""
        def content(info):
            data = npy()
            end = data.index(b'\n') + 1
            header = data[10:end].decode('latin-1')
            new = fn(header).strip()
            if new == header.strip():
                raise HarnessError('the header edit changed nothing')
            if len(new) > len(header) - 1:
                raise HarnessError('the new header is longer than the old one')
            return data[:10] + (new.ljust(len(header) - 1) + '\n').encode('latin-1') + data[end:]
        return content

    def header_end():
        return npy().index(b'\n') + 1

    precomp('control', expect='ok')
    for tag, cut in [('trunc@0', lambda n: 0), ('trunc@50', lambda n: 50), ('trunc@half', lambda n: n // 2), ('trunc@-1', lambda n: n - 1)]:
        precomp('train_ims.npy ' + tag, wrote(IMS, lambda info, cut=cut: npy()[:cut(len(npy()))]))
    precomp('npy header: bad magic', wrote(IMS, lambda info: b'\x93NUMPZ' + npy()[6:]))
    precomp('npy header: dtype <f8, same bytes', wrote(IMS, npy_header_patched(lambda h: h.replace("'<f4'", "'<f8'"))))
    precomp('npy header: dtype object', wrote(IMS, npy_header_patched(lambda h: h.replace("'<f4'", "'|O'"))))
    precomp('npy header: fortran_order True', wrote(IMS, npy_header_patched(lambda h: h.replace('False', 'True'))), expect='either',
            why='Fortran order is valid npy: transposed on reading, or refused')
    precomp('npy header: shape with more rows', wrote(IMS, npy_header_patched(
        lambda h: re.sub(r'\((\d+),', lambda m: '(%d,' % (int(m.group(1)) + 1), h))))
    precomp('npy header: shape 2-D', wrote(IMS, npy_header_patched(
        lambda h: re.sub(r'\((\d+), (\d+), (\d+)\)', lambda m: '(%d, %d)' % (int(m.group(1)) * int(m.group(2)), int(m.group(3))), h))))
    precomp('npy header: huge shape', wrote(IMS, npy_header_patched(lambda h: re.sub(r'\((\d+),', '(99999999999,', h))))
    precomp('npy header: garbage dict', wrote(IMS, npy_header_patched(lambda h: "{'descr': <f4, 'shape': )")))
    precomp('npy: NaN features', wrote(IMS, lambda info: npy()[:header_end()] + np.full((len(npy()) - header_end()) // 4, np.nan, '<f4').tobytes()))
    precomp('caps: one line fewer', lines_edited('root/train_caps.txt', lambda L: L[:-1]))


# ===== mscn-features (the prepared dev images)

IMAGES_DEV = '@R/ingest/data/images-dev.tzst'
IMAGES_TRAIN = '@R/ingest/data/images-train.tzst'


def features(name, images, extra=(), out='@D/out/features', **kw):
    case('mscn-features', name, ['mscn-features', '--images', images, '--out', out, '--seed', '0'] + list(extra),
         outputs=['@D/out/features'] + ([out] if out.startswith('@F') else []), **kw)


def define_features():
    features('control', IMAGES_DEV, expect='ok')
    for tag, how in byte_variants():
        features('images ' + tag, '@D/img', setup=damaged('img', IMAGES_DEV, how))

    def pixels(fn):
        return set_values('pixels', fn)
    img = lambda change: edited('img', IMAGES_DEV, change)  # noqa: E731
    features('pixels renamed', '@D/img', setup=img(lambda tf: setattr(tf['pixels'], 'name', 'pix')))
    features('pixels f32', '@D/img', setup=img(retyped('pixels', 'f32')))
    features('pixels rank 3', '@D/img', setup=img(pixels(lambda a: a.reshape(a.shape[0], a.shape[1], a.shape[2] * a.shape[3]))))
    features('pixels 0 images', '@D/img', setup=img(pixels(lambda a: a[:0])))
    features('pixels 1x1', '@D/img', setup=img(pixels(lambda a: a[:, :1, :1, :].copy())))
    features('pixels 5x5 (smaller than the 6x6 grid)', '@D/img', setup=img(pixels(lambda a: a[:, :5, :5, :].copy())))
    features('pixels 0x0', '@D/img', setup=img(pixels(lambda a: a[:, :0, :0, :].copy())))
    features('pixels 4 channels', '@D/img', setup=img(pixels(lambda a: np.concatenate([a, a[..., :1]], axis=3))))
    features('pixels 64x32 (not square)', '@D/img', setup=img(pixels(lambda a: a[:, :, :a.shape[2] // 2, :].copy())), expect='either',
             why='the 6x6 grid divides any image of at least 6x6 pixels; non-square is legal')
    features('corpus given as --images', CORPUS)
    features('features file given as --images', FEAT_DEV, expect='ok',
             why='documented: a file that already holds features is hard-linked to --out unchanged')
    features('NaN "features" file given as --images', '@D/img', expect='either',
             setup=edited('img', FEAT_DEV, set_values('features', lambda a: np.full_like(a, np.nan))),
             why='hard-linked unchanged (documented); the stages that read features reject NaN')
    features('--images missing', '@D/nope')
    features('--images is a directory', '@D')
    features('--dim 0', IMAGES_DEV, ['--dim', '0'])
    features('--dim -5', IMAGES_DEV, ['--dim', '-5'])
    features('--dim 100000000', IMAGES_DEV, ['--dim', '100000000'], expect='either', why='a bound (memory) with a clear error, or a huge projection')
    features('--chunk 0', IMAGES_DEV, ['--chunk', '0'])
    features('--chunk -1', IMAGES_DEV, ['--chunk', '-1'])
    features('--seed -1', IMAGES_DEV, ['--seed', '-1'], expect='either', why='seeds are unsigned: refused, or taken modulo 2^64')
    features('--seed not a number', IMAGES_DEV, ['--seed', 'abc'])
    features('unknown option', IMAGES_DEV, ['--frobnicate'])
    features('out dir not writable (nobody)', IMAGES_DEV, out='@D/out/ro/features', user='nobody', setup=ro_folder())
    features('out under a file', IMAGES_DEV, out=IMAGES_DEV + '/features')
    features('out in a missing folder', IMAGES_DEV, out='@D/out/no/such/features', expect='either',
             why='the folder is created, or its absence is an error up front')
    # The training images: their features (1.3 MB) cannot fit the 256 KiB disk.
    features('out on a full disk', IMAGES_TRAIN, out='@F/features')
    features('out is a directory', IMAGES_DEV, out='@D/out')


# ===== mscn-noise / mscn-split (the prepared corpus)

def noise(name, corpus, extra=(), out='@D/out/map', ratio=True, **kw):
    case('mscn-noise', name, ['mscn-noise', '--corpus', corpus] + (['--ratio', NOISE_RATIO] if ratio else []) +
         ['--seed', '0', '--protocol', 'caption', '--out', out] + list(extra),
         outputs=['@D/out/map', '@D/out/manifest.json'] + ([out] if out.startswith('@F') else []), **kw)


def split(name, corpus, extra=(), out='@D/out/meta', rule='flickr', **kw):
    case('mscn-split', name, ['mscn-split', '--corpus', corpus, '--rule', rule, '--seed', '0'] +
         (['--meta-fraction', '0.02'] if '--meta-fraction' not in extra else []) + ['--out', out] + list(extra),
         outputs=['@D/out/meta'], **kw)


def corpus_semantic():
    """(name, change) of well-formed corpus files with wrong contents."""
    def offsets(fn):
        return set_values('train/offsets', fn)

    def swap(o):
        o[10], o[11] = o[11], o[10]
        return o

    def last(o):
        o[-1] += 1000
        return o

    return [
        ('token id 9999', set_values('train/tokens', at(5, 9999))),
        ('token id -5', set_values('train/tokens', at(5, -5))),
        ('offsets not monotonic', offsets(swap)),
        ('last offset past the tokens', offsets(last)),
        ('first offset 3', offsets(at(0, 3))),
        ('offsets 1 short (captions not a multiple of K)', offsets(lambda o: o[:-1].copy())),
        ('offsets of 0 captions', offsets(lambda o: o[:1].copy())),
        ('train/offsets missing', dropped('train/offsets')),
        ('dev split missing', dropped('dev/tokens', 'dev/offsets')),
        ('tokens i64 instead of i32', retyped('train/tokens', 'i64')),
        ('meta captions_per_image 0', set_metadata('captions_per_image', '0')),
        ('meta captions_per_image abc', set_metadata('captions_per_image', 'abc')),
        ('meta captions_per_image missing', set_metadata('captions_per_image', None)),
        ('meta vocab_size 5', set_metadata('vocab_size', '5')),
    ]


def npy_bytes(array):
    import io
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def noise_index(edit=None, dtype='<i8'):
    """A valid per-caption noise index (.npy) of the prepared training split, then
    edit(array, images, captions), stored as `dtype`."""
    def content(info):
        m, n = train_captions(), train_images()
        index = np.array(random.Random(1).choices(range(n), k=m), dtype='<i8')
        if edit:
            index = edit(index, n, m)
        return npy_bytes(index.astype(dtype))
    return content


def define_noise_split():
    noise('control', CORPUS, expect='ok')
    split('control', CORPUS, expect='ok')
    for tag, how in byte_variants():
        noise('corpus ' + tag, '@D/corpus.tzst', setup=damaged('corpus.tzst', CORPUS, how))
    for tag, how in byte_variants(full=False):
        split('corpus ' + tag, '@D/corpus.tzst', setup=damaged('corpus.tzst', CORPUS, how))
    for name, change in corpus_semantic():
        noise('corpus: ' + name, '@D/corpus.tzst', setup=edited('corpus.tzst', CORPUS, change))
        split('corpus: ' + name, '@D/corpus.tzst', setup=edited('corpus.tzst', CORPUS, change))
    for r in ['1', '1.5', '-0.1', 'nan', 'inf', 'abc']:
        noise('--ratio ' + r, CORPUS, ['--ratio', r], ratio=False)
    noise('--ratio 0', CORPUS, ['--ratio', '0'], ratio=False, expect='ok', why='no noise: every caption stays clean')
    noise('no --ratio, no --import', CORPUS, ratio=False)
    noise('--split bogus', CORPUS, ['--split', 'bogus'])
    noise('--split dev', CORPUS, ['--split', 'dev'], expect='ok', why='noise on another split is allowed')
    noise('--protocol bogus', CORPUS, ['--protocol', 'bogus'])
    noise('--seed -1', CORPUS, ['--seed', '-1'], expect='either', why='seeds are unsigned: refused, or taken modulo 2^64')
    noise('unknown option', CORPUS, ['--frobnicate'])
    noise('--corpus missing', '@D/nope')
    noise('--corpus is features file', FEAT_DEV)
    noise('out not writable (nobody)', CORPUS, out='@D/out/ro/map', user='nobody', setup=ro_folder())
    noise('out under a file', CORPUS, out=CORPUS + '/map')
    noise('out on a full disk', CORPUS, out='@F/map', expect='either', why='the map (~1 KB) fits the empty 256 KiB disk')
    noise('--manifest not writable', CORPUS, ['--manifest', CORPUS + '/m.json'],
          why='the map must not be left finished when the manifest cannot be written')
    imp = lambda name, edit=None, dtype='<i8', **kw: noise(  # noqa: E731
        '--import ' + name, CORPUS, ['--import', '@D/imp.npy'], ratio=False, setup=wrote('imp.npy', noise_index(edit, dtype)), **kw)
    imp('control: a valid per-caption index', expect='ok')
    imp('index = image count (out of range)', lambda a, n, m: np.where(np.arange(m) == 7, n, a))
    imp('index -1', lambda a, n, m: np.where(np.arange(m) == 7, -1, a))
    imp('one entry short', lambda a, n, m: a[:-1])
    imp('0 entries', lambda a, n, m: a[:0])
    imp('float32', dtype='<f4')
    imp('2-D (images x 5)', lambda a, n, m: a.reshape(n, 5))
    imp('big-endian i8', dtype='>i8', expect='either', why='big-endian is valid npy: converted, or refused with a clear error')
    noise('--import truncated npy', CORPUS, ['--import', '@D/imp.npy'], ratio=False,
          setup=wrote('imp.npy', lambda info: noise_index()(info)[:len(noise_index()(info)) // 2]))
    noise('--import not npy', CORPUS, ['--import', '@D/imp.npy'], ratio=False, setup=wrote('imp.npy', b'hello'))
    noise('--import missing', CORPUS, ['--import', '@D/nope.npy'], ratio=False)
    noise('--import and --ratio', CORPUS, ['--import', '@D/imp.npy'], setup=wrote('imp.npy', noise_index()))
    for f in ['0', '-0.1', '1.5', 'nan', '0.5']:
        # 0.5: half the training captions as meta pairs, more than the dev split holds
        split('--meta-fraction ' + f, CORPUS, ['--meta-fraction', f])
    split('--rule bogus', CORPUS, rule='bogus')
    split('--rule given without a meta split', CORPUS, rule='given')
    split('--rule coco --coco-train-images -1', CORPUS, ['--coco-train-images', '-1'], rule='coco')
    split('--rule coco --coco-train-images 999999', CORPUS, ['--coco-train-images', '999999'], rule='coco')
    split('--rule coco --coco-train-images 0', CORPUS, ['--coco-train-images', '0'], rule='coco', expect='either',
          why='a meta set of the dev pairs only is a legal COCO split')
    split('unknown option', CORPUS, ['--frobnicate'])
    split('--corpus missing', '@D/nope')
    split('out not writable (nobody)', CORPUS, out='@D/out/ro/meta', user='nobody', setup=ro_folder())
    split('out under a file', CORPUS, out=CORPUS + '/meta')


# ===== mscn-train / mscn-purify (the prepared run)

TRAIN_INPUTS = dict(features=FEAT_TRAIN, corpus=CORPUS, noise=NOISE, meta=META, dev=FEAT_DEV)
OTHER_INPUTS = dict(features=OTHER + '/features_train', corpus=OTHER + '/data/corpus.tzst', noise=OTHER + '/noise',
                    meta=OTHER + '/meta', dev=OTHER + '/features_dev')
MASK_UNREAD = ('mscn-train reads only the mask\'s keep flags, and a frame is checked when it is read')


def common_flags(i):
    return ['--features', i['features'], '--corpus', i['corpus'], '--noise', i['noise'], '--meta', i['meta'],
            '--dev-features', i['dev'], '--seed', '0']


def train(mode, name, over=None, extra=(), out='@D/out/ckpt', log='@D/out/log', drop=(), **kw):
    """One mscn-train case. Modes: warmup (a fresh first epoch, as warmup_a@1), warmup-cont (the
    second epoch continuing warmup_a@1, as warmup_a@2), round (round 1 of net A, as train_a@1),
    regime (the regime check of warmup_a@2)."""
    i = dict(TRAIN_INPUTS, initial=WA1 if mode == 'warmup-cont' else WA2, mask=PB1_MASK, prevlog=WA1_LOG)
    i.update(over or {})
    outputs = ['@D/out/ckpt', '@D/out/log']
    if mode == 'warmup':
        argv = (['mscn-train', '--mode', 'warmup', '--net', 'a'] + common_flags(i) + MODEL_FLAGS + BATCH_FLAGS + RATE_FLAGS +
                ['--warmup-epochs', '1'] + DECAY_FLAGS + ['--out', out, '--log', log])
    elif mode == 'warmup-cont':
        argv = (['mscn-train', '--mode', 'warmup', '--net', 'a'] + common_flags(i) + MODEL_FLAGS + BATCH_FLAGS + RATE_FLAGS +
                ['--warmup-epochs', '2'] + DECAY_FLAGS + ['--initial', i['initial'], '--previous-log', i['prevlog'], '--out', out, '--log', log])
    elif mode == 'round':
        argv = (['mscn-train', '--mode', 'round', '--net', 'A', '--round', '1', '--initial', i['initial'], '--mask', i['mask']] +
                common_flags(i) + ['--batch-size', '32'] + RATE_FLAGS + ['--warmup-epochs', str(WARMUP_EPOCHS)] + DECAY_FLAGS +
                ['--out', out, '--log', log])
    elif mode == 'regime':
        argv = ['mscn-train', '--mode', 'regime', '--net', 'a', '--initial', i['initial']] + common_flags(i) + ['--regime', '@D/out/regime']
        outputs = ['@D/out/regime']
    else:
        raise ValueError(mode)
    for flag in drop:
        j = argv.index(flag)
        del argv[j:j + 2]
    outputs += [p for p in (out, log) if p.startswith('@F')]
    case('mscn-train/' + mode, name, argv + list(extra), outputs=outputs, **kw)


def purify(name, over=None, extra=(), out='@D/out/mask', report='@D/out/report', **kw):
    """One mscn-purify case: net B's warm-up scores the training captions (as purify_b@1)."""
    i = dict(TRAIN_INPUTS, ckpt=WB2)
    i.update(over or {})
    argv = ['mscn-purify', '--checkpoint', i['ckpt'], '--net', 'B', '--round', '1'] + common_flags(i) + ['--out', out, '--report', report]
    outputs = ['@D/out/mask', '@D/out/report'] + [p for p in (out, report) if p.startswith('@F')]
    case('mscn-purify', name, argv + list(extra), outputs=outputs, **kw)


def checkpoint_semantic():
    """(name, change, expect) of well-formed checkpoints with wrong contents."""
    def all_zero(tf):
        for t in tf.tensors:
            if t.name.startswith('net/') or t.name.startswith('meta/'):
                t.array = np.zeros_like(t.array)

    def config(fn):
        def change(tf):
            new = fn(tf.metadata['model_config'])
            if new == tf.metadata['model_config']:
                raise HarnessError('model_config unchanged')
            tf.metadata['model_config'] = new
        return change
    return [
        ('NaN weights (img_enc.fc.weight)', set_values('net/img_enc.fc.weight', lambda a: np.full_like(a, np.nan)), 'fail'),
        ('all weights zero', all_zero, 'either'),
        ('embed.weight one row short of vocabSize', set_values('net/txt_enc.embed.weight', lambda a: a[:-1].copy()), 'fail'),
        ('model_config missing', set_metadata('model_config', None), 'fail'),
        ('model_config not JSON', set_metadata('model_config', '{"embedDim": 64,'), 'fail'),
        ('model_config embedDim 48 (tensors 64)', config(lambda c: c.replace('"embedDim":64', '"embedDim":48')), 'fail'),
        ('format mscn-checkpoint-9', set_metadata('format', 'mscn-checkpoint-9'), 'fail'),
        ('tensor meta/output_layer.bias missing', dropped('meta/output_layer.bias'), 'fail'),
        ('img_enc.fc.weight as i32', retyped('net/img_enc.fc.weight', 'i32'), 'fail'),
    ]


ZERO_NET_WHY = 'an all-zero net is valid if useless: it trains (round) or scores every pair alike (purify refuses a zero-variance fit)'


def previous_log_damage():
    """(name, content(info)) of damaged warm-up logs for the continuation."""
    log = lambda: data_of(WA1_LOG)  # noqa: E731

    def non_numeric_loss(info):
        lines = log().split(b'\n')
        fields = lines[1].split(b'\t')
        fields[2] = b'xx' + fields[2][2:]
        lines[1] = b'\t'.join(fields)
        return b'\n'.join(lines)
    return [
        ('empty', lambda info: b''),
        ('truncated mid-line', lambda info: log()[:len(log()) // 2]),
        ('binary garbage', lambda info: bytes(range(256)) * 4),
        ('header only', lambda info: log().split(b'\n')[0] + b'\n'),
        ('non-numeric loss', non_numeric_loss),
        ('2 epochs (warmup_a@2/log) for a 1-epoch checkpoint', lambda info: data_of(WA2_LOG)),
        ('cut inside a line', lambda info: log()[:log().index(b'\n', len(log()) // 2) + 4]),
        ('missing its last 3 steps (whole lines)', lambda info: b'\n'.join(log().split(b'\n')[:-4]) + b'\n'),
    ]


def keep_only_first_training_caption(tf):
    """change(): the mask keeps one caption, the first the meta split leaves for training."""
    train_keep = tensorfile.read(expand(META))['train_keep'].array
    first = int(np.flatnonzero(train_keep)[0])
    keep = tf['keep']
    keep.array = (np.arange(len(keep.array)) == first).astype(keep.array.dtype)


def define_train():
    for mode in ['warmup', 'warmup-cont', 'round', 'regime']:
        train(mode, 'control', expect='ok')
    # --- byte damage
    for key, src, modes, full in [
            ('features', FEAT_TRAIN, ['warmup', 'round', 'regime'], None),
            ('corpus', CORPUS, ['warmup', 'round'], False),
            ('noise', NOISE, ['warmup', 'round'], False),
            ('meta', META, ['warmup', 'round'], False),
            ('dev', FEAT_DEV, ['warmup'], False),
            ('initial', WA2, ['round', 'regime'], None),
            ('initial', WA1, ['warmup-cont'], False),
            ('mask', PB1_MASK, ['round'], None)]:
        for mode in modes:
            for tag, how in byte_variants(full if full is not None else mode == modes[0]):
                unread = ('p_clean', 'score') if key == 'mask' else ()
                train(mode, '%s %s' % (key, tag), {key: '@D/in'}, setup=damaged('in', src, how, unread, MASK_UNREAD))
    train('round', 'mask: flip inside keep (the tensor it reads)', {'mask': '@D/in'}, setup=damaged('in', PB1_MASK, flip_in_tensor('keep')))
    # --- damage deep inside multi-frame files (the prepared files have one frame per tensor)
    train('round', 'control: checkpoint re-written in 4 KiB frames', {'initial': '@D/in'}, expect='ok',
          setup=edited('in', WA2, frame_bytes=4096), why='any frame size up to 64 MiB is valid')
    train('round', 'checkpoint in 4 KiB frames, flip in the last frame of net/img_enc.fc.weight', {'initial': '@D/in'},
          setup=damaged('in', WA2, flip_in_frame('net/img_enc.fc.weight', 'last', 4096)))
    train('round', 'control: train features re-written in 64 KiB frames', {'features': '@D/in'}, expect='ok',
          setup=edited('in', FEAT_TRAIN, frame_bytes=65536), why='any frame size up to 64 MiB is valid')
    train('round', 'train features in 64 KiB frames, flip in a middle frame', {'features': '@D/in'},
          setup=damaged('in', FEAT_TRAIN, flip_in_frame('features', 'middle', 65536)))
    train('round', 'train features in 64 KiB frames, 9 bytes cut', {'features': '@D/in'},
          setup=wrote('in', lambda info: tensorfile.encode(tensorfile.read(expand(FEAT_TRAIN)), 65536)[:-9]))
    # --- previous log damage (warm-up continuation)
    for name, content in previous_log_damage():
        train('warmup-cont', 'previous-log ' + name, {'prevlog': '@D/in'}, setup=wrote('in', content))
    train('warmup-cont', 'previous-log of net b (warmup_b@1/log)', {'prevlog': WB1_LOG}, expect='either',
          why='a log names no net: only its steps can be checked against the checkpoint')
    train('warmup-cont', 'previous-log missing', {'prevlog': '@D/nope'})
    # --- mismatched but valid files
    CONFIG_WHY = 'the checkpoint carries its own model_config; round and regime modes take no size flags'
    train('round', 'checkpoint of another config (saf, embed 48)', {'initial': '@X/wrongcfg@2/ckpt'}, expect='ok', why=CONFIG_WHY)
    train('regime', 'checkpoint of another config (saf, embed 48)', {'initial': '@X/wrongcfg@2/ckpt'}, expect='ok', why=CONFIG_WHY)
    train('warmup-cont', 'checkpoint of another config (saf, embed 48)', {'initial': '@X/wrongcfg@1/ckpt'}, reason='differs|size|config')
    train('round', 'checkpoint with vocabulary 14, corpus ids beyond', {'initial': '@X/smallvocab/ckpt'}, reason='vocabulary')
    train('regime', 'checkpoint with vocabulary 14, corpus ids beyond', {'initial': '@X/smallvocab/ckpt'}, reason='vocabulary')
    train('round', 'mask file given as --initial', {'initial': PB1_MASK})
    train('round', 'features file given as --initial', {'initial': FEAT_TRAIN})
    train('round', 'checkpoint given as --mask', {'mask': WA2})
    train('round', 'mask of another run (300 captions)', {'mask': OTHER + '/mask'})
    train('round', 'noise map of another run', {'noise': OTHER + '/noise'})
    train('round', 'meta of another run', {'meta': OTHER + '/meta'})
    train('round', 'features of another run (60 images)', {'features': OTHER + '/features_train'})
    train('round', 'dev features as training features', {'features': FEAT_DEV})
    train('round', 'features --dim 64 (checkpoint imageDim 128)', {'features': '@X/features_train_d64'})
    # (The first campaign expected this to pass; the error is right: dev features are 128-dim.)
    train('warmup', 'features --dim 64 with 128-dim dev features (fresh net)', {'features': '@X/features_train_d64'})
    train('round', 'warm-up checkpoint after 1 of 2 epochs', {'initial': WA1}, reason='warm-up epochs')
    train('round', 'a round checkpoint (train_a@1) as round 1 initial', {'initial': TA1}, expect='either',
          why='a round checkpoint is a valid start; nothing records which round it was meant for')
    # --- well-formed files with wrong contents
    for name, change, expect in checkpoint_semantic():
        train('round', 'checkpoint: ' + name, {'initial': '@D/in'}, setup=edited('in', WA2, change), expect=expect,
              why=ZERO_NET_WHY if expect == 'either' else '')
    train('regime', 'checkpoint: NaN weights', {'initial': '@D/in'}, setup=edited('in', WA2, checkpoint_semantic()[0][1]))

    def one_feature(v):
        return set_values('features', at((3, 5, 7), v))
    feats = lambda change: edited('in', FEAT_TRAIN, change)  # noqa: E731
    train('warmup', 'features: one NaN', {'features': '@D/in'}, setup=feats(one_feature(np.nan)))
    train('round', 'features: one +inf', {'features': '@D/in'}, setup=feats(one_feature(np.inf)))
    train('round', 'features: 10 regions', {'features': '@D/in'}, setup=feats(set_values('features', lambda a: a[:, :10].copy())))
    train('warmup', 'features: 1 region', {'features': '@D/in'}, setup=feats(set_values('features', lambda a: a[:, :1].copy())))
    train('round', 'features: one image short', {'features': '@D/in'}, setup=feats(set_values('features', lambda a: a[:-1].copy())))
    train('round', 'features: tensor renamed', {'features': '@D/in'}, setup=feats(lambda tf: setattr(tf['features'], 'name', 'pixels')))
    train('round', 'features: f64', {'features': '@D/in'}, setup=feats(retyped('features', 'f64')))

    n_images = lambda a: int(a.max()) + 1  # noqa: E731  (t2i's largest image index + 1 = the image count)
    for name, change in [('t2i = image count (out of range)', set_values('t2i', lambda a: at(7, n_images(a))(a))),
                         ('t2i -1', set_values('t2i', at(7, -1))),
                         ('t2i one entry short', set_values('t2i', lambda a: a[:-1].copy())),
                         ('clean one entry short', set_values('clean', lambda a: a[:-1].copy())),
                         ('clean value 7', set_values('clean', at(3, 7))),
                         ('t2i i32', retyped('t2i', 'i32'))]:
        for mode in ['round', 'warmup']:
            train(mode, 'noise: ' + name, {'noise': '@D/in'}, setup=edited('in', NOISE, change))
        purify('noise: ' + name, {'noise': '@D/in'}, setup=edited('in', NOISE, change))
    DEV_SELECT_WHY = 'mscn-train and mscn-purify do not use dev_select; mscn-evaluate does and rejects it (its own case)'
    for name, change in [('meta_image 999 (beyond the dev images)', set_values('meta_image', at(2, 999))),
                         ('meta_image -3', set_values('meta_image', at(2, -3))),
                         ('meta_caption 99999', set_values('meta_caption', at(2, 99999))),
                         ('train_keep one entry short', set_values('train_keep', lambda a: a[:-1].copy())),
                         ('meta_split value 9', set_values('meta_split', at(0, 9))),
                         ('dev_select 5 entries', set_values('dev_select', lambda a: a[:5].copy())),
                         ('train_keep all 0', set_values('train_keep', lambda a: a * 0)),
                         ('meta set empty', chain(*[set_values(n, lambda a: a[:0].copy()) for n in ('meta_split', 'meta_caption', 'meta_image')]))]:
        expect = 'either' if 'dev_select' in name else 'fail'
        for mode in ['round', 'warmup']:
            train(mode, 'meta: ' + name, {'meta': '@D/in'}, setup=edited('in', META, change), expect=expect,
                  why=DEV_SELECT_WHY if expect == 'either' else '')
        purify('meta: ' + name, {'meta': '@D/in'}, setup=edited('in', META, change), expect=expect,
               why=DEV_SELECT_WHY if expect == 'either' else '')
    for name, change, expect, why in [
            ('keep one entry short', set_values('keep', lambda a: a[:-1].copy()), 'fail', ''),
            ('keep all 0 (nothing kept)', set_values('keep', lambda a: a * 0), 'fail', ''),
            ('keep value 2', set_values('keep', at(3, 2)), 'fail', ''),
            ('keep missing', dropped('keep'), 'fail', ''),
            ('keep f32', retyped('keep', 'f32'), 'fail', '')]:
        train('round', 'mask: ' + name, {'mask': '@D/in'}, setup=edited('in', PB1_MASK, change), expect=expect, why=why)
    # A batch needs a caption and a negative: one caption kept cuts no batch, and the error says so.
    train('round', 'mask: keep only one training caption', {'mask': '@D/in'},
          setup=edited('in', PB1_MASK, keep_only_first_training_caption), reason='keeps 1 training caption')
    # Corpus contents: noise and meta without input_digest, so their digest check does not
    # stop the stage before it reads the corpus.
    for name, change in corpus_semantic():
        if 'meta ' in name or 'dev split' in name or 'i64' in name:
            continue
        setup = seq(edited('in', CORPUS, change), edited('noise', NOISE, without_digest), edited('meta', META, without_digest))
        over = {'corpus': '@D/in', 'noise': '@D/noise', 'meta': '@D/meta'}
        train('round', 'corpus: %s (digest-free noise/meta)' % name, over, setup=setup)
        purify('corpus: %s (digest-free noise/meta)' % name, over, setup=setup)
    train('round', 'control: digest-free noise/meta', {'noise': '@D/noise', 'meta': '@D/meta'}, expect='ok',
          setup=seq(edited('noise', NOISE, without_digest), edited('meta', META, without_digest)),
          why='files without a digest (other tools) are not checked')
    # --- arguments
    either = {('--seed', '-1'): 'seeds are unsigned: refused, or taken modulo 2^64'}
    accepted = {('--warmup-epochs', '0'): 'accepted on purpose: an untrained checkpoint (warmup_epochs_done 0) and a header-only log; -1 is refused',
                ('--lr-decay-every', '0'): 'accepted on purpose: 0 means never decay (--help: "0: never")'}
    for flag, value, mode in [('--batch-size', '0', 'round'), ('--batch-size', '-1', 'round'), ('--warmup-batch-size', '0', 'warmup'),
                              ('--warmup-epochs', '0', 'warmup'), ('--warmup-epochs', '-1', 'warmup'), ('--lr', 'nan', 'round'),
                              ('--lr', '-1', 'round'), ('--meta-lr', 'inf', 'round'), ('--round', '0', 'round'), ('--round', '-1', 'round'),
                              ('--meta-interval', '0', 'round'), ('--meta-interval', '-2', 'round'), ('--embed-size', '0', 'warmup'),
                              ('--embed-size', '-4', 'warmup'), ('--sim-dim', '0', 'warmup'), ('--word-dim', '0', 'warmup'),
                              ('--meta-hidden', '0', 'warmup'), ('--dropout', '1.5', 'warmup'), ('--dropout', '-0.1', 'warmup'),
                              ('--round-dropout', '2', 'round'), ('--margin', 'nan', 'round'), ('--grad-clip', '-1', 'round'),
                              ('--lr-decay-every', '0', 'round'), ('--until-epoch', '0', 'warmup'), ('--until-epoch', '5', 'warmup'),
                              ('--mode', 'bogus', 'warmup'), ('--module', 'bogus', 'warmup'), ('--net', 'C', 'round'),
                              ('--meta-grad', 'bogus', 'round'), ('--seed', '-1', 'warmup'), ('--frobnicate', None, 'warmup')]:
        key = (flag, value)
        expect = 'ok' if key in accepted else 'either' if key in either else 'fail'
        train(mode, '%s %s' % (flag, value if value is not None else ''), extra=[flag] + ([value] if value is not None else []),
              expect=expect, why=accepted.get(key) or either.get(key, ''))
    train('warmup', '--extend-until-auc nan', extra=['--extend-until-auc', 'nan', '--max-warmup-epochs', '3'])
    train('warmup', '--extend-until-auc without --max-warmup-epochs', extra=['--extend-until-auc', '0.9'])
    train('warmup', '--max-warmup-epochs 0 (not above --warmup-epochs)', extra=['--extend-until-auc', '0.9', '--max-warmup-epochs', '0'])
    train('round', '--extend-until-auc in round mode', extra=['--extend-until-auc', '0.9', '--max-warmup-epochs', '3'])
    train('warmup', '--auc-of without --extend-until-auc', extra=['--auc-of', 'meta'])
    train('warmup', '--auc-of an unknown source', extra=['--extend-until-auc', '0.9', '--max-warmup-epochs', '3', '--auc-of', 'dev'])
    train('round', 'no --initial in round mode', drop=['--initial'])
    train('round', '--initial missing file', {'initial': '@D/nope'})
    train('round', '--mask missing file', {'mask': '@D/nope'})
    train('warmup', '--features missing file', {'features': '@D/nope'})
    train('warmup', 'no --features', drop=['--features'])
    train('warmup', 'no --out', drop=['--out'])
    train('round', '--batch-size 1000 (more than the training captions)', extra=['--batch-size', '1000'], expect='either',
          why='one batch of every caption, or a refusal')
    train('warmup', '--warmup-batch-size 1', extra=['--warmup-batch-size', '1'])
    # On the other run (300 captions): one batch of all captions costs O(captions^2).
    train('warmup', '--warmup-batch-size 1000 (more than the training captions)', OTHER_INPUTS, extra=['--warmup-batch-size', '1000'],
          expect='either', why='one batch of every caption, or a refusal')
    train('round', '--out not writable (nobody)', out='@D/out/ro/ckpt', user='nobody', setup=ro_folder())
    train('round', '--log not writable (nobody)', log='@D/out/ro/log', user='nobody', setup=ro_folder(),
          why='the checkpoint must not be left finished when the log fails')
    train('warmup', '--out not writable (nobody)', out='@D/out/ro/ckpt', user='nobody', setup=ro_folder())
    train('round', '--out under a file', out=CORPUS + '/ckpt')
    train('round', '--out on a full disk', out='@F/ckpt')
    train('round', '--out is a directory', out='@D/out')
    train('round', '--out same path as --initial', {'initial': '@D/in'}, out='@D/in', setup=copied('in', WA2), expect='either',
          why='an in-place update (atomic rename) or a refusal')
    train('regime', '--regime not writable (nobody)', user='nobody', setup=ro_folder(), extra=['--regime', '@D/out/ro/regime'])
    train('round', '--batch-plan-out not writable', extra=['--batch-plan-out', CORPUS + '/plan.json'])


def define_purify():
    purify('control', expect='ok')
    for tag, how in byte_variants():
        purify('checkpoint ' + tag, {'ckpt': '@D/in'}, setup=damaged('in', WB2, how))
    for key in ['features', 'corpus', 'noise', 'meta', 'dev']:
        for tag, how in byte_variants(full=False):
            purify('%s %s' % (key, tag), {key: '@D/in'}, setup=damaged('in', TRAIN_INPUTS[key], how))
    for name, change, expect in checkpoint_semantic():
        purify('checkpoint: ' + name, {'ckpt': '@D/in'}, setup=edited('in', WB2, change), expect=expect,
               why=ZERO_NET_WHY if expect == 'either' else '')
    purify('checkpoint of another config (saf, embed 48)', {'ckpt': '@X/wrongcfg@2/ckpt'}, expect='ok',
           why='the checkpoint carries its own model_config and the data fit it')
    purify('checkpoint with vocabulary 14, corpus ids beyond', {'ckpt': '@X/smallvocab/ckpt'}, reason='vocabulary')
    purify('mask given as --checkpoint', {'ckpt': PB1_MASK})
    purify('features --dim 64 (checkpoint imageDim 128)', {'features': '@X/features_train_d64'})
    purify('features of another run (60 images)', {'features': OTHER + '/features_train'})
    purify('noise map of another run', {'noise': OTHER + '/noise'})
    purify('checkpoint of another run (other data, same config)', {'ckpt': OTHER + '/ckpt'}, expect='ok',
           why='any net of this configuration can score these captions')
    for flag, value in [('--round', '0'), ('--round', '-1'), ('--keep-threshold', 'nan'), ('--keep-threshold', '2'),
                        ('--keep-threshold', '-1'), ('--net', 'Z'), ('--frobnicate', None)]:
        purify('%s %s' % (flag, value or ''), extra=[flag] + ([value] if value else []),
               expect='either' if flag == '--net' else 'fail',
               why='--net only names the scoring net in the report' if flag == '--net' else '')
    purify('--checkpoint missing', {'ckpt': '@D/nope'})
    purify('--out not writable (nobody)', out='@D/out/ro/mask', user='nobody', setup=ro_folder())
    purify('--report not writable (nobody)', report='@D/out/ro/report', user='nobody', setup=ro_folder(),
           why='the mask must not be left finished when the report fails')
    purify('--report in a missing folder', report='@D/out/no/such/report', expect='either',
           why='the folder is created, or its absence is an error up front')
    purify('--report under a file', report=CORPUS + '/report')
    purify('--out on a full disk', out='@F/mask', expect='either', why='the mask (~4 KB) fits the empty 256 KiB disk')


# ===== the mscn multi-tool

def rsum_of(path):
    return json.loads(data_of(path))['rsum']


def candidates(which, content=None, link=None, remove=False):
    """select-best's --ckpt-a candidates as @D/ca0 (warm-up) and @D/ca1 (round 1), with the best
    or the losing one (by the prepared dev metrics; ties go to the earlier round) replaced by
    `content`, by a link to `link`, or removed."""
    def run(d, info):
        r = [rsum_of(EV0), rsum_of(EV1)]
        best = 0 if r[0] >= r[1] else 1
        target = best if which == 'best' else 1 - best
        info['detail'].append('round %d is the best (rsum %s)' % (best, r))
        for k, src in enumerate([WA2, TA1]):
            if k != target:
                os.link(expand(src), os.path.join(d, 'ca%d' % k))
        p = os.path.join(d, 'ca%d' % target)
        if content is not None:
            new, _ = content(data_of([WA2, TA1][target]), info['rng'])
            put(p, new)
        elif link is not None:
            os.link(expand(link), p)
        elif not remove:
            raise HarnessError('nothing to put in place of candidate %d' % target)
    return run


def metrics_edit(fn):
    def content(info):
        text = data_of(EV1).decode()
        new = fn(text)
        if new == text:
            raise HarnessError('the metrics edit changed nothing')
        return new.encode()
    return content


def rsum_replaced(value):
    return metrics_edit(lambda t: re.sub(r'("rsum"\s*:\s*)[-+0-9.eE]+', lambda m: m.group(1) + value, t))


def define_select_best():
    M = [EV0, EV1]
    CA, CB = [WA2, TA1], [WB2, TB1]

    def sel(name, metrics=M, ca=CA, extra=(), outa='@D/out/a', out='@D/out/best', **kw):
        case('mscn select-best', name, ['mscn', 'select-best', '--first-round', '0', '--metrics'] + metrics + ['--ckpt-a'] + ca +
             ['--ckpt-b'] + CB + ['--out-a', outa, '--out-b', '@D/out/b', '--out', out] + list(extra),
             outputs=['@D/out/a', '@D/out/b', '@D/out/best'] + [p for p in (outa, out) if p.startswith('@F')], **kw)
    sel('control', expect='ok')
    for tag, content in [('empty', b''), ('truncated', lambda info: data_of(EV1)[:len(data_of(EV1)) // 2]),
                         ('not JSON', b'\x00\x01garbage'), ('JSON list', b'[]'),
                         ('rsum missing', lambda info: json.dumps({k: v for k, v in json.loads(data_of(EV1)).items() if k != 'rsum'}).encode()),
                         ('rsum a string', lambda info: json.dumps(dict(json.loads(data_of(EV1)), rsum='high')).encode()),
                         ('rsum NaN', rsum_replaced('NaN')),
                         ('rsum null', lambda info: json.dumps(dict(json.loads(data_of(EV1)), rsum=None)).encode()),
                         ('rsum 1e999', rsum_replaced('1e999'))]:
        sel('metrics ' + tag, metrics=[EV0, '@D/m'], setup=wrote('m', content))
    CAND = ['@D/ca0', '@D/ca1']
    for tag, how in simple_damage()[1:] + [('empty', lambda data, rng: (b'', None)),
                                            ('not a tensor file', lambda data, rng: (b'hello world', None))]:
        sel('best round checkpoint A ' + tag, ca=CAND, setup=candidates('best', how))
        sel('losing round checkpoint A ' + tag, ca=CAND, setup=candidates('losing', how), expect='either',
            why='the losing checkpoint is not copied: checking it too is fine, ignoring it is fine')
    sel('features file as best checkpoint', ca=CAND, setup=candidates('best', link=FEAT_TRAIN))
    sel('best checkpoint missing', ca=CAND, setup=candidates('best', remove=True))
    sel('3 metrics, 2 checkpoints', metrics=M + [EV1])
    sel('--first-round -1', extra=['--first-round', '-1'])
    sel('--out-a not writable (nobody)', outa='@D/out/ro/a', user='nobody', setup=ro_folder())
    sel('--out-a same as an input', ca=['@D/c0', TA1], outa='@D/c0', setup=copied('c0', WA2), expect='either',
        why='the winning copy replaces a candidate (a private copy here) atomically, or is refused')
    sel('no --metrics', metrics=[])
    sel('unknown option', extra=['--frobnicate'])


REPORT_FULL = ['--dev-metrics', EV0, EV1, '--best', BEST, '--test-metrics', TEST_METRICS, '--purify-a', PA1_REPORT,
               '--masks-a', PA1_MASK, '--noise', NOISE, '--meta', META, '--regime', REGIME_A,
               '--train-logs-a', WA2_LOG, TA1_LOG, '--examples-scores', TEST_SCORES, '--examples-corpus', CORPUS,
               '--examples-images', '@R/ingest/data/images-test.tzst', '--vocab', VOCAB]


def define_report():
    def rep(name, args, out='@D/out/report.html', **kw):
        case('mscn report', name, ['mscn', 'report', '--out', out] + args,
             outputs=['@D/out/report.html'] + ([out] if out.startswith('@F') else []), **kw)

    def swapped(path, new):
        a = list(REPORT_FULL)
        a[a.index(path)] = new
        return a
    rep('control', REPORT_FULL, expect='ok')
    rep('control: --run of the prepared run', ['--run', '@R'], expect='ok')
    for what, path in [('dev-metrics', EV1), ('best', BEST), ('test-metrics', TEST_METRICS), ('purify report', PA1_REPORT),
                       ('regime', REGIME_A), ('vocab', VOCAB)]:
        for tag, content in [('empty', b''), ('truncated', lambda info, p=path: data_of(p)[:len(data_of(p)) // 2]),
                             ('JSON of another kind', b'{"hello": [1, 2]}')]:
            rep('%s %s' % (what, tag), swapped(path, '@D/x'), setup=wrote('x', content))
    REPORT_UNREAD = {NOISE: ('t2i',), META: ('meta_split', 'meta_caption', 'meta_image', 'dev_select'), PA1_MASK: ('p_clean', 'keep')}
    for what, path in [('mask', PA1_MASK), ('noise', NOISE), ('meta', META), ('scores', TEST_SCORES),
                       ('examples corpus', CORPUS), ('examples images', '@R/ingest/data/images-test.tzst')]:
        for tag, how in simple_damage():
            rep('%s %s' % (what, tag), swapped(path, '@D/x'),
                setup=damaged('x', path, how, REPORT_UNREAD.get(path, ()),
                              'the report reads only the tensors it draws (mask: score; noise: clean; meta: train_keep)'))
    for what, path, tensor in [('mask', PA1_MASK, 'score'), ('noise', NOISE, 'clean'), ('meta', META, 'train_keep')]:
        rep('%s: flip inside %s (the tensor it reads)' % (what, tensor), swapped(path, '@D/x'), setup=damaged('x', path, flip_in_tensor(tensor)))
    rep('mask of another run (300 captions)', swapped(PA1_MASK, OTHER + '/mask'))
    rep('scores of wrong shape (a features file)', swapped(TEST_SCORES, FEAT_TEST))
    for tag, content in [('empty', b''), ('truncated mid-line', lambda info: data_of(TA1_LOG)[:len(data_of(TA1_LOG)) // 2 + 3]),
                         ('binary', bytes(range(256))), ('non-numeric', lambda info: replaced(data_of(TA1_LOG), b'0.0005', b'abc', -1))]:
        rep('train log ' + tag, swapped(TA1_LOG, '@D/x'), setup=wrote('x', content))
    rep('--run nonexistent', ['--run', '@D/nope'])
    rep('--run an empty folder', ['--run', '@D/empty'], setup=made_dir('empty'), expect='ok',
        why='every input is optional: the sections say what is missing')
    rep('--params empty file', ['--params', '@D/x'], setup=wrote('x', b''))
    rep('--params JSON list', ['--params', '@D/x'], setup=wrote('x', b'[1,2]'))
    rep('--param without =', ['--param', 'noequals'])
    rep('masks-a without purify-a', ['--masks-a', PA1_MASK])
    rep('2 purify-a, 1 masks-a', ['--purify-a', PA1_REPORT, PA1_REPORT, '--masks-a', PA1_MASK])
    rep('--examples -1', REPORT_FULL + ['--examples', '-1'])
    rep('--examples 100000', REPORT_FULL + ['--examples', '100000'], expect='either',
        why='a bound (page size) with a clear error, or as many examples as there are')
    rep('--out not writable (nobody)', REPORT_FULL, out='@D/out/ro/report.html', user='nobody', setup=ro_folder())
    rep('--out under a file', REPORT_FULL, out=BEST + '/r.html')
    rep('unknown option', ['--frobnicate'])


# The files `mscn export precomp` reads from a run folder (Sources/PrecompExport/ExportSources.swift).
EXPORT_FILES = ['ingest/data/corpus.tzst', 'ingest/data/vocab.json', 'features_train/features', 'features_dev/features',
                'features_test/features', 'noise/map', 'split/meta', 'params.json']


def export_run(d, info):
    """@D/run: a private copy of the files of the prepared run that the export reads."""
    for rel in EXPORT_FILES:
        dst = os.path.join(d, 'run', rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(os.path.join(P.run, rel), dst)


def define_export():
    def exp(name, edit=None, extra=(), run='@D/run', out='@D/out/exp', **kw):
        case('mscn export precomp', name, ['mscn', 'export', 'precomp', run, out] + list(extra),
             setup=seq(export_run, edit), outputs=['@D/out/exp'] + ([out] if out.startswith('@F') else []), **kw)
    exp('control', expect='ok')
    for rel in ['features_dev/features', 'features_train/features', 'ingest/data/corpus.tzst', 'noise/map', 'split/meta']:
        stage = rel.split('/')[0]
        for tag, how in simple_damage() + [('flip-trailer', lambda data, rng: (data[:-5] + bytes([data[-5] ^ 1]) + data[-4:], len(data) - 5))]:
            exp('%s %s' % (stage if stage != 'ingest' else 'corpus', tag), damaged('run/' + rel, '@R/' + rel, how))
    vocab = lambda: data_of(VOCAB)  # noqa: E731
    for tag, content in [('empty', b''), ('truncated', lambda info: vocab()[:len(vocab()) // 2]), ('wrong shape', b'{"a": 1}')]:
        exp('vocab.json ' + tag, wrote('run/ingest/data/vocab.json', content))
    words = ['<pad>', '<start>', '<end>', '<unk>', 'a']
    exp('vocab with fewer words than the corpus ids', wrote('run/ingest/data/vocab.json', json.dumps(
        {'word2idx': {w: i for i, w in enumerate(words)}, 'idx2word': {str(i): w for i, w in enumerate(words)}, 'idx': 5}).encode()),
        why='the captions must tokenise back to the ids')
    exp('noise stage folder missing', removed('run/noise'))
    exp('noise stage folder missing, --no-noise', removed('run/noise'), extra=['--no-noise'], expect='ok', why='--no-noise needs no map')
    exp('dev features of another run (10 images)', wrote('run/features_dev/features', lambda info: data_of(OTHER + '/features_dev')))
    exp('corpus token id 9999 (digest-free noise/meta)', seq(edited('run/ingest/data/corpus.tzst', CORPUS, corpus_semantic()[0][1]),
        edited('run/noise/map', NOISE, without_digest), edited('run/split/meta', META, without_digest)))
    exp('run folder nonexistent', run='@D/nope')
    exp('run folder is a file', run=META)
    exp('OUT exists, no --force', made_dir('out/exp/keep'), why='must refuse and leave OUT alone')
    exp('OUT parent not writable (nobody)', ro_folder(), out='@D/out/ro/exp', user='nobody', reason='Permission denied')
    exp('OUT on a full disk', out='@F/exp')
    exp('--splits bogus', extra=['--splits', 'bogus'])
    exp('--name with a slash', extra=['--name', '../evil'], why='must not write outside OUT')
    exp('--name empty', extra=['--name', ''])
    exp('unknown option', extra=['--frobnicate'])


def define_tools():
    for tag, how in byte_variants():
        case('mscn tensor verify', 'corpus ' + tag, ['mscn', 'tensor', 'verify', '@D/x'], setup=damaged('x', CORPUS, how))
    case('mscn tensor info', 'truncated half', ['mscn', 'tensor', 'info', '@D/x'],
         setup=wrote('x', lambda info: data_of(CORPUS)[:len(data_of(CORPUS)) // 2]))
    case('mscn tensor import-npy', 'truncated npy', ['mscn', 'tensor', 'import-npy', '@D/x.npy', '@D/out/t'], outputs=['@D/out/t'],
         setup=wrote('x.npy', lambda info: data_of(PRECOMP + '/dev_ims.npy')[:5000]))
    huge = "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }"
    case('mscn tensor import-npy', 'npy with huge shape header', ['mscn', 'tensor', 'import-npy', '@D/x.npy', '@D/out/t'],
         outputs=['@D/out/t'], setup=wrote('x.npy', npy_header(huge) + bytes(64)))
    case('mscn tensor export-npy', 'missing tensor name', ['mscn', 'tensor', 'export-npy', CORPUS, 'nope', '@D/out/x.npy'],
         outputs=['@D/out/x.npy'])
    for tag, content in [('trunc@half', lambda info: data_of(WA2)[:len(data_of(WA2)) // 2]), ('not a tensor file', b'hello')]:
        case('mscn weights export', 'checkpoint ' + tag, ['mscn', 'weights', 'export', '@D/c', '@D/out/w.safetensors'],
             setup=wrote('c', content), outputs=['@D/out/w.safetensors'])
    for flag, value in [('--train', '0'), ('--train', '-1'), ('--size', '0'), ('--size', '2'), ('--dev', '-5')]:
        sizes = {'--train': '4', '--dev': '2', '--test': '2'}
        sizes[flag] = value
        case('mscn dataset generate', '%s %s' % (flag, value),
             ['mscn', 'dataset', 'generate', '--out', '@D/out/root'] + [x for kv in sizes.items() for x in kv],
             outputs=['@D/out/root'])
    case('mscn dataset generate', 'out not writable (nobody)',
         ['mscn', 'dataset', 'generate', '--out', '@D/out/ro/root', '--train', '4', '--dev', '2', '--test', '2'],
         user='nobody', setup=ro_folder(), outputs=['@D/out/ro/root'])
    case('mscn', 'unknown subcommand', ['mscn', 'frobnicate'])


def npy_header(text):
    h = text.encode('latin-1')
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + b' ' * (pad % 64) + b'\n'
    return b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h


def define_full_disk():
    """Every writer with its output on a disk filled to 0 bytes free before the tool starts."""
    def full(stage, name, argv, outputs, **kw):
        case(stage, 'FULL DISK: ' + name, argv, setup=seq(kw.pop('setup', None), fill_full_disk), outputs=outputs, **kw)
    i = TRAIN_INPUTS
    full('mscn-ingest', 'out-dir', ['mscn-ingest', '--layout', 'images', '--root', ROOT, '--out-dir', '@F/ingest'], ['@F/ingest'])
    full('mscn-ingest', 'precomp out-dir', ['mscn-ingest', '--layout', 'precomp', '--root', PRECOMP, '--vocab', PRECOMP_VOCAB,
                                            '--out-dir', '@F/ingest'], ['@F/ingest'])
    full('mscn-features', '--out', ['mscn-features', '--images', IMAGES_DEV, '--out', '@F/features'], ['@F/features'])
    full('mscn-noise', '--out', ['mscn-noise', '--corpus', CORPUS, '--ratio', NOISE_RATIO, '--out', '@F/map'], ['@F/map'])
    full('mscn-noise', '--manifest', ['mscn-noise', '--corpus', CORPUS, '--ratio', NOISE_RATIO, '--out', '@D/out/map', '--manifest', '@F/m.json'],
         ['@D/out/map', '@F/m.json'], why='the map must not be left finished')
    full('mscn-split', '--out', ['mscn-split', '--corpus', CORPUS, '--rule', 'flickr', '--out', '@F/meta'], ['@F/meta'])
    base_round = (['mscn-train', '--mode', 'round', '--net', 'A', '--round', '1', '--initial', WA2, '--mask', PB1_MASK] + common_flags(i) +
                  ['--batch-size', '32', '--warmup-epochs', str(WARMUP_EPOCHS)])
    full('mscn-train/round', '--log', base_round + ['--out', '@D/out/ckpt', '--log', '@F/log'], ['@D/out/ckpt', '@F/log'],
         why='the checkpoint must not be left finished')
    full('mscn-train/round', '--out', base_round + ['--out', '@F/ckpt', '--log', '@D/out/log'], ['@F/ckpt', '@D/out/log'])
    full('mscn-train/round', '--batch-plan-out', base_round + ['--out', '@D/out/ckpt', '--batch-plan-out', '@F/plan.json'],
         ['@D/out/ckpt', '@F/plan.json'])
    full('mscn-train/warmup', '--out', ['mscn-train', '--mode', 'warmup', '--net', 'a'] + common_flags(i) + MODEL_FLAGS + BATCH_FLAGS +
         RATE_FLAGS + ['--warmup-epochs', '1'] + DECAY_FLAGS + ['--out', '@F/ckpt', '--log', '@D/out/log'], ['@F/ckpt', '@D/out/log'])
    full('mscn-train/regime', '--regime', ['mscn-train', '--mode', 'regime', '--net', 'a', '--initial', WA2] + common_flags(i) +
         ['--regime', '@F/regime'], ['@F/regime'])
    pur = ['mscn-purify', '--checkpoint', WB2, '--net', 'B', '--round', '1'] + common_flags(i)
    full('mscn-purify', '--out', pur + ['--out', '@F/mask', '--report', '@D/out/report'], ['@F/mask', '@D/out/report'])
    full('mscn-purify', '--report', pur + ['--out', '@D/out/mask', '--report', '@F/report'], ['@D/out/mask', '@F/report'],
         why='the mask must not be left finished')
    sb = ['mscn', 'select-best', '--first-round', '0', '--metrics', EV0, EV1, '--ckpt-a', WA2, TA1, '--ckpt-b', WB2, TB1]
    full('mscn select-best', '--out-a', sb + ['--out-a', '@F/a', '--out-b', '@D/out/b', '--out', '@D/out/best'],
         ['@F/a', '@D/out/b', '@D/out/best'])
    full('mscn select-best', '--out (the note)', sb + ['--out-a', '@D/out/a', '--out-b', '@D/out/b', '--out', '@F/best'],
         ['@D/out/a', '@D/out/b', '@F/best'], why='the checkpoints must not be left when the note fails')
    full('mscn report', '--out', ['mscn', 'report', '--out', '@F/r.html', '--dev-metrics', EV0, EV1], ['@F/r.html'])
    full('mscn export precomp', 'OUT', ['mscn', 'export', 'precomp', '@R', '@F/exp', '--no-features'], ['@F/exp'])
    full('mscn dataset generate', '--out', ['mscn', 'dataset', 'generate', '--out', '@F/root', '--train', '4', '--dev', '2', '--test', '2'],
         ['@F/root'])
    full('mscn tensor import-npy', 'output', ['mscn', 'tensor', 'import-npy', PRECOMP + '/dev_ims.npy', '@F/t'], ['@F/t'])
    full('mscn weights export', 'output', ['mscn', 'weights', 'export', WA2, '@F/w.safetensors'], ['@F/w.safetensors'])


def define_evaluate():
    base = ['mscn-evaluate', '--ckpt-a', TA1, '--ckpt-b', TB1, '--features', FEAT_DEV, '--corpus', CORPUS, '--split', 'dev']
    case('mscn-evaluate', 'control (dev)', base + ['--meta', META, '--out', '@D/out/metrics'], expect='ok', outputs=['@D/out/metrics'])
    case('mscn-evaluate', 'meta: dev_select 5 entries (dev has more images)', base + ['--meta', '@D/in', '--out', '@D/out/metrics'],
         setup=edited('in', META, set_values('dev_select', lambda a: a[:5].copy())), outputs=['@D/out/metrics'])


def define_cases():
    define_ingest()
    define_features()
    define_noise_split()
    define_train()
    define_purify()
    define_select_best()
    define_report()
    define_export()
    define_tools()
    define_full_disk()
    define_evaluate()
    seen = set()
    for c in CASES:
        key = (c.stage, c.name)
        if key in seen:
            raise ValueError('two cases named %s / %s' % key)
        seen.add(key)


# ============================================================================ preparing inputs

def sha256_of(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def binary_digests():
    out = {}
    for name in EXECUTABLES:
        p = os.path.join(P.bin, name)
        if not os.access(p, os.X_OK):
            raise PrepareError('%s: no such executable (build with `make release`, or pass --bin)' % p)
        out[name] = sha256_of(p)
    return out


def input_digests():
    out = {}
    for base, _, files in os.walk(P.inputs):
        for f in files:
            p = os.path.join(base, f)
            rel = os.path.relpath(p, P.inputs)
            if rel != 'stamp.json' and not os.path.islink(p):
                out[rel] = sha256_of(p)
    return out


def prepare_step(argv):
    """Runs one preparation command; a failure stops the campaign with the command and stderr."""
    cmd = [os.path.join(P.bin, argv[0])] + argv[1:]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, env=ENV, stdin=subprocess.DEVNULL, capture_output=True, timeout=PREPARE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise PrepareError('timed out after %d s: %s' % (PREPARE_TIMEOUT, shlex.join(cmd)))
    if p.returncode != 0:
        tail = p.stderr.decode('utf-8', 'replace').strip().splitlines()[-5:]
        raise PrepareError('exit %d: %s\n    %s' % (p.returncode, shlex.join(cmd), '\n    '.join(tail)))
    return time.time() - t0


def prepare_inputs():
    """Makes every input of the campaign with the binaries under test, as the pipeline makes its
    artefacts (Pipelines/mscn.yaml at layout=images, small sizes)."""
    R, X = P.run, P.extra
    shutil.rmtree(P.inputs, ignore_errors=True)
    os.makedirs(R)
    os.makedirs(X)
    steps = []

    def step(*argv):
        steps.append(list(argv))

    def r(rel):
        return os.path.join(R, rel)

    def x(rel):
        return os.path.join(X, rel)
    corpus, noise, meta = r('ingest/data/corpus.tzst'), r('noise/map'), r('split/meta')
    ftrain, fdev = r('features_train/features'), r('features_dev/features')

    def data_flags(features=ftrain, corpus=corpus, noise=noise, meta=meta, dev=fdev):
        return ['--features', features, '--corpus', corpus, '--noise', noise, '--meta', meta, '--dev-features', dev, '--seed', '0']

    def warmup(net, epochs, out, model=MODEL_FLAGS, previous=None, **data):
        """A warm-up stage as the pipeline's warmup_<net>@<epochs> (with --initial and
        --previous-log when it continues `previous`), or all `epochs` in one go."""
        cont = ['--initial', previous + '/ckpt', '--previous-log', previous + '/log'] if previous else []
        step('mscn-train', '--mode', 'warmup', '--net', net, *data_flags(**data), *model, *BATCH_FLAGS, *RATE_FLAGS,
             '--warmup-epochs', str(epochs), *DECAY_FLAGS, *cont, '--out', out + '/ckpt', '--log', out + '/log')

    # The run (stage names of Pipelines/mscn.yaml; `@N` = the foreach index)
    step('mscn', 'dataset', 'generate', '--out', r('dataset/root'), '--seed', '0', '--train', str(TRAIN_IMAGES),
         '--dev', str(DEV_IMAGES), '--test', str(TEST_IMAGES))
    step('mscn-ingest', '--layout', 'images', '--root', r('dataset/root'), '--out-dir', r('ingest/data'))
    for s in ['train', 'dev', 'test']:
        step('mscn-features', '--images', r('ingest/data/images-%s.tzst' % s), '--out', r('features_%s/features' % s), '--seed', '0')
    step('mscn-noise', '--corpus', corpus, '--ratio', NOISE_RATIO, '--seed', '0', '--protocol', 'caption', '--out', noise)
    step('mscn-split', '--corpus', corpus, '--rule', 'flickr', '--seed', '0', '--meta-fraction', '0.02', '--out', meta)
    for net in 'ab':
        for epoch in range(1, WARMUP_EPOCHS + 1):
            warmup(net, epoch, r('warmup_%s@%d' % (net, epoch)), previous=r('warmup_%s@%d' % (net, epoch - 1)) if epoch > 1 else None)
        step('mscn-train', '--mode', 'regime', '--net', net, '--initial', r('warmup_%s@%d/ckpt' % (net, WARMUP_EPOCHS)),
             *data_flags(), '--regime', r('regime_%s@%d/regime' % (net, WARMUP_EPOCHS)))
    for net in 'ab':
        step('mscn-purify', '--checkpoint', r('warmup_%s@%d/ckpt' % (net, WARMUP_EPOCHS)), '--net', net.upper(), '--round', '1',
             *data_flags(), '--out', r('purify_%s@1/mask' % net), '--report', r('purify_%s@1/report' % net))
    for net, other in [('b', 'a'), ('a', 'b')]:
        step('mscn-train', '--mode', 'round', '--net', net.upper(), '--round', '1', '--initial', r('warmup_%s@%d/ckpt' % (net, WARMUP_EPOCHS)),
             '--mask', r('purify_%s@1/mask' % other), *data_flags(), '--batch-size', '32', *RATE_FLAGS,
             '--warmup-epochs', str(WARMUP_EPOCHS), *DECAY_FLAGS, '--out', r('train_%s@1/ckpt' % net), '--log', r('train_%s@1/log' % net))
    ckpts = {0: ('warmup_a@%d' % WARMUP_EPOCHS, 'warmup_b@%d' % WARMUP_EPOCHS), 1: ('train_a@1', 'train_b@1')}
    for rnd, (a, b) in ckpts.items():
        step('mscn-evaluate', '--ckpt-a', r(a + '/ckpt'), '--ckpt-b', r(b + '/ckpt'), '--features', fdev, '--corpus', corpus,
             '--split', 'dev', '--meta', meta, '--out', r('evaluate_dev@%d/metrics' % rnd))
    step('mscn', 'select-best', '--first-round', '0', '--metrics', r('evaluate_dev@0/metrics'), r('evaluate_dev@1/metrics'),
         '--ckpt-a', r(ckpts[0][0] + '/ckpt'), r(ckpts[1][0] + '/ckpt'), '--ckpt-b', r(ckpts[0][1] + '/ckpt'), r(ckpts[1][1] + '/ckpt'),
         '--out-a', r('select/a'), '--out-b', r('select/b'), '--out', r('select/best'))
    step('mscn-evaluate', '--ckpt-a', r('select/a'), '--ckpt-b', r('select/b'), '--features', r('features_test/features'),
         '--corpus', corpus, '--split', 'test', '--folds', '0', '--out', r('evaluate_test/metrics'), '--scores', r('evaluate_test/scores'))
    # Beside the run: artefacts made to mismatch it
    step('mscn', 'dataset', 'generate', '--out', x('g32'), '--train', '1', '--dev', '1', '--test', '1', '--size', '32')
    step('mscn-features', '--images', r('ingest/data/images-train.tzst'), '--out', x('features_train_d64'), '--dim', '64', '--seed', '0')
    saf = ['--module', 'saf', '--embed-size', '48', '--sim-dim', '16', '--word-dim', '24']
    warmup('a', 1, x('wrongcfg@1'), model=saf)
    warmup('a', 2, x('wrongcfg@2'), model=saf, previous=x('wrongcfg@1'))
    # A vocabulary of 14 words (min count 200): the corpus's ids run past it.
    sv = x('smallvocab')
    step('mscn-ingest', '--layout', 'images', '--root', r('dataset/root'), '--out-dir', sv + '/data', '--min-count', '200')
    step('mscn-noise', '--corpus', sv + '/data/corpus.tzst', '--ratio', NOISE_RATIO, '--seed', '0', '--protocol', 'caption', '--out', sv + '/noise')
    step('mscn-split', '--corpus', sv + '/data/corpus.tzst', '--rule', 'flickr', '--seed', '0', '--meta-fraction', '0.02', '--out', sv + '/meta')
    warmup('a', WARMUP_EPOCHS, sv, corpus=sv + '/data/corpus.tzst', noise=sv + '/noise', meta=sv + '/meta')
    # Another run: other images and counts, this run's vocabulary (so its checkpoint fits here).
    o = x('other')
    step('mscn', 'dataset', 'generate', '--out', o + '/root', '--seed', '1', '--train', str(OTHER_TRAIN_IMAGES),
         '--dev', str(OTHER_DEV_IMAGES), '--test', str(OTHER_TEST_IMAGES))
    step('mscn-ingest', '--layout', 'images', '--root', o + '/root', '--out-dir', o + '/data', '--vocab', r('ingest/data/vocab.json'))
    for s in ['train', 'dev']:
        step('mscn-features', '--images', o + '/data/images-%s.tzst' % s, '--out', o + '/features_' + s, '--seed', '0')
    step('mscn-noise', '--corpus', o + '/data/corpus.tzst', '--ratio', NOISE_RATIO, '--seed', '0', '--protocol', 'caption', '--out', o + '/noise')
    step('mscn-split', '--corpus', o + '/data/corpus.tzst', '--rule', 'flickr', '--seed', '0', '--meta-fraction', '0.02', '--out', o + '/meta')
    other_data = dict(features=o + '/features_train', corpus=o + '/data/corpus.tzst', noise=o + '/noise', meta=o + '/meta', dev=o + '/features_dev')
    warmup('a', WARMUP_EPOCHS, o, **other_data)
    step('mscn-purify', '--checkpoint', o + '/ckpt', '--net', 'A', '--round', '1', *data_flags(**other_data),
         '--out', o + '/mask', '--report', o + '/report')

    t0 = time.time()
    for k, argv in enumerate(steps):
        # Every output folder must exist; the stages create files, not their parents.
        for j, a in enumerate(argv):
            if j > 0 and argv[j - 1] in ('--out', '--log', '--report', '--regime', '--scores', '--out-a', '--out-b'):
                os.makedirs(os.path.dirname(a), exist_ok=True)
        progress('preparing inputs: step %d/%d (%s)' % (k + 1, len(steps), ' '.join(argv[:2])))
        prepare_step(argv)
    # The runner's params.json (read by `mscn report --run` and `mscn export precomp`)
    params = {'pipeline': 'Pipelines/mscn.yaml', 'params': {
        'noise': NOISE_RATIO, 'seed': '0', 'epochs': '1', 'data': 'builtin', 'layout': 'images', 'train_images': str(TRAIN_IMAGES),
        'warmup_epochs': str(WARMUP_EPOCHS), 'module': 'sgr', 'embed': '64', 'sim': '32', 'word': '32', 'batch': '32',
        'warmup_batch': '32', 'lr': '0.0005', 'meta_lr': '0.00017', 'lr_decay_every': '30', 'meta_rule': 'flickr',
        'meta_fraction': '0.02', 'protocol': 'caption', 'folds': '0'}}
    with open(r('params.json'), 'w') as f:
        json.dump(params, f, indent=2, sort_keys=True)
    for argv in [['mscn', 'export', 'precomp', R, x('precomp')], ['mscn', 'report', '--run', R, '--out', x('report.html')]]:
        progress('preparing inputs: %s' % ' '.join(argv[:3]))
        prepare_step(argv)
    shutil.copy(x('g32/images/train_00000.jpg'), x('img32.jpg'))
    check_prepared()
    return time.time() - t0


def check_prepared():
    """The facts the cases rely on; a case built on a false one would test nothing."""
    def need(ok, what):
        if not ok:
            raise PrepareError('prepared inputs: ' + what)
    corpus = tensorfile.read(os.path.join(P.run, 'ingest/data/corpus.tzst'))
    small = tensorfile.read(os.path.join(P.extra, 'smallvocab/data/corpus.tzst'))
    need(int(small.metadata['vocab_size']) < int(corpus['train/tokens'].array.max()) + 1,
         'the small vocabulary must not cover the corpus ids')
    need(len(corpus['train/offsets'].array) - 1 == 5 * TRAIN_IMAGES, 'expected 5 captions per training image')
    jpg = open(os.path.join(P.run, 'dataset/root/images/train_00005.jpg'), 'rb').read()
    need(b'\xff\xc0' in jpg, 'the JPEGs are expected baseline (SOF0), for the SOF cases')
    meta = tensorfile.read(os.path.join(P.run, 'split/meta'))
    need(len(meta['meta_image'].array) >= 3, 'the meta split needs a few pairs (meta_image[2] is edited)')
    mask = tensorfile.read(os.path.join(P.run, 'purify_b@1/mask'))
    need(0 < int(mask['keep'].array.sum()) < len(mask['keep'].array), 'the mask should keep some captions and drop some')
    for name in ['wrongcfg@2/ckpt', 'smallvocab/ckpt', 'other/ckpt']:
        done = tensorfile.read(os.path.join(P.extra, name)).metadata.get('warmup_epochs_done')
        need(done == str(WARMUP_EPOCHS), '%s: warm-up epochs %s, expected %d (round cases pass --warmup-epochs %d)'
             % (name, done, WARMUP_EPOCHS, WARMUP_EPOCHS))
    other_dev = tensorfile.read(os.path.join(P.extra, 'other/features_dev'))['features'].array.shape[0]
    need(other_dev != DEV_IMAGES, 'the other run needs another dev size')
    need(os.path.exists(os.path.join(P.extra, 'precomp/f30k_precomp/train_ims.npy')), 'the precomp export has no train_ims.npy')


def ensure_inputs(rebuild):
    """Reuses WORK/inputs when it was made by these binaries with this recipe and is intact."""
    stamp_path = os.path.join(P.inputs, 'stamp.json')
    binaries = binary_digests()
    if not rebuild and os.path.exists(stamp_path):
        try:
            stamp = json.load(open(stamp_path))
        except ValueError:
            stamp = {}
        if stamp.get('recipe') == INPUTS_RECIPE and stamp.get('binaries') == binaries:
            if stamp.get('files') == input_digests():
                return 'reused', 0.0
            why = 'changed since they were made'
        else:
            why = 'made by other binaries or another recipe'
    else:
        why = 'none yet' if not rebuild else '--rebuild-inputs'
    progress('preparing inputs (%s) ...' % why)
    seconds = prepare_inputs()
    with open(stamp_path, 'w') as f:
        json.dump({'recipe': INPUTS_RECIPE, 'binaries': binaries, 'files': input_digests()}, f, indent=1, sort_keys=True)
    return 'prepared', seconds


# =============================================================================== running cases

class RootOnly:
    """What the root-only cases need, and why it is missing."""
    def __init__(self):
        self.full_ok = self.nobody_ok = False
        self.full_why = self.nobody_why = ''
        self.mounted = False

    def setup(self, needs):
        """Mounts the tmpfs and probes setpriv, for the needs of the selected cases only."""
        os.makedirs(P.full, exist_ok=True)
        if os.geteuid() != 0:
            self.full_why = 'not root: mounting the 256 KiB tmpfs needs root'
            self.nobody_why = 'not root: running the tool as nobody (root ignores file modes) needs root'
            return
        if 'full' in needs:
            self.mount()
        if 'nobody' in needs:
            self.probe_nobody()

    def mount(self):
        if os.path.ismount(P.full):     # left mounted by a run that was killed
            subprocess.run(['umount', P.full], capture_output=True)
        p = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', P.full], capture_output=True, text=True)
        if p.returncode == 0:
            self.full_ok = self.mounted = True
        else:
            self.full_why = 'mount -t tmpfs failed: %s' % (p.stderr.strip() or 'exit %d' % p.returncode)

    def probe_nobody(self):
        probe = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', os.path.join(P.bin, 'mscn'), 'tensor', 'verify',
                 os.path.join(P.run, 'split/meta')]
        try:
            p = subprocess.run(probe, env=ENV, capture_output=True, text=True, timeout=60)
            if p.returncode == 0:
                self.nobody_ok = True
            else:
                self.nobody_why = ('user nobody cannot run %s on the prepared inputs (a folder on the way not world-readable?): %s'
                                   % (os.path.join(P.bin, 'mscn'), (p.stderr.strip().splitlines() or ['exit %d' % p.returncode])[-1]))
        except (OSError, subprocess.TimeoutExpired) as e:
            self.nobody_why = 'setpriv does not work here: %s' % e

    def skip_reason(self, c):
        if 'full' in c.needs and not self.full_ok:
            return self.full_why
        if 'nobody' in c.needs and not self.nobody_ok:
            return self.nobody_why
        return None

    def teardown(self):
        """Empties and unmounts the tmpfs (also after a failure or Ctrl-C: main calls this in a
        finally)."""
        if self.mounted:
            clear_full()
            p = subprocess.run(['umount', P.full], capture_output=True, text=True)
            if p.returncode != 0:
                print('warning: could not unmount %s: %s' % (P.full, p.stderr.strip()), file=sys.stderr)
            else:
                self.mounted = False


def clear_full():
    for f in os.listdir(P.full):
        p = os.path.join(P.full, f)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.remove(p)


def verify_tensor(path):
    p = subprocess.run([os.path.join(P.bin, 'mscn'), 'tensor', 'verify', path], env=ENV, capture_output=True)
    return p.returncode == 0


def describe(path):
    """(state, looks finished) of one output path."""
    if not os.path.lexists(path):
        return 'absent', False
    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        parts, finished = [], bool(names)
        for n in names:
            s, fin = describe(os.path.join(path, n))
            parts.append('%s:%s' % (n, s))
            if not n.startswith('.'):         # hidden names are temporaries (reported as litter)
                finished = finished and fin
        finished = finished and any(not n.startswith('.') for n in names)
        return 'dir[%s]' % ', '.join(parts), finished
    size = os.path.getsize(path)
    if size == 0:
        return 'empty', False
    with open(path, 'rb') as f:
        raw = f.read()
    if raw[:8] == tensorfile.HEAD_MAGIC:
        ok = verify_tensor(path)
        return ('tensor-ok' if ok else 'tensor-BAD') + '(%dB)' % size, ok
    try:
        json.loads(raw)
        return 'json-ok(%dB)' % size, True
    except ValueError:
        pass
    if raw.rstrip().endswith(b'</html>'):
        return 'html-ok(%dB)' % size, True
    if raw[:6] == b'\x93NUMPY':
        return 'npy(%dB)' % size, True
    return 'text/bin(%dB)' % size, True


def make_world_readable(d):
    """chmod -R a+rX: the tool runs as nobody."""
    for base, dirs, files in os.walk(d):
        os.chmod(base, os.stat(base).st_mode | 0o555)
        for f in files:
            p = os.path.join(base, f)
            if not os.path.islink(p):
                mode = os.stat(p).st_mode
                os.chmod(p, mode | 0o444 | (0o111 if mode & 0o111 else 0))


def run_tool(cmd, cwd):
    """Runs one case's command in its own process group; kills the group on timeout (or when
    the campaign is interrupted). Returns (rc, stdout, stderr, seconds, timed out)."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=CASE_TIMEOUT)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return proc.returncode, out, err, time.time() - t0, timed_out


def stray_files(c, d, outputs):
    """Files (and empty folders) left in the case's out/ folder or on the full disk that are
    not declared outputs, and temporaries (hidden names) inside declared output folders."""
    def declared(p):
        return any(p == o or p.startswith(o.rstrip('/') + '/') for o in outputs)
    found = []
    roots = [os.path.join(d, 'out')] + ([P.full] if 'full' in c.needs else [])
    for top in roots:
        for base, dirs, files in os.walk(top):
            for n in files + [x for x in dirs if not os.listdir(os.path.join(base, x))]:
                p = os.path.join(base, n)
                if p == os.path.join(P.full, 'filler') or (c.user == 'nobody' and p == os.path.join(d, 'out/ro')):
                    continue
                if not declared(p):
                    found.append(p)
    for o in outputs:
        if os.path.isdir(o):
            for base, dirs, files in os.walk(o):
                found += [os.path.join(base, n) for n in files + dirs if n.startswith('.')]
    return sorted(set(found))


def shown(p, d):
    """A path as the log shows it: relative to the case folder, or @F/..."""
    if p.startswith(P.full + '/'):
        return '@F/' + os.path.relpath(p, P.full)
    if p.startswith(d + '/'):
        return os.path.relpath(p, d)
    return p


def run_case(cid, c, keep):
    d = os.path.join(P.cases, '%03d' % cid)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, 'out'))
    info = dict(expect=c.expect, why=c.why, detail=[], rng=random.Random(zlib.crc32(('%s|%s' % (c.stage, c.name)).encode())))
    rec = dict(id=cid, stage=c.stage, name=c.name, expect=c.expect, why=c.why)
    if 'full' in c.needs:
        clear_full()
    try:
        if c.setup:
            c.setup(d, info)
        argv = [expand(a, d) for a in c.argv]
        outputs = [expand(o, d) for o in c.outputs]
    except Exception as e:  # noqa: BLE001  (any setup failure means the case tested nothing)
        rec.update(problems=['HARNESS: setup failed: %s: %s' % (type(e).__name__, e)], cmd=' '.join(c.argv), verdict='flagged')
        return rec
    argv[0] = os.path.join(P.bin, argv[0])
    prefix = []
    if c.user == 'nobody':
        make_world_readable(d)
        os.chmod(os.path.join(d, 'out'), 0o777)
        if os.path.isdir(os.path.join(d, 'out/ro')):
            os.chmod(os.path.join(d, 'out/ro'), 0o755)
        prefix = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
    rc, out, err, seconds, timed_out = run_tool(prefix + argv, d)
    err_text = err.decode('utf-8', 'replace')
    lines = [ln for ln in err_text.replace('\r', '\n').splitlines() if ln.strip() and not PROGRESS_RE.search(ln)]
    died = not timed_out and (rc < 0 or rc >= 128)
    crash_text = bool(CRASH_RE.search(err_text))
    states, finished = {}, []
    for o in outputs:
        state, fin = describe(o)
        states[shown(o, d)] = state
        if fin:
            finished.append(shown(o, d))
    litter = [shown(p, d) for p in stray_files(c, d, outputs)]
    error_lines = [ln for ln in lines if ERROR_LINE_RE.match(ln)]
    expect = info['expect']
    problems = []
    if timed_out:
        problems.append('HANG')
    if died or crash_text:
        problems.append('CRASH')
    if not problems:
        if rc == 0:
            if expect == 'fail':
                problems.append('EXIT0')
                if finished:
                    problems.append('LEFT:' + ','.join(finished))
        elif expect == 'ok':
            problems.append('FAILED-ON-VALID(rc=%d)' % rc)
        else:
            if not error_lines:
                problems.append('UNCLEAR')
            if finished:
                problems.append('LEFT:' + ','.join(finished))
            if c.reason and error_lines and not re.search(c.reason, error_lines[-1], re.I):
                problems.append('WRONG-REASON(expected /%s/)' % c.reason)
    if litter:
        problems.append('LITTER:' + ','.join(litter))
    rec.update(expect=expect, why=info['why'], detail=info['detail'], cmd=shlex.join(prefix + argv), cwd=d, rc=rc,
               signal=died, timeout=timed_out, secs=round(seconds, 2), error_line=error_lines[-1] if error_lines else '',
               stderr_tail=lines[-3:], stdout_tail=out.decode('utf-8', 'replace').strip().splitlines()[-2:],
               outputs=states, litter=litter, problems=problems, verdict='flagged' if problems else 'clean')
    if not problems and not keep:
        shutil.rmtree(d, ignore_errors=True)
    return rec


# ================================================================================== reporting

_tty = sys.stdout.isatty()


def progress(text):
    """A status line: rewritten in place on a terminal, one line each otherwise."""
    if _tty:
        sys.stdout.write('\r\033[K' + text[:150])
        sys.stdout.flush()
    else:
        print(text, flush=True)


def say(text=''):
    if _tty:
        sys.stdout.write('\r\033[K')
    print(text, flush=True)


def log_block(rec):
    lines = ['[%03d] %-24s %s' % (rec['id'], rec['stage'], rec['name']),
             '      verdict: %s%s' % (rec['verdict'], (': ' + ' '.join(rec['problems'])) if rec.get('problems') else '')]
    if rec['verdict'] == 'skipped':
        lines.append('      skipped: %s' % rec['skip_reason'])
        return '\n'.join(lines) + '\n'
    lines.append('      expect: %s%s' % (rec['expect'], ' (%s)' % rec['why'] if rec.get('why') else ''))
    if rec.get('detail'):
        lines.append('      detail: %s' % '; '.join(rec['detail']))
    lines.append('      cmd: %s' % rec.get('cmd'))
    if 'rc' in rec:
        lines.append('      rc=%s %.2fs%s%s' % (rec['rc'], rec['secs'], ' TIMEOUT' if rec['timeout'] else '', ' SIGNAL' if rec['signal'] else ''))
        lines.append('      stderr: %s' % ' | '.join(rec['stderr_tail'])[-800:])
        lines.append('      outputs: %s%s' % (rec['outputs'], ('  litter: %s' % rec['litter']) if rec['litter'] else ''))
    return '\n'.join(lines) + '\n'


def summary_table(records):
    stages = []
    for r in records:
        if r['stage'] not in stages:
            stages.append(r['stage'])
    rows = [('stage', 'cases', 'clean', 'flagged', 'skipped')]
    total = [0, 0, 0, 0]
    for s in stages:
        rs = [r for r in records if r['stage'] == s]
        counts = [len(rs)] + [sum(r['verdict'] == v for r in rs) for v in ('clean', 'flagged', 'skipped')]
        total = [a + b for a, b in zip(total, counts)]
        rows.append((s,) + tuple(str(n) for n in counts))
    rows.append(('TOTAL',) + tuple(str(n) for n in total))
    width = max(len(r[0]) for r in rows)
    out = []
    for k, r in enumerate(rows):
        out.append('%-*s  %5s  %5s  %7s  %7s' % ((width,) + r))
        if k == 0 or k == len(rows) - 2:
            out.append('-' * (width + 32))
    return '\n'.join(out)


# ======================================================================================= main

def main():
    ap = argparse.ArgumentParser(
        description='The bad-input campaign: damaged inputs for every MSCN stage; each must fail cleanly '
                    '(one error line, no crash, no hang, no finished-looking output, no temporaries).',
        epilog='Exit status: 0 when every case that ran is clean, 1 otherwise. Results: WORK/results.jsonl, WORK/fuzz.log.')
    ap.add_argument('filters', nargs='*', metavar='FILTER', help='run only the cases whose stage or name contains one of these')
    ap.add_argument('--bin', default=os.path.join(REPOSITORY, '.build/release'),
                    help="folder of the built executables (default: the repository's .build/release)")
    ap.add_argument('--work', default=os.path.join(REPOSITORY, 'Data/fuzz'),
                    help="scratch, prepared inputs and results (default: the repository's Data/fuzz)")
    ap.add_argument('--list', action='store_true', help='list the cases (id, stage, name, expectation) and exit')
    ap.add_argument('--keep', action='store_true', help='keep the case folders of clean cases too (flagged ones are always kept)')
    ap.add_argument('--rebuild-inputs', action='store_true', help='prepare the inputs again even if they could be reused')
    args = ap.parse_args()

    define_cases()
    P.bin = os.path.abspath(args.bin)
    P.work = os.path.abspath(args.work)
    P.inputs = os.path.join(P.work, 'inputs')
    P.run = os.path.join(P.inputs, 'run')
    P.extra = os.path.join(P.inputs, 'extra')
    P.cases = os.path.join(P.work, 'cases')
    P.full = os.path.join(P.work, 'full')
    selected = [(i, c) for i, c in enumerate(CASES) if not args.filters or any(f in c.stage or f in c.name for f in args.filters)]
    if args.list:
        for i, c in selected:
            needs = ' [root: %s]' % ', '.join(sorted(c.needs)) if c.needs else ''
            print('%03d  %-24s %-6s %s%s' % (i, c.stage, c.expect, c.name, needs))
        print('%d of %d cases' % (len(selected), len(CASES)))
        return 0
    if not selected:
        print('no case matches %s' % ' '.join(args.filters), file=sys.stderr)
        return 1

    os.makedirs(P.work, exist_ok=True)
    t_start = time.time()
    try:
        how, prep_seconds = ensure_inputs(args.rebuild_inputs)
    except PrepareError as e:
        say('preparing the inputs failed: %s' % e)
        return 1
    except KeyboardInterrupt:
        say('interrupted while preparing the inputs (they will be prepared again next time)')
        return 1
    say('inputs %s in %s (%.0f s)' % (how, P.inputs, prep_seconds))

    shutil.rmtree(P.cases, ignore_errors=True)
    os.makedirs(P.cases)
    root_only = RootOnly()
    records = []
    interrupted = False
    log = open(os.path.join(P.work, 'fuzz.log'), 'w')
    results = open(os.path.join(P.work, 'results.jsonl'), 'w')
    t_cases = time.time()
    try:
        root_only.setup(set().union(*(c.needs for _, c in selected)))
        for n, (cid, c) in enumerate(selected):
            reason = root_only.skip_reason(c)
            if reason:
                rec = dict(id=cid, stage=c.stage, name=c.name, expect=c.expect, verdict='skipped', skip_reason=reason, problems=[])
            else:
                rec = run_case(cid, c, args.keep)
            records.append(rec)
            results.write(json.dumps(rec) + '\n')
            results.flush()
            log.write(log_block(rec))
            log.flush()
            done = n + 1
            elapsed = time.time() - t_cases
            eta = elapsed / done * (len(selected) - done)
            flagged = sum(r['verdict'] == 'flagged' for r in records)
            status = '[%d/%d] %d flagged, ETA %.0f s  %s / %s' % (done, len(selected), flagged, eta, c.stage, c.name)
            if _tty:
                if rec['verdict'] == 'flagged':
                    say('[%03d] %s / %s: %s' % (cid, c.stage, c.name, ' '.join(rec['problems'])))
                progress(status)
            else:
                print('[%03d] %-7s %5.1fs  %s / %s%s' % (cid, rec['verdict'], rec.get('secs', 0), c.stage, c.name,
                                                       ('  ' + ' '.join(rec['problems'])) if rec['problems'] else ''), flush=True)
    except KeyboardInterrupt:
        interrupted = True
        say('interrupted after %d of %d cases' % (len(records), len(selected)))
    finally:
        root_only.teardown()
        log.close()
        results.close()
    case_seconds = time.time() - t_cases

    # A case that wrote into the prepared inputs (through a hard link) would spoil later cases.
    stamp_path = os.path.join(P.inputs, 'stamp.json')
    stamp = json.load(open(stamp_path))
    now = input_digests()
    changed = sorted(k for k in set(stamp['files']) | set(now) if stamp['files'].get(k) != now.get(k))
    if changed:
        os.remove(stamp_path)   # so the next run prepares them again

    say()
    say(summary_table(records))
    flagged = [r for r in records if r['verdict'] == 'flagged']
    skipped = [r for r in records if r['verdict'] == 'skipped']
    if skipped:
        reasons = {}
        for r in skipped:
            reasons[r['skip_reason']] = reasons.get(r['skip_reason'], 0) + 1
        say()
        for why, k in reasons.items():
            say('skipped %d root-only case(s): %s' % (k, why))
    if flagged:
        say()
        say('%d flagged case(s):' % len(flagged))
        for r in flagged:
            say()
            say('[%03d] %s / %s: %s' % (r['id'], r['stage'], r['name'], ' '.join(r['problems'])))
            if r.get('why'):
                say('      expect %s: %s' % (r['expect'], r['why']))
            say('      cmd: %s' % r['cmd'])
            for ln in r.get('stderr_tail', []):
                say('      | %s' % ln[-300:])
            if r.get('cwd'):
                say('      kept: %s' % r['cwd'])
    if changed:
        say()
        say('HARNESS: the campaign changed prepared inputs (they will be prepared again): %s' % ', '.join(changed[:10]))
    say()
    say('%d cases in %.0f s (inputs: %s, %.0f s; total %.0f s); %d flagged, %d skipped. Log: %s'
        % (len(records), case_seconds, how, prep_seconds, time.time() - t_start, len(flagged), len(skipped),
           os.path.join(P.work, 'fuzz.log')))
    return 1 if flagged or changed or interrupted else 0


if __name__ == '__main__':
    sys.exit(main())
