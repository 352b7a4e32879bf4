// See include/blas_replay.h. The replay follows OpenBLAS 0.3.21's threaded level-3 driver
// (driver/level3/level3_thread.c, gemm_driver and inner_thread) as compiled into Debian's
// DYNAMIC_ARCH build: SWITCH_RATIO 2, GEMM_PREFERED_SIZE 1, DIVIDE_RATE 2, and the Haswell
// sgemm parameters (unroll 8×4, P = Q = 320). Each C element's bits depend on which kernel call
// covers it and with what width (the kernel tiles a call's columns as 12s, then 8, 4, 2, 1), so
// the calls are reproduced exactly, not just the split. `mscn blas-check` compares the replay
// with OpenBLAS's two threads on random shapes, and a test runs it.
#include "blas_replay.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { CblasRowMajorValue = 101, CblasNoTransValue = 111, CblasTransValue = 112 };
extern void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
extern void openblas_set_num_threads(int n);
extern int openblas_get_num_threads(void);
extern char *openblas_get_corename(void);

typedef long blas_long;
typedef int (*copy_fn)(blas_long m, blas_long n, float *a, blas_long lda, float *b);
typedef int (*kernel_fn)(blas_long m, blas_long n, blas_long k, float alpha, float *sa, float *sb, float *c, blas_long ldc);
typedef int (*beta_fn)(blas_long m, blas_long n, blas_long unused1, float beta, float *unused2, blas_long unused3,
                       float *unused4, blas_long unused5, float *c, blas_long ldc);

static copy_fn itcopy, incopy, oncopy, otcopy;
static kernel_fn kernel;
static beta_fn beta_op;

enum { SWITCH_RATIO = 2, UNROLL_M = 8, UNROLL_N = 4, GEMM_P = 320, GEMM_Q = 320, DIVIDE_RATE = 2, REPLAY_THREADS = 2 };
// OpenBLAS splits products with m·n·k above this over its threads (interface/gemm.c).
static const double threading_threshold = 65536.0 * 4.0;

static int replay_on = 0;
static int replay_available = 0; // MSCN_SERIAL_BLAS=1 was accepted (mscn_blas_use_replay can turn it back on)
static int replay_refused = 0;   // asked for (MSCN_SERIAL_BLAS=1) but not applicable here
static int virtual_threads = 0;   // 0 until initialised
static char status_line[256] = "OpenBLAS's own threads";
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

// Debian's 0.3.21 builds its Zen target from Haswell's sgemm kernel and parameters: under Zen
// OpenBLAS gives the Haswell bits (`mscn blas-check` with OPENBLAS_CORETYPE=Zen; the demo's 129
// artefacts), so the replay and the single-depth-block forms stand in for it there too.
static int runs_haswell_kernels(const char *core) {
    return core && (strcasecmp(core, "haswell") == 0 || strcasecmp(core, "zen") == 0);
}

// OpenBLAS's build string (e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ..."), "" when it has none: the
// replay and the single-depth-block forms follow 0.3.21's blocking only.
static const char *openblas_version(void) {
    void *self = dlopen(NULL, RTLD_NOW);
    char *(*config)(void) = self ? (char *(*)(void))dlsym(self, "openblas_get_config") : NULL;
    const char *version = config ? config() : NULL;
    return version ? version : "";
}

static void initialise(void) {
    virtual_threads = openblas_get_num_threads();
    const char *asked = getenv("MSCN_SERIAL_BLAS");
    if (!asked || strcmp(asked, "1") != 0) return;
    const char *core = openblas_get_corename();
    void *self = dlopen(NULL, RTLD_NOW);
    if (self) {
        itcopy = (copy_fn)dlsym(self, "sgemm_itcopy_HASWELL");
        incopy = (copy_fn)dlsym(self, "sgemm_incopy_HASWELL");
        oncopy = (copy_fn)dlsym(self, "sgemm_oncopy_HASWELL");
        otcopy = (copy_fn)dlsym(self, "sgemm_otcopy_HASWELL");
        kernel = (kernel_fn)dlsym(self, "sgemm_kernel_HASWELL");
        beta_op = (beta_fn)dlsym(self, "sgemm_beta_HASWELL");
    }
    const char *version = openblas_version();
    if (!runs_haswell_kernels(core)) {
        snprintf(status_line, sizeof status_line, "MSCN_SERIAL_BLAS=1 ignored: OpenBLAS runs its %s kernels, the replay knows Haswell's and Zen's (set OPENBLAS_CORETYPE=Haswell)", core ? core : "unknown");
    } else if (!(itcopy && incopy && oncopy && otcopy && kernel && beta_op)) {
        snprintf(status_line, sizeof status_line, "MSCN_SERIAL_BLAS=1 ignored: this OpenBLAS does not export its Haswell sgemm kernels");
    } else if (!strstr(version, "0.3.21")) {
        snprintf(status_line, sizeof status_line, "MSCN_SERIAL_BLAS=1 ignored: the replay follows OpenBLAS 0.3.21, this is %s", version);
    } else if (virtual_threads != REPLAY_THREADS) {
        snprintf(status_line, sizeof status_line, "MSCN_SERIAL_BLAS=1 ignored: OpenBLAS has %d threads here, the replay knows the split of 2", virtual_threads);
    } else {
        replay_on = 1;
        replay_available = 1;
        openblas_set_num_threads(1);
        snprintf(status_line, sizeof status_line, "MSCN_SERIAL_BLAS=1: OpenBLAS's two-thread products computed on the calling thread");
    }
    replay_refused = !replay_on;
}

