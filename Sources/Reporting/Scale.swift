import Foundation

/// A linear map from a data interval to a pixel interval, with "nice" ticks.
struct LinearScale {
    var domain: (lo: Double, hi: Double)
    var range: (lo: Double, hi: Double)

    func callAsFunction(_ v: Double) -> Double {
        let span = domain.hi - domain.lo
        guard span != 0 else { return (range.lo + range.hi) / 2 }
        return range.lo + (v - domain.lo) / span * (range.hi - range.lo)
    }

    /// About `count` round tick values inside the domain (steps of 1, 2 or 5 × 10^k).
    func ticks(_ count: Int = 5) -> [Double] {
        let step = Self.niceStep(domain.hi - domain.lo, count)
        guard step > 0, step.isFinite else { return [domain.lo] }
        var out: [Double] = []
        var k = (domain.lo / step).rounded(.up)
        while k * step <= domain.hi + step * 1e-9, out.count < 50 {
            out.append(k * step)
            k += 1
        }
        return out
    }

    static func niceStep(_ span: Double, _ count: Int) -> Double {
        guard span > 0, span.isFinite else { return 0 }
        let raw = span / Double(max(count, 1))
        let mag = pow(10, (log10(raw)).rounded(.down))
        let f = raw / mag
        let nice: Double = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10
        return nice * mag
    }

    /// A domain covering `values` widened to whole tick steps; a flat range gets some height.
    static func niceDomain(_ values: [Double], includeZero: Bool = false, count: Int = 5) -> (lo: Double, hi: Double) {
        let finite = values.filter(\.isFinite)
        guard var lo = finite.min(), var hi = finite.max() else { return (0, 1) }
        if includeZero { lo = min(lo, 0); hi = max(hi, 0) }
        if hi - lo < 1e-12 {
            let pad = abs(lo) > 1e-12 ? abs(lo) * 0.1 : 1
            lo -= pad; hi += pad
        }
        let step = niceStep(hi - lo, count)
        return ((lo / step).rounded(.down) * step, (hi / step).rounded(.up) * step)
    }
}
