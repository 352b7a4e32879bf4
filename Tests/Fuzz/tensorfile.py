"""Reader and writer of MSCN tensor files (layout version 2), for the bad-input campaign.

The campaign needs files that are structurally perfect (right magic, footer CRC, zstd frame
checksums) but hold wrong contents: a token id past the vocabulary, a NaN weight, a tensor
missing or of the wrong dtype. Only a writer of the real format can make those; byte damage
alone never gets past the checksums.

The layout, as Sources/TensorFile/Layout.swift defines it (integers little-endian):

    offset 0      "MSCNTZ02"
    offset 8      zstd frames, back to back: tensors in footer order, each tensor's C-order
                  bytes cut into frames of exactly `frameBytes` raw bytes (the last shorter;
                  an empty tensor has none), each frame with content size and checksum
    footerStart   footer: UTF-8 JSON {"version": 2, "metadata": {str: str},
                  "tensors": [{name, dtype, shape, offset, frameBytes, frames}]}
    size - 24     footer length (u64) | CRC-32C of the footer (u32) | version (u32) | "MSCNTEND"

Compression goes through libzstd itself (ctypes on libzstd.so.1, which the stages link too),
with the stages' settings: level 1, checksum and content-size flags. The footer is encoded as
Swift's JSONEncoder does it there (sorted keys, no spaces, slashes unescaped). So a file this
module writes is byte-identical to the one TensorFileWriter writes for the same tensors and
metadata (`python3 tensorfile.py --selftest FILE...` checks that on real files).

Needs numpy and libzstd.so.1 (Debian: python3-numpy, libzstd1; libzstd-dev, which `make deps`
installs for the build, depends on libzstd1).
"""
import ctypes
import ctypes.util
import json
import os
import struct
import sys

import numpy as np

HEAD_MAGIC = b'MSCNTZ02'
TAIL_MAGIC = b'MSCNTEND'
VERSION = 2
TRAILER_SIZE = 24
DEFAULT_FRAME_BYTES = 4 << 20     # Layout.defaultFrameBytes
COMPRESSION_LEVEL = 1             # TensorFileWriter.defaultCompressionLevel

# The file's dtype names and their little-endian numpy equivalents (Sources/TensorFile/DType.swift).
NUMPY_DTYPE = {'f32': '<f4', 'f64': '<f8', 'i32': '<i4', 'i64': '<i8', 'u8': 'u1'}


class TensorFileProblem(Exception):
    """A file this module cannot read: says which file and what is wrong."""


# ---------------------------------------------------------------------------------------- zstd

class _Zstd:
    """The few libzstd calls the format needs, bound once on first use."""

    # zstd.h: ZSTD_cParameter values.
    C_COMPRESSION_LEVEL = 100
    C_CONTENT_SIZE_FLAG = 200
    C_CHECKSUM_FLAG = 201
    CONTENTSIZE_UNKNOWN = 2**64 - 1
    CONTENTSIZE_ERROR = 2**64 - 2

    def __init__(self):
        name = ctypes.util.find_library('zstd') or 'libzstd.so.1'
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            raise RuntimeError('cannot load libzstd (%s); on Debian: apt-get install libzstd1' % e)
        size_t, vp = ctypes.c_size_t, ctypes.c_void_p
        lib.ZSTD_createCCtx.restype = vp
        lib.ZSTD_freeCCtx.argtypes = [vp]
        lib.ZSTD_CCtx_setParameter.argtypes = [vp, ctypes.c_int, ctypes.c_int]
        lib.ZSTD_CCtx_setParameter.restype = size_t
        lib.ZSTD_compress2.argtypes = [vp, vp, size_t, vp, size_t]
        lib.ZSTD_compress2.restype = size_t
        lib.ZSTD_compressBound.argtypes = [size_t]
        lib.ZSTD_compressBound.restype = size_t
        lib.ZSTD_isError.argtypes = [size_t]
        lib.ZSTD_isError.restype = ctypes.c_uint
        lib.ZSTD_getErrorName.argtypes = [size_t]
        lib.ZSTD_getErrorName.restype = ctypes.c_char_p
        lib.ZSTD_getFrameContentSize.argtypes = [vp, size_t]
        lib.ZSTD_getFrameContentSize.restype = ctypes.c_ulonglong
        lib.ZSTD_decompress.argtypes = [vp, size_t, vp, size_t]
        lib.ZSTD_decompress.restype = size_t
        self.lib = lib
        # One context for the whole process: the campaign is single-threaded.
        self.cctx = lib.ZSTD_createCCtx()
        for param, value in [(self.C_COMPRESSION_LEVEL, COMPRESSION_LEVEL),
                             (self.C_CHECKSUM_FLAG, 1), (self.C_CONTENT_SIZE_FLAG, 1)]:
            self._check(lib.ZSTD_CCtx_setParameter(self.cctx, param, value), 'setParameter')

    def _check(self, r, what):
        if self.lib.ZSTD_isError(r):
            raise RuntimeError('zstd %s failed: %s' % (what, self.lib.ZSTD_getErrorName(r).decode()))
        return r

    def compress(self, raw):
        cap = self.lib.ZSTD_compressBound(len(raw))
        dst = ctypes.create_string_buffer(cap)
        n = self._check(self.lib.ZSTD_compress2(self.cctx, dst, cap, raw, len(raw)), 'compress')
        return dst.raw[:n]

    def decompress(self, frame, expected):
        """Inflates one frame that must declare and hold exactly `expected` bytes."""
        declared = self.lib.ZSTD_getFrameContentSize(frame, len(frame))
        if declared >= self.CONTENTSIZE_ERROR:
            raise ValueError('bad zstd frame header')
        if declared != expected:
            raise ValueError('frame declares %d bytes, the footer says %d' % (declared, expected))
        dst = ctypes.create_string_buffer(max(expected, 1))
        r = self.lib.ZSTD_decompress(dst, expected, frame, len(frame))
        if self.lib.ZSTD_isError(r):
            raise ValueError('corrupt frame (%s)' % self.lib.ZSTD_getErrorName(r).decode())
        if r != expected:
            raise ValueError('frame inflates to %d bytes, expected %d' % (r, expected))
        return dst.raw[:expected]