static void ensure_initialised(void) { pthread_once(&init_once, initialise); }

int mscn_blas_replay_active(void) { ensure_initialised(); return replay_on; }
int mscn_blas_replay_refused(void) { ensure_initialised(); return replay_refused; }
const char *mscn_blas_replay_status(void) { ensure_initialised(); return status_line; }

static int single_block_depth = -1;
static pthread_once_t depth_once = PTHREAD_ONCE_INIT;

static void find_single_block_depth(void) {
    single_block_depth = runs_haswell_kernels(openblas_get_corename()) && strstr(openblas_version(), "0.3.21") ? GEMM_Q : 0;
}

int mscn_sgemm_single_block_depth(void) {
    pthread_once(&depth_once, find_single_block_depth);
    return single_block_depth;
}
int mscn_blas_threads(void) { ensure_initialised(); return replay_on ? virtual_threads : openblas_get_num_threads(); }

void mscn_blas_set_threads(int n) {
    ensure_initialised();
    if (n < 1) n = 1;
    if (!replay_on) { openblas_set_num_threads(n); return; }
    virtual_threads = n;
    openblas_set_num_threads(n == REPLAY_THREADS ? 1 : n);
}

// Packing buffers of the calling thread, grown on demand and kept (one product at a time each).
static _Thread_local void *packed_a, *packed_b;
static _Thread_local size_t packed_a_bytes, packed_b_bytes;

// `*buffer` with room for at least `bytes` (64-byte aligned), grown when smaller; NULL when it
// cannot be had (the old buffer is gone then, and `*have` is 0).
static void *reserve(void **buffer, size_t *have, size_t bytes) {
    if (*have < bytes) {
        free(*buffer);
        *buffer = aligned_alloc(64, (bytes + 63) / 64 * 64);
        *have = *buffer ? bytes : 0;
    }
    return *buffer;
}

// Width of the next piece of B a thread packs and, on its first pass, computes with: three
// unroll widths, one, or what is left (inner_thread's min_jj).
static blas_long piece_width(blas_long rest) {
    if (rest >= 3 * UNROLL_N) return 3 * UNROLL_N;
    return rest > UNROLL_N ? UNROLL_N : rest;
}

// Width of each of the DIVIDE_RATE chunks of thread r's columns (inner_thread's div_n).
static blas_long chunk_width(const blas_long *range_n, int r) {
    return (range_n[r + 1] - range_n[r] + DIVIDE_RATE - 1) / DIVIDE_RATE;
}

// Splits 0..<total into `parts` ranges as gemm_driver does (widths rounded up, at least
// `min_width`, the last cut short); `range` gets parts + 1 bounds, empty ranges at the end.
static void partition(blas_long total, int parts, blas_long min_width, blas_long *range) {
    int made = 0;
    blas_long rest = total;
    range[0] = 0;
    while (rest > 0) {
        blas_long width = (rest + parts - made - 1) / (parts - made);
        if (width < min_width) width = min_width;
        rest -= width;
        if (rest < 0) width += rest;
        range[made + 1] = range[made] + width;
        made++;
    }
    for (int i = made; i < parts; i++) range[i + 1] = range[made];
}

// Rows of A packed at once: GEMM_P, half of what is left between P and 2P rounded to the
// unroll, or all of it. A thread's first block and its later ones round the half differently.
static blas_long row_block(blas_long rest, int first) {
    if (rest >= GEMM_P * 2) return GEMM_P;
    if (rest <= GEMM_P) return rest;
    blas_long half = first ? rest / 2 : (rest + 1) / 2;
    return ((half + UNROLL_M - 1) / UNROLL_M) * UNROLL_M;
}

