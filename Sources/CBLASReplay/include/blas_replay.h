#ifndef MSCN_BLAS_REPLAY_H
#define MSCN_BLAS_REPLAY_H

/// Row-major single-precision GEMM for the engine: C = alpha·op(A)·op(B) + beta·C with op(A)
/// [m,k], op(B) [k,n] (cblas_sgemm's CblasRowMajor arguments; transA/transB 0 or 1).
///
/// By default this is cblas_sgemm. With MSCN_SERIAL_BLAS=1 in the environment, OpenBLAS 0.3.21
/// running its Haswell kernels with two threads, a product that OpenBLAS would split between its
/// two threads is instead computed on the calling thread with the same split: the same packing
/// and kernel calls over the same blocks (driver/level3/level3_thread.c), so every result bit is
/// the one the two threads would have produced. What changes is only that the second core stays
/// free: a process that shares two cores with another (the two warm-up nets) no longer waits
/// for OpenBLAS's worker to be scheduled.
void mscn_sgemm(int transA, int transB, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/// `mscn_sgemm` (or, with `zero_rows_in_a`, `mscn_sgemm_skipping_zero_rows`) with the edges the
/// engine's two product wrappers share: nothing for an empty C, beta applied to C alone for k = 0,
/// and for a transposed product with beta = 0, C filled with zeros in one pass and beta = 1.
/// OpenBLAS applies beta = 0 with one memset per output row (about 5% of a training step's
/// instructions on the skinny outputs); the fill and beta = 1 give the same bits. Not for
/// untransposed products: OpenBLAS sends small ones with beta = 0 to a direct AVX-512 kernel
/// whose results do not depend on the output's width, which keeps scores independent of the
/// evaluation's shard sizes; its blocked path would not.
void mscn_sgemm_product(int transA, int transB, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc,
                        int zero_rows_in_a);

/// Turns the replay off (0) or back on (1) where MSCN_SERIAL_BLAS=1 was accepted, as the stages
/// differ (benchmarks run several stages' phases in one process). Returns whether it is on. Not
/// while products run.
int mscn_blas_use_replay(int on);

/// The thread count products are computed as if with (OpenBLAS's own count unless replaying).
int mscn_blas_threads(void);

/// Sets that count; while replaying, OpenBLAS itself keeps one thread unless n > 2.
void mscn_blas_set_threads(int n);

/// 1 when MSCN_SERIAL_BLAS=1 took effect, 0 when unset or refused (see mscn_blas_replay_status).
int mscn_blas_replay_active(void);

/// 1 when MSCN_SERIAL_BLAS=1 was asked for but declined here (the status says why).
int mscn_blas_replay_refused(void);

/// A line saying whether the replay is on and, when it was asked for but refused, why.
const char *mscn_blas_replay_status(void);

/// The depth k up to which every element of a product is one sum over k, added to C once: for
/// such k, C = b then C += A·B gives the bits of C = A·B then C += b (a bias added first saves
/// a pass and a fill). OpenBLAS 0.3.21's Haswell kernels block k by GEMM_Q = 320 (checked
/// bit for bit in the engine's tests); 0 for any other kernel or version, whose blocking is not
/// known here.
int mscn_sgemm_single_block_depth(void);

/// `mscn_sgemm` with beta = 1 for a product whose depth (k) has stretches where one operand is
/// zero (`zeroOperand` 0: op(A)'s column, 1: op(B)'s row): the bits of the whole product,
/// computed without those stretches where that is known to give the same bits. OpenBLAS cuts
/// the depth into blocks (its driver's rule is replayed) and Haswell's kernel sums each block in
/// lanes of 8 depth positions, so only aligned runs of 8 zero terms within a block are dropped.
/// Any other case (kernel, version, thread split, beta) computes the whole product.
void mscn_sgemm_skipping_zero_depth(int transA, int transB, int m, int n, int k, float alpha,
                                    const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc,
                                    int zeroOperand);

/// Depth positions `mscn_sgemm_skipping_zero_depth` has left out so far in this process (all threads).
unsigned long long mscn_sgemm_dropped_depth(void);

/// `mscn_sgemm` for a product where whole rows of op(A) are zero (the node rows of pairs without
/// gradient in a data-gradient product): the bits of the whole product, without the kernel work
/// on tiles of C whose rows of op(A) are all zero. OpenBLAS 0.3.21's Haswell kernel computes C's
/// rows (its columns) in tiles of 12 from the start of each kernel call; where the calls are known
/// (one thread, beta 0 or 1; or the replayed two-thread split) the product is cut at those
/// bounds and the all-zero tiles are left out (see blas_replay.c). Any other case computes the
/// whole product.
void mscn_sgemm_skipping_zero_rows(int transA, int transB, int m, int n, int k, float alpha,
                                   const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/// Kernel columns `mscn_sgemm_skipping_zero_rows` has left out so far in this process (all threads).
unsigned long long mscn_sgemm_skipped_zero_rows(void);

#endif