_zstd = None


def _z():
    global _zstd
    if _zstd is None:
        _zstd = _Zstd()
    return _zstd


# -------------------------------------------------------------------------------------- CRC-32C

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data):
    """CRC-32C (Castagnoli, reflected), the footer's checksum (Sources/TensorFile/CRC32C.swift)."""
    c = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ------------------------------------------------------------------------------------ the model

class Tensor:
    """One named tensor. `dtype` is the file's name for the element type; `write` converts
    `array` to it, so changing `dtype` alone re-types the data (values kept, bytes changed)."""

    def __init__(self, name, dtype, array):
        if dtype not in NUMPY_DTYPE:
            raise ValueError('dtype %r is none of %s' % (dtype, ', '.join(NUMPY_DTYPE)))
        self.name = name
        self.dtype = dtype
        self.array = array

    def __repr__(self):
        return 'Tensor(%r, %s, %s)' % (self.name, self.dtype, list(np.shape(self.array)))


class TensorFile:
    """A whole file: string metadata and tensors, in file order."""

    def __init__(self, metadata=None, tensors=None):
        self.metadata = dict(metadata or {})
        self.tensors = list(tensors or [])

    def names(self):
        return [t.name for t in self.tensors]

    def __getitem__(self, name):
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError('no tensor %r (the file has %s)' % (name, ', '.join(self.names())))

    def __contains__(self, name):
        return name in self.names()

    def drop(self, name):
        self[name]  # a KeyError if absent: a case that drops nothing would test nothing
        self.tensors = [t for t in self.tensors if t.name != name]


# ---------------------------------------------------------------------------------- read, write

def read(path):
    """Reads and checks a whole file (magic, trailer, footer CRC, frame layout and checksums)."""
    with open(path, 'rb') as f:
        return decode(f.read(), path)


def decode(data, path='<bytes>'):
    """The TensorFile held by a file's bytes; TensorFileProblem when they are not a valid file."""
    def fail(message):
        return TensorFileProblem('%s: %s' % (path, message))

    if len(data) < len(HEAD_MAGIC) + TRAILER_SIZE:
        raise fail('too short for a tensor file')
    if data[:8] != HEAD_MAGIC:
        raise fail('bad magic %r' % data[:8])
    if data[-8:] != TAIL_MAGIC:
        raise fail('no end marker')
    footer_len, crc, version = struct.unpack('<QII', data[-TRAILER_SIZE:-8])
    if version != VERSION:
        raise fail('trailer says version %d' % version)
    footer_start = len(data) - TRAILER_SIZE - footer_len
    if footer_start < 8:
        raise fail('footer length %d does not fit' % footer_len)
    footer_bytes = data[footer_start:len(data) - TRAILER_SIZE]
    if crc32c(footer_bytes) != crc:
        raise fail('footer checksum mismatch')
    try:
        footer = json.loads(footer_bytes)
    except ValueError as e:
        raise fail('footer is not JSON (%s)' % e)
    result = TensorFile(footer['metadata'])
    end = 8
    for rec in footer['tensors']:
        if rec.get('dtype') not in NUMPY_DTYPE:
            raise fail('unknown dtype %r' % rec.get('dtype'))
        dtype = np.dtype(NUMPY_DTYPE[rec['dtype']])
        total = dtype.itemsize * int(np.prod(rec['shape'], dtype=np.int64))
        if rec['offset'] != end:
            raise fail('%s: data at %d, previous data ends at %d' % (rec['name'], rec['offset'], end))
        chunks = []
        for i, stored in enumerate(rec['frames']):
            raw_size = min(rec['frameBytes'], total - i * rec['frameBytes'])
            try:
                chunks.append(_z().decompress(data[end:end + stored], raw_size))
            except ValueError as e:
                raise fail('%s: frame %d: %s' % (rec['name'], i, e))
            end += stored
        raw = b''.join(chunks)
        if len(raw) != total:
            raise fail('%s: %d bytes, shape %s needs %d' % (rec['name'], len(raw), rec['shape'], total))
        array = np.frombuffer(raw, dtype=dtype).reshape(rec['shape']).copy()
        result.tensors.append(Tensor(rec['name'], rec['dtype'], array))
    if end != footer_start:
        raise fail('frames end at %d, the footer starts at %d' % (end, footer_start))
    return result