// Reserves both packing buffers of a replay over depth K with `nthreads` threads splitting
// `range_n`, for replay() itself and for a caller that must know before it writes anything.
// Returns the floats of one thread-chunk of packed B (a K > 0 gives at least 1), 0 when the
// buffers could not be had.
static size_t reserve_packing(const blas_long *range_n, int nthreads, blas_long K) {
    blas_long widest = 0;
    for (int r = 0; r < nthreads; r++) {
        if (chunk_width(range_n, r) > widest) widest = chunk_width(range_n, r);
    }
    const blas_long depth = K < GEMM_Q ? K : GEMM_Q;
    const size_t chunk_floats = (size_t)depth * (size_t)((widest + UNROLL_N - 1) / UNROLL_N * UNROLL_N);
    const int ready = reserve(&packed_a, &packed_a_bytes, (size_t)GEMM_P * GEMM_Q * sizeof(float)) &&
                      reserve(&packed_b, &packed_b_bytes, (chunk_floats * (size_t)nthreads * DIVIDE_RATE + 1) * sizeof(float));
    return ready ? chunk_floats : 0;
}

static unsigned long long skipped_columns_total = 0;

unsigned long long mscn_sgemm_skipped_zero_rows(void) { return __atomic_load_n(&skipped_columns_total, __ATOMIC_RELAXED); }

// Whether the values of C's columns [from, to), rows [is, is + rows) include a negative zero.
static int has_negative_zero(const float *C, blas_long ldc, blas_long is, blas_long rows, blas_long from, blas_long to) {
    int found = 0;
    for (blas_long j = from; j < to; j++) {
        const unsigned int *col = (const unsigned int *)(C + is + j * ldc);
        for (blas_long i = 0; i < rows; i++) found |= col[i] == 0x80000000u;
    }
    return found;
}

typedef void (*columns_fn)(void *context, blas_long from, blas_long to);

// The end of the kernel tile that starts at `tile` in a call ending at `to` (see tile_runs).
static blas_long tile_end(blas_long tile, blas_long to) { return to - tile >= 3 * UNROLL_N ? tile + 3 * UNROLL_N : to; }

// Haswell's kernel computes a call's columns of C in tiles of 3·UNROLL_N from the call's first
// column, the rest as one tail (cut further, 8, 4, 2, 1, the same way in any call that ends
// there), each tile on its own: a call over columns [from, to) can be cut at those tile bounds
// into calls that give every column its bits. Tiles whose columns of op(B) are all zero
// (`zero_cols`) are left out (passed to `left_out`, if any): the kernel would only add +0 to
// them, which leaves C as it is unless C holds a -0 (+0 + -0 is +0), so with `check_c` (C rows
// [is, is + rows) not just zeroed by beta) such tiles are kept. The kept runs go to `compute`,
// each as one call.
static void tile_runs(blas_long from, blas_long to, const unsigned char *zero_cols, const float *C, blas_long ldc, blas_long is,
                      blas_long rows, int check_c, columns_fn compute, columns_fn left_out, void *context) {
    blas_long kept_from = from;
    for (blas_long tile = from, end; tile < to; tile = end) {
        end = tile_end(tile, to);
        int zero = 1;
        for (blas_long j = tile; j < end; j++) zero &= zero_cols[j];
        if (zero && check_c) zero = !has_negative_zero(C, ldc, is, rows, tile, end);
        if (zero) {
            if (kept_from < tile) compute(context, kept_from, tile);
            if (left_out) left_out(context, tile, end);
            __atomic_fetch_add(&skipped_columns_total, (unsigned long long)(end - tile), __ATOMIC_RELAXED);
            kept_from = end;
        }
    }
    if (kept_from < to) compute(context, kept_from, to);
}

// One of the replay's kernel calls: rows [is, is + min_i) of C, B packed from column `from`.
struct kernel_call { blas_long min_i, min_l, from, is, ldc; float alpha, *sa, *packed, *C; };

static void kernel_call_columns(void *context, blas_long from, blas_long to) {
    const struct kernel_call *k = context;
    kernel(k->min_i, to - from, k->min_l, k->alpha, k->sa, k->packed + k->min_l * (from - k->from), k->C + k->is + from * k->ldc, k->ldc);
}

