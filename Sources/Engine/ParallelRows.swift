import Dispatch
import Foundation

/// Splits large elementwise work (transcendental maps, GRU gates) over two threads.
///
/// Every element is computed by the same scalar code whichever thread runs it, and no value is
/// reduced across the split, so results are bit-identical to the serial loop on any machine and
/// at any `MSCN_THREADS`. Small work stays on the calling thread: dispatching costs a few
/// microseconds, and the two warm-up processes already fill both cores with small batches.
public enum ParallelRows {
    /// Fewer scalar evaluations than this run serially (≈ 0.1 ms of `tanhf`).
    public static let minimumWork = 1 << 14
    /// Two independent products run at once (`both`) from this many multiply-adds each (≈ 20 µs).
    public static let minimumProductWork = 1 << 18
    /// Threads at once: `MSCN_THREADS` when set (1 = serial), else 2. Tests set it to compare
    /// the split with the serial loop. Above 1, `both` also runs its two closures at once.
    nonisolated(unsafe) static var threads: Int = environmentThreads ?? 2

    /// `body()` with `threads` set to `count` (at least 1), the previous setting restored after;
    /// how the tests compare the split with the serial loop. Not while other work runs.
    public static func withThreads<T>(_ count: Int, _ body: () throws -> T) rethrows -> T {
        let saved = threads
        defer { threads = saved }
        threads = max(1, count)
        return try body()
    }

    /// Calls `body(range)` for disjoint ranges covering `0..<count`, in parallel when
    /// `count × costPerItem ≥ minimumWork`. `body` must write only the items of its range.
    public static func forEach(count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        let parts = threads
        if parts <= 1 || count < 2 || count * costPerItem < minimumWork {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: parts) { w in
            let lo = w * count / parts, hi = (w + 1) * count / parts
            if lo < hi { body(lo..<hi) }
        }
    }

    /// `(first(), second())`, the two on two threads when `threads` > 1 (the GRU's directions,
    /// a linear's two gradient products, a bilinear tangent's two terms, the meta-gradient's
    /// per-caption tangent halves).
    /// Each must only read shared state and return its own result, so the values do not depend
    /// on it; OpenBLAS serialises its threaded products and computes single-threaded ones
    /// concurrently, and `MSCN_SERIAL_BLAS` keeps its packing buffers per thread.
    public static func both<A, B>(_ first: () -> A, _ second: () -> B) -> (A, B) {
        guard threads > 1 else { return (first(), second()) }
        var a: A?, b: B?
        withUnsafeMutablePointer(to: &a) { pa in
            withUnsafeMutablePointer(to: &b) { pb in
                DispatchQueue.concurrentPerform(iterations: 2) { i in
                    if i == 0 { pa.pointee = first() } else { pb.pointee = second() }
                }
            }
        }
        guard let a, let b else { preconditionFailure("ParallelRows.both: a closure returned nothing") }
        return (a, b)
    }

    /// `x.map(f)`, split as `forEach`.
    public static func map(_ x: [Float], _ f: (Float) -> Float) -> [Float] {
        if x.count < minimumWork || threads <= 1 { return x.map(f) }
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { src in
            y.withUnsafeMutableBufferPointer { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                forEach(count: x.count) { r in
                    for i in r { d[i] = f(s[i]) }
                }
            }
        }
        return y
    }

    /// `y = f(x)` where `f(src, dst, n)` maps n items at once (a vectorised transcendental), split
    /// as `forEach` but only from `vectorMinimumWork` items, since each costs a few nanoseconds.
    public static func map(_ x: [Float], vectorized f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { src in
            y.withUnsafeMutableBufferPointer { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                if x.count < vectorMinimumWork || threads <= 1 {
                    f(s, d, x.count)
                } else {
                    forEach(count: x.count) { r in f(s + r.lowerBound, d + r.lowerBound, r.count) }
                }
            }
        }
        return y
    }

    /// Fewer vectorised evaluations than this run serially (≈ 0.1 ms of vector `tanh`).
    public static let vectorMinimumWork = 1 << 16
}

/// `MSCN_THREADS` (at least 1) when set: the thread cap of OpenBLAS (`BLAS.threadCap`) and of
/// ParallelRows.
let environmentThreads: Int? = ProcessInfo.processInfo.environment["MSCN_THREADS"].flatMap { Int($0) }.map { max(1, $0) }