def encode(tf, frame_bytes=DEFAULT_FRAME_BYTES):
    """The bytes of a file holding `tf`, as TensorFileWriter lays them out."""
    body = [HEAD_MAGIC]
    offset = len(HEAD_MAGIC)
    records = []
    for t in tf.tensors:
        # Not np.ascontiguousarray: it turns a scalar (shape []) into shape [1].
        array = np.asarray(t.array).astype(NUMPY_DTYPE[t.dtype], order='C')
        raw = array.tobytes()
        start = offset
        frames = []
        for i in range(0, len(raw), frame_bytes):
            z = _z().compress(raw[i:i + frame_bytes])
            frames.append(len(z))
            body.append(z)
            offset += len(z)
        # Key order of the Codable struct does not matter: the encoder sorts keys.
        records.append({'dtype': t.dtype, 'frameBytes': frame_bytes, 'frames': frames, 'name': t.name,
                        'offset': start, 'shape': [int(d) for d in array.shape]})
    footer = json.dumps({'metadata': {str(k): str(v) for k, v in tf.metadata.items()}, 'tensors': records,
                         'version': VERSION},
                        sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    body.append(footer)
    body.append(struct.pack('<QII', len(footer), crc32c(footer), VERSION) + TAIL_MAGIC)
    return b''.join(body)


def write(path, tf, frame_bytes=DEFAULT_FRAME_BYTES):
    """Writes `tf` to `path` through a temporary and a rename. The rename matters: case folders
    hold hard links to the prepared inputs, and writing into such a link in place would damage
    the shared original."""
    data = encode(tf, frame_bytes)
    tmp = '%s.tmp-%d' % (path, os.getpid())
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


def edit(src, dst, change, frame_bytes=DEFAULT_FRAME_BYTES):
    """dst = src after `change(tensor_file)`, which edits it in place."""
    tf = read(src)
    change(tf)
    write(dst, tf, frame_bytes)


def same_contents(a, b):
    """Whether two TensorFiles hold the same metadata and tensors (names, dtypes, shapes, bytes)."""
    return (a.metadata == b.metadata and len(a.tensors) == len(b.tensors) and
            all(x.name == y.name and x.dtype == y.dtype and x.array.shape == y.array.shape and
                x.array.tobytes() == y.array.tobytes() for x, y in zip(a.tensors, b.tensors)))


def frame_spans(data):
    """(tensor name, frame index, start, end) of every stored frame of an intact file's bytes,
    from its footer: where a damaged byte will land, before the damage is done."""
    footer_len = struct.unpack('<Q', data[-TRAILER_SIZE:-16])[0]
    footer = json.loads(data[len(data) - TRAILER_SIZE - footer_len:len(data) - TRAILER_SIZE])
    spans = []
    for rec in footer['tensors']:
        at = rec['offset']
        for i, stored in enumerate(rec['frames']):
            spans.append((rec['name'], i, at, at + stored))
            at += stored
    return spans


def tensor_at(data, pos):
    """The tensor whose frames hold byte `pos` of an intact file, None for head, footer, trailer."""
    for name, _, start, end in frame_spans(data):
        if start <= pos < end:
            return name
    return None


def _selftest(paths):
    """Re-encodes real files; they must come out byte for byte as the stages wrote them."""
    bad = 0
    for p in paths:
        original = open(p, 'rb').read()
        tf = read(p)
        frame_bytes = DEFAULT_FRAME_BYTES
        again = encode(tf, frame_bytes)
        same = again == original
        bad += not same
        print('%s  %s (%d tensors, %d bytes)' % ('same' if same else 'DIFFERENT', p, len(tf.tensors), len(original)))
    return 1 if bad else 0


if __name__ == '__main__':
    if len(sys.argv) > 2 and sys.argv[1] == '--selftest':
        sys.exit(_selftest(sys.argv[2:]))
    print('usage: python3 tensorfile.py --selftest FILE...  (re-encodes tensor files, expects identical bytes)')
    sys.exit(2)