// A kernel call over C's columns [from, to); with `zero_cols`, without its tiles of zero columns.
static void kernel_columns(blas_long min_i, blas_long from, blas_long to, blas_long min_l, float alpha, float *sa,
                           float *packed, float *C, blas_long ldc, blas_long is, const unsigned char *zero_cols, int check_c) {
    struct kernel_call call = {min_i, min_l, from, is, ldc, alpha, sa, packed, C};
    if (!zero_cols) kernel_call_columns(&call, from, to);
    else tile_runs(from, to, zero_cols, C, ldc, is, min_i, check_c, kernel_call_columns, NULL, &call);
}

// OpenBLAS's column-major view: C[M,N] (ldc) = alpha·op(A)[M,K]·op(B)[K,N] + beta·C, split as
// gemm_driver splits it for nthreads_m × nthreads_n threads, each thread's work replayed in turn.
// Returns 0 when the packing buffers could not be allocated (nothing written then).
// `zero_cols`: NULL, or one flag per column of op(B) that is all zero (see kernel_columns).
static int replay(int ta, int tb, blas_long M, blas_long N, blas_long K, float alpha,
                  const float *A, blas_long lda, const float *B, blas_long ldb, float beta, float *C, blas_long ldc,
                  int nthreads_m, int nthreads_n, const unsigned char *zero_cols) {
    const int nthreads = nthreads_m * nthreads_n;
    blas_long range_m[REPLAY_THREADS + 1], range_n[REPLAY_THREADS + 1];
    partition(M, nthreads_m, 1, range_m);
    partition(N, nthreads, SWITCH_RATIO, range_n);   // B's columns go to every thread

    // Buffers first, so that a failed allocation leaves C untouched.
    const size_t chunk_floats = reserve_packing(range_n, nthreads, K);
    if (chunk_floats == 0) return 0;
    float *sa = packed_a, *sb = packed_b;

    // Each thread's columns in DIVIDE_RATE chunks, each with its packed buffer.
    struct chunk { blas_long from, to; float *packed; } chunks[REPLAY_THREADS][DIVIDE_RATE];
    int chunk_count[REPLAY_THREADS] = {0};
    for (int r = 0; r < nthreads; r++) {
        blas_long width = chunk_width(range_n, r);
        for (blas_long js = range_n[r]; js < range_n[r + 1] && chunk_count[r] < DIVIDE_RATE; js += width) {
            struct chunk *ch = &chunks[r][chunk_count[r]];
            ch->from = js;
            ch->to = range_n[r + 1] < js + width ? range_n[r + 1] : js + width;
            ch->packed = sb + chunk_floats * (size_t)(r * DIVIDE_RATE + chunk_count[r]);
            chunk_count[r]++;
        }
    }

    if (beta != 1.0f) {
        for (int t = 0; t < nthreads; t++) {
            int pm = t % nthreads_m, pn = t / nthreads_m;
            blas_long m0 = range_m[pm], m1 = range_m[pm + 1];
            blas_long n0 = range_n[pn * nthreads_m], n1 = range_n[(pn + 1) * nthreads_m];
            if (m1 > m0 && n1 > n0) beta_op(m1 - m0, n1 - n0, 0, beta, NULL, 0, NULL, 0, C + m0 + n0 * ldc, ldc);
        }
    }
    if (K == 0 || alpha == 0.0f) return 1;

    blas_long min_l;
    for (blas_long ls = 0; ls < K; ls += min_l) {
        min_l = K - ls;
        if (min_l >= GEMM_Q * 2) min_l = GEMM_Q;
        else if (min_l > GEMM_Q) min_l = (min_l + 1) / 2;

        // Every thread packs its own columns of B, in the pieces its own kernel calls use.
        for (int r = 0; r < nthreads; r++) {
            for (int q = 0; q < chunk_count[r]; q++) {
                const struct chunk *ch = &chunks[r][q];
                blas_long piece;
                for (blas_long jjs = ch->from; jjs < ch->to; jjs += piece) {
                    piece = piece_width(ch->to - jjs);
                    float *dst = ch->packed + min_l * (jjs - ch->from);
                    if (!tb) oncopy(min_l, piece, (float *)B + (ls + jjs * ldb), ldb, dst);
                    else otcopy(min_l, piece, (float *)B + (jjs + ls * ldb), ldb, dst);
                }
            }
        }

        for (int t = 0; t < nthreads; t++) {
            int pm = t % nthreads_m, pn = t / nthreads_m;
            blas_long m0 = range_m[pm], m1 = range_m[pm + 1];
            if (m1 <= m0) continue;
            blas_long min_i;
            for (blas_long is = m0; is < m1; is += min_i) {
                min_i = row_block(m1 - is, is == m0);
                if (!ta) itcopy(min_l, min_i, (float *)A + (is + ls * lda), lda, sa);
                else incopy(min_l, min_i, (float *)A + (ls + is * lda), lda, sa);
                for (int cur = pn * nthreads_m; cur < (pn + 1) * nthreads_m; cur++) {
                    for (int q = 0; q < chunk_count[cur]; q++) {
                        const struct chunk *ch = &chunks[cur][q];
                        if (cur == t && is == m0) {
                            // A thread's first pass over its own columns calls the kernel per packed piece.
                            blas_long piece;
                            for (blas_long jjs = ch->from; jjs < ch->to; jjs += piece) {
                                piece = piece_width(ch->to - jjs);
                                kernel_columns(min_i, jjs, jjs + piece, min_l, alpha, sa, ch->packed + min_l * (jjs - ch->from), C, ldc, is,
                                               zero_cols, beta != 0.0f);
                            }
                        } else {
                            kernel_columns(min_i, ch->from, ch->to, min_l, alpha, sa, ch->packed, C, ldc, is, zero_cols, beta != 0.0f);
                        }
                    }
                }
            }
        }
    }
    return 1;
}

static void openblas_sgemm(int transA, int transB, int m, int n, int k, float alpha,
                           const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajorValue, transA ? CblasTransValue : CblasNoTransValue, transB ? CblasTransValue : CblasNoTransValue,
                m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// How level3_thread.c's entry divides two threads over an M×N product: rows of C (M) need
// SWITCH_RATIO per thread, columns fill the threads left. Returns the threads used (1: not split).
static int two_thread_split(blas_long M, blas_long N, int *nthreads_m, int *nthreads_n) {
    *nthreads_m = 1;
    if (M >= 2 * SWITCH_RATIO) {
        *nthreads_m = REPLAY_THREADS;
        while (M < *nthreads_m * SWITCH_RATIO) *nthreads_m /= 2;
    }
    *nthreads_n = 1;
    if (N >= SWITCH_RATIO * *nthreads_m) {
        *nthreads_n = (int)((N + SWITCH_RATIO * *nthreads_m - 1) / (SWITCH_RATIO * *nthreads_m));
        if (*nthreads_m * *nthreads_n > REPLAY_THREADS) *nthreads_n = REPLAY_THREADS / *nthreads_m;
    }
    return *nthreads_m * *nthreads_n;
}

// Whether OpenBLAS computes this row-major m×n×k call (not replayed) on one thread: one thread
// set, or below its threading threshold.
static int runs_on_one_thread(int m, int n, int k) {
    return openblas_get_num_threads() == 1 || (double)m * (double)n * (double)k <= threading_threshold;
}

// Whether `mscn_sgemm` replays this row-major m×n×k call's two-thread split, and with which.
// cblas_sgemm's row-major call is OpenBLAS's column-major C^T = op(B)^T·op(A)^T: M = n, N = m.
static int replays_split(int m, int n, int k, int *nthreads_m, int *nthreads_n) {
    *nthreads_m = *nthreads_n = 1;
    return replay_on && virtual_threads == REPLAY_THREADS && m > 0 && n > 0 &&
           (double)m * (double)n * (double)k > threading_threshold && two_thread_split(n, m, nthreads_m, nthreads_n) > 1;
}

void mscn_sgemm(int transA, int transB, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    ensure_initialised();
    int nthreads_m, nthreads_n;
    if (replays_split(m, n, k, &nthreads_m, &nthreads_n)) {
        if (replay(transB, transA, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc, nthreads_m, nthreads_n, NULL)) return;
        // No memory for the packing buffers: OpenBLAS's own two threads give the same bits.
        openblas_set_num_threads(REPLAY_THREADS);
        openblas_sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        openblas_set_num_threads(1);
        return;
    }
    openblas_sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

int mscn_blas_use_replay(int on) {
    ensure_initialised();
    if (!replay_available || (on != 0) == replay_on) return replay_on;
    if (on) {
        virtual_threads = openblas_get_num_threads();
        replay_on = 1;
        if (virtual_threads == REPLAY_THREADS) openblas_set_num_threads(1);
    } else {
        replay_on = 0;
        openblas_set_num_threads(virtual_threads);
    }
    return replay_on;
}

// ---- Products whose depth has all-zero stretches -------------------------------------------

// OpenBLAS 0.3.21's single-threaded driver (driver/level3/level3.c) cuts the depth at GEMM_Q,
// or, between Q and 2Q, at half of what is left rounded up to the unroll; the threaded one (and
// the replay) at half rounded up.
static blas_long depth_block(blas_long rest, int threaded) {
    if (rest >= GEMM_Q * 2) return GEMM_Q;
    if (rest <= GEMM_Q) return rest;
    return threaded ? (rest + 1) / 2 : ((rest / 2 + UNROLL_M - 1) / UNROLL_M) * UNROLL_M;
}

// Haswell's kernel keeps its partial sums by depth position modulo this (measured: dropping
// aligned runs of 8 zero terms keeps every bit, shorter or unaligned runs do not).
enum { DEPTH_LANES = 8 };

// Whether all `n` values of `row` are zero (either sign). No early exit, so the compiler can
// vectorise it (rows are 24–300 values).
static int row_is_zero(const float *row, blas_long n) {
    int nonzero = 0;
    for (blas_long i = 0; i < n; i++) nonzero |= row[i] != 0;
    return !nonzero;
}

// Whether depth index p of the product contributes only zero terms: its row of op(A) (transA:
// row p of A, else column p) or of op(B) (transB: column p of B, else row p) is all zero.
static int depth_is_zero(int operand_b, int trans, blas_long p, blas_long width, const float *x, blas_long ld) {
    // op(A) is [m,k]: stored [k,m] when transposed. op(B) is [k,n]: stored [n,k] when transposed.
    const int contiguous = operand_b ? !trans : trans;
    if (contiguous) {
        return row_is_zero(x + p * ld, width);
    } else {
        for (blas_long i = 0; i < width; i++) if (x[i * ld + p] != 0) return 0;
    }
    return 1;
}

// Copies depth indices kept[0..<count] of an operand into `dst`, laid out as the operand
// (contiguous: [count, width], else [width, count]); returns the new leading dimension.
static blas_long gather_depth(int operand_b, int trans, const blas_long *kept, blas_long count, blas_long width,
                              const float *x, blas_long ld, float *dst) {
    const int contiguous = operand_b ? !trans : trans;
    if (contiguous) {
        for (blas_long q = 0; q < count; q++) memcpy(dst + q * width, x + kept[q] * ld, (size_t)width * sizeof(float));
        return width;
    }
    for (blas_long i = 0; i < width; i++) {
        const float *src = x + i * ld;
        float *out = dst + i * count;
        for (blas_long q = 0; q < count; q++) out[q] = src[kept[q]];
    }
    return count;
}

static unsigned long long dropped_depth_total = 0;

unsigned long long mscn_sgemm_dropped_depth(void) { return __atomic_load_n(&dropped_depth_total, __ATOMIC_RELAXED); }

static _Thread_local void *gathered_a, *gathered_b, *kept_depth_buffer, *lane_zero_buffer;
static _Thread_local size_t gathered_a_bytes, gathered_b_bytes, kept_depth_bytes, lane_zero_bytes;

void mscn_sgemm_skipping_zero_depth(int transA, int transB, int m, int n, int k, float alpha,
                                    const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc,
                                    int zeroOperand) {
    ensure_initialised();
    int nthreads_m, nthreads_n;
    const int threaded = replays_split(m, n, k, &nthreads_m, &nthreads_n);
    const int single = !threaded && runs_on_one_thread(m, n, k);
    const blas_long width = zeroOperand ? n : m;
    const float *x = zeroOperand ? b : a;
    const blas_long ldx = zeroOperand ? ldb : lda;
    const int trans = zeroOperand ? transB : transA;
    if (mscn_sgemm_single_block_depth() != GEMM_Q || !(threaded || single) || beta != 1.0f || alpha == 0.0f ||
        m <= 0 || n <= 0 || k <= 0) {
        mscn_sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    // Every buffer first: a failed allocation falls back to the whole product before C changes.
    const blas_long depth = k < GEMM_Q ? k : GEMM_Q;
    float *ga = reserve(&gathered_a, &gathered_a_bytes, (size_t)depth * (size_t)m * sizeof(float));
    float *gb = reserve(&gathered_b, &gathered_b_bytes, (size_t)depth * (size_t)n * sizeof(float));
    blas_long *kept_depth = reserve(&kept_depth_buffer, &kept_depth_bytes, (size_t)depth * sizeof(blas_long));
    // One flag per lane of each block (a block adds at most one partial lane).
    unsigned char *lane_zero = reserve(&lane_zero_buffer, &lane_zero_bytes, (size_t)(k / DEPTH_LANES + k / GEMM_Q + 3));
    int packing_ready = 1;
    if (threaded) {
        // What the replay's packing needs for this shape at the whole depth (blocks are no deeper).
        blas_long range_n[REPLAY_THREADS + 1];
        partition(m, nthreads_m * nthreads_n, SWITCH_RATIO, range_n);
        packing_ready = reserve_packing(range_n, nthreads_m * nthreads_n, k) > 0;
    }
    if (!ga || !gb || !kept_depth || !lane_zero || !packing_ready) {
        mscn_sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    // Which lanes are all zero, once; nothing to drop (a warm-up step's products, say): the
    // whole product as it is.
    int any_zero_lane = 0;
    size_t lane = 0;
    blas_long block;
    for (blas_long ls = 0; ls < k; ls += block) {
        block = depth_block(k - ls, threaded);
        for (blas_long lane0 = ls; lane0 < ls + block; lane0 += DEPTH_LANES, lane++) {
            const blas_long end = lane0 + DEPTH_LANES < ls + block ? lane0 + DEPTH_LANES : ls + block;
            int zero = 1;
            for (blas_long p = lane0; p < end && zero; p++) zero = depth_is_zero(zeroOperand, trans, p, width, x, ldx);
            lane_zero[lane] = (unsigned char)zero;
            any_zero_lane |= zero;
        }
    }
    if (!any_zero_lane) {
        mscn_sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    lane = 0;
    for (blas_long ls = 0; ls < k; ls += block) {
        block = depth_block(k - ls, threaded);
        // Whole runs of DEPTH_LANES zero terms, counted from the block's start, are dropped.
        blas_long count = 0;
        for (blas_long lane0 = ls; lane0 < ls + block; lane0 += DEPTH_LANES, lane++) {
            if (lane_zero[lane]) continue;
            const blas_long end = lane0 + DEPTH_LANES < ls + block ? lane0 + DEPTH_LANES : ls + block;
            for (blas_long p = lane0; p < end; p++) kept_depth[count++] = p;
        }
        if (count < block) __atomic_fetch_add(&dropped_depth_total, (unsigned long long)(block - count), __ATOMIC_RELAXED);
        if (count == 0) continue;
        // A block kept whole is read where it is.
        const float *block_a = transA ? a + ls * lda : a + ls, *block_b = transB ? b + ls : b + ls * ldb;
        blas_long lda2 = lda, ldb2 = ldb;
        if (count < block) {
            lda2 = gather_depth(0, transA, kept_depth, count, m, a, lda, ga);
            ldb2 = gather_depth(1, transB, kept_depth, count, n, b, ldb, gb);
            block_a = ga;
            block_b = gb;
        }
        if (threaded) {
            replay(transB, transA, n, m, count, alpha, block_b, ldb2, block_a, lda2, 1.0f, c, ldc, nthreads_m, nthreads_n, NULL);
        } else {
            openblas_sgemm(transA, transB, m, n, (int)count, alpha, block_a, (int)lda2, block_b, (int)ldb2, 1.0f, c, ldc);
        }
    }
}

// ---- Products with all-zero rows in op(A) -------------------------------------------------

static _Thread_local void *zero_row_buffer;
static _Thread_local size_t zero_row_bytes;

// Whether every stored value of op(B) [k,n] is finite (0·∞ would not be zero).
static int all_finite(int transB, int k, int n, const float *b, int ldb) {
    const int rows = transB ? n : k, width = transB ? k : n;
    int bad = 0;
    for (int r = 0; r < rows; r++) {
        const float *row = b + (size_t)r * (size_t)ldb;
        for (int i = 0; i < width; i++) bad |= !isfinite(row[i]);
    }
    return !bad;
}

// OpenBLAS's one-thread driver cuts C's columns at GEMM_R, which is far above this in 0.3.21's
// Haswell build; sub-products are only cut below it, so that its blocks never enter.
enum { SINGLE_MAX_COLUMNS = 8192 };

// Cutting a product costs a call and a packing of op(B) per kept run: worth it only when at least
// 1/MIN_SAVED_SHARE of the rows can go (a round step's products: about 90%; a warm-up's few
// pairs without gradient made its epochs ~5% slower when every zero tile was left out).
enum { MIN_SAVED_SHARE = 4 };

// One flag per row of op(A) [m,k] that is all zero (either sign). Returns how many rows lie in
// all-zero tiles of 3·UNROLL_N counted from the first row (the rest one tail), as the one-thread
// form cuts them: what leaving tiles out can save.
static int find_zero_rows(int transA, int m, int k, const float *a, int lda, unsigned char *zero) {
    // Row i of op(A) is row i of A, or column i of A stored [k, m] when transposed.
    if (!transA) {
        for (int i = 0; i < m; i++) zero[i] = (unsigned char)row_is_zero(a + (size_t)i * (size_t)lda, k);
    } else {
        memset(zero, 1, (size_t)m);
        for (int p = 0; p < k; p++) {
            const float *row = a + (size_t)p * (size_t)lda;
            for (int i = 0; i < m; i++) zero[i] &= row[i] == 0;
        }
    }
    int saved = 0;
    for (blas_long tile = 0, end; tile < m; tile = end) {
        end = tile_end(tile, m);
        int all = 1;
        for (blas_long i = tile; i < end; i++) all &= zero[i];
        if (all) saved += (int)(end - tile);
    }
    return saved;
}

// The one-thread form: OpenBLAS's one-thread driver hands the kernel pieces of 3·UNROLL_N columns
// (then UNROLL_N, then the rest) or a whole block, starting at the product's first column (C's
// first row here), so a sub-product over rows cut at tile_runs' bounds gives those rows the
// whole product's bits. A left-out tile's rows are C after beta (0 or 1 only).
struct sub_product { int transA, transB, n, k, lda, ldb, ldc; float alpha, beta; const float *a, *b; float *c; };

static void sub_product_rows(void *context, blas_long from, blas_long to) {
    const struct sub_product *p = context;
    openblas_sgemm(p->transA, p->transB, (int)(to - from), p->n, p->k, p->alpha, p->transA ? p->a + from : p->a + from * p->lda,
                   p->lda, p->b, p->ldb, p->beta, p->c + from * p->ldc, p->ldc);
}

static void zero_rows_after_beta(void *context, blas_long from, blas_long to) {
    const struct sub_product *p = context;
    if (p->beta == 0.0f) for (blas_long i = from; i < to; i++) memset(p->c + i * p->ldc, 0, (size_t)p->n * sizeof(float));
}

void mscn_sgemm_skipping_zero_rows(int transA, int transB, int m, int n, int k, float alpha,
                                   const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    ensure_initialised();
    int nthreads_m, nthreads_n;
    const int threaded = replays_split(m, n, k, &nthreads_m, &nthreads_n);
    const int single = !threaded && runs_on_one_thread(m, n, k) && mscn_sgemm_single_block_depth() == GEMM_Q &&
                       m <= SINGLE_MAX_COLUMNS && (beta == 0.0f || beta == 1.0f);
    unsigned char *zero = NULL;
    if ((threaded || single) && alpha != 0.0f && k > 0 && n > 0 &&
        (zero = reserve(&zero_row_buffer, &zero_row_bytes, (size_t)m)) != NULL &&
        find_zero_rows(transA, m, k, a, lda, zero) * MIN_SAVED_SHARE >= m && all_finite(transB, k, n, b, ldb)) {
        if (single) {
            // Row-major C's rows are OpenBLAS's columns: rows [0, n) of its view are our columns.
            struct sub_product p = {transA, transB, n, k, lda, ldb, ldc, alpha, beta, a, b, c};
            tile_runs(0, m, zero, c, ldc, 0, n, beta != 0.0f, sub_product_rows, zero_rows_after_beta, &p);
            return;
        }
        if (replay(transB, transA, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc, nthreads_m, nthreads_n, zero)) return;
    }
    mscn_sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// ---- The wrappers' shared edges --------------------------------------------------------------

void mscn_sgemm_product(int transA, int transB, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc,
                        int zero_rows_in_a) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        for (int r = 0; r < m; r++) {
            float *row = c + (size_t)r * ldc;
            if (beta == 0.0f) memset(row, 0, (size_t)n * sizeof(float));
            else if (beta != 1.0f) for (int j = 0; j < n; j++) row[j] *= beta;
        }
        return;
    }
    if (beta == 0.0f && (transA || transB)) {
        if (ldc == n) memset(c, 0, (size_t)m * n * sizeof(float));
        else for (int r = 0; r < m; r++) memset(c + (size_t)r * ldc, 0, (size_t)n * sizeof(float));
        beta = 1.0f;
    }
    if (zero_rows_in_a) mscn_sgemm_skipping_zero_rows(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else mscn_sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
