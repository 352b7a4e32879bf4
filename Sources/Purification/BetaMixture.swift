import Foundation

/// A two-component Beta mixture over similarity scores: component 0 "noisy", 1 "clean".
///
/// JSON: `{"weights": [w_noisy, w_clean], "noisy": [a, b], "clean": [a, b]}`.
public struct BetaMixture: Codable, Equatable, Sendable {
    /// Mixing weights, noisy then clean; they sum to 1.
    public var weights: [Double]
    public var noisy: BetaParameters
    public var clean: BetaParameters

    public init(weights: [Double] = [0.5, 0.5], noisy: BetaParameters, clean: BetaParameters) {
        self.weights = weights
        self.noisy = noisy
        self.clean = clean
    }

    /// Log of each component's weighted density at `x`, and the log of the mixture density
    /// (log-sum-exp, so a density that underflows in one component cannot give 0/0).
    @inline(__always)
    func logTerms(_ x: Double) -> (noisy: Double, clean: Double, total: Double) {
        let a = log(weights[0]) + noisy.logDensity(x)
        let b = log(weights[1]) + clean.logDensity(x)
        let hi = max(a, b)
        guard hi > -Double.infinity else { return (a, b, -Double.infinity) }
        return (a, b, hi + log(exp(a - hi) + exp(b - hi)))
    }

    /// Posterior probability of the clean component at `x` (already clamped into (0, 1)).
    public func cleanPosterior(_ x: Double) -> Double {
        let t = logTerms(x)
        return exp(t.clean - t.total)
    }

    /// `Σ log p(x)` with `p` the mixture density (unweighted by responsibilities, not clamped):
    /// the quantity the reference's EM stopping rule compares.
    public func logLikelihood(_ xs: [Double]) -> Double {
        xs.reduce(0) { $0 + logTerms($1).total }
    }
}

/// Settings of the purification EM (SPEC §7); the defaults are the reference's.
public struct BetaMixtureOptions: Codable, Equatable, Sendable {
    /// Every score (meta and training) is clamped into `[clamp, 1 − clamp]` first.
    public var clamp: Double = 1e-3
    /// EM continues while the log-likelihood improves by more than this.
    public var tolerance: Double = 1e-2
    /// At most this many M-steps.
    public var maxMSteps: Int = 10
    /// A caption is kept when its clean posterior is above this.
    public var keepThreshold: Double = 0.5
    /// Meta scores of one class whose standard deviation is below this mean the net scores every
    /// pair of that class alike, and the fit flags it. Measured at noise 0.7: collapsed nets 3e-6 to
    /// 3e-5; working ones 2e-3 to 0.06, and 1.1e-3 for the weakest (a net B that purified at
    /// precision 0.68). The limit sits between, a factor of about 6 from either side.
    public var collapsedSpread: Double = 2e-4

    public init() {}
}

/// One EM entry: the log-likelihood of the training scores under `weights`/`params`
/// (entry 0: the initial E-step; entry k: after the k-th M-step). JSON keys as in `bmm.json`.
public struct EMIteration: Codable, Equatable, Sendable {
    public var ll: Double
    /// Noisy then clean.
    public var weights: [Double]
    /// Noisy then clean.
    public var params: [BetaParameters]
}

/// The whole purification fit: start, every EM step, the final mixture, and the posteriors.
public struct PurificationFit: Sendable {
    /// Betas fitted by moments to the meta negatives (noisy) and positives (clean), equal weights.
    public var initial: BetaMixture
    public var iterations: [EMIteration]
    /// The mixture of the last M-step.
    public var final: BetaMixture
    /// Clean-component posterior of every training score under `final`.
    public var cleanPosterior: [Double]
    /// `cleanPosterior > keepThreshold`.
    public var keep: [Bool]
    /// Why EM stopped before its rule said so (a degenerate step), or nil.
    public var stopped: String? = nil
    /// Standard deviations of the clamped meta positive and meta negative scores.
    public var metaSpread: (clean: Double, noisy: Double) = (0, 0)
    /// Set when a meta class's scores barely vary: the net's scores have collapsed, so the fit
    /// runs (as the reference's would) but cannot separate clean from noisy captions.
    public var collapsed: String? = nil

    public init(initial: BetaMixture, iterations: [EMIteration], final: BetaMixture, cleanPosterior: [Double], keep: [Bool]) {
        self.initial = initial
        self.iterations = iterations
        self.final = final
        self.cleanPosterior = cleanPosterior
        self.keep = keep
    }

    public var keptFraction: Double {
        keep.isEmpty ? 0 : Double(keep.lazy.filter { $0 }.count) / Double(keep.count)
    }
}

/// Data purification with the meta data as prior (SPEC §7).
public enum Purifier {
    /// Fits the mixture to `trainScores`, starting from Betas fitted to the meta pairs' scores.
    ///
    /// Steps: clamp every score; Beta by moments on `metaNoisy` (component 0) and `metaClean`
    /// (component 1), weights ½; one E-step (`LL_0`); then rounds of M-step (weights = mean
    /// responsibilities, each Beta refitted by moments weighted with its responsibilities) and
    /// E-step (`LL_k`) until `LL_k − LL_{k−1} ≤ tolerance` or `maxMSteps` M-steps. The posterior
    /// and the keep mask use the last M-step's mixture. All arithmetic is in Double.
    ///
    /// Throws on empty inputs, non-finite scores, or a degenerate fit (zero variance). A component
    /// that loses all its weight stops EM early (`stopped` says so) instead of failing.
    public static func fit(trainScores: [Double], metaClean: [Double], metaNoisy: [Double],
                           options: BetaMixtureOptions = BetaMixtureOptions()) throws -> PurificationFit {
        let x = try clamped(trainScores, "training scores", options)
        let metaN = try clamped(metaNoisy, "meta negative scores", options)
        let metaC = try clamped(metaClean, "meta positive scores", options)
        let initial = BetaMixture(noisy: try BetaParameters.fitMoments(metaN, what: "meta negative scores"),
                                  clean: try BetaParameters.fitMoments(metaC, what: "meta positive scores"))
        let spread = (clean: standardDeviation(metaC), noisy: standardDeviation(metaN))

        var mixture = initial
        var (resp, ll) = expectation(mixture, x)
        guard ll.isFinite else { throw PurificationError("initial E-step: log-likelihood is \(ll)") }
        var iterations = [EMIteration(ll: ll, weights: mixture.weights, params: [mixture.noisy, mixture.clean])]
        var mSteps = 0
        var stopped: String? = nil
        while mSteps < options.maxMSteps {
            // When the scores carry no information (a net whose scores all saturate), one
            // component's responsibilities can underflow to zero everywhere; its Beta has no
            // weighted moments. The reference's EM has no rule for this (its fit turns into NaN);
            // EM stops here and keeps the mixture it has, so the posteriors stay the ones of the
            // last valid E-step, and the report says so.
            let sn = resp.noisy.reduce(0, +), sc = resp.clean.reduce(0, +)
            guard sn > 0, sc > 0 else {
                stopped = "EM step \(mSteps + 1): a component lost all its weight (noisy \(sn), clean \(sc)); " +
                    "EM stopped with the mixture of the step before"
                break
            }
            mixture = try maximisation(resp, x, step: mSteps + 1)
            mSteps += 1
            let previous = ll
            (resp, ll) = expectation(mixture, x)
            guard ll.isFinite else { throw PurificationError("EM step \(mSteps): log-likelihood is \(ll)") }
            iterations.append(EMIteration(ll: ll, weights: mixture.weights, params: [mixture.noisy, mixture.clean]))
            if ll - previous <= options.tolerance { break }
        }
        let posterior = resp.clean
        var fit = PurificationFit(initial: initial, iterations: iterations, final: mixture, cleanPosterior: posterior,
                                  keep: posterior.map { $0 > options.keepThreshold })
        fit.stopped = stopped
        fit.metaSpread = spread
        fit.collapsed = collapseDiagnosis(spread, clean: metaC, noisy: metaN, limit: options.collapsedSpread)
        return fit
    }

    /// Says why the fit is uninformative when one meta class's scores barely vary, or nil.
    static func collapseDiagnosis(_ spread: (clean: Double, noisy: Double), clean: [Double], noisy: [Double],
                                  limit: Double) -> String? {
        let narrow = [("positives", spread.clean, clean), ("negatives", spread.noisy, noisy)].filter { $0.1 < limit }
        guard !narrow.isEmpty else { return nil }
        let parts = narrow.map { name, sd, v in
            String(format: "the meta %@' scores barely vary (std %.1e around %.4f)", name, sd, v.reduce(0, +) / Double(v.count))
        }
        return parts.joined(separator: " and ") + String(format: ", below %.0e: ", limit)
            + "the net's scores have collapsed onto one value, so the mixture starts from a spike and cannot tell "
            + "clean from noisy captions (the training stage before this purification collapsed)"
    }

    /// Population standard deviation (the moments' biased form).
    static func standardDeviation(_ v: [Double]) -> Double {
        let m = v.reduce(0, +) / Double(v.count)
        return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)).squareRoot()
    }

    /// The same fit from Float scores (as the model produces them), widened to Double first.
    public static func fit(trainScores: [Float], metaClean: [Float], metaNoisy: [Float],
                           options: BetaMixtureOptions = BetaMixtureOptions()) throws -> PurificationFit {
        try fit(trainScores: trainScores.map(Double.init), metaClean: metaClean.map(Double.init),
                metaNoisy: metaNoisy.map(Double.init), options: options)
    }

    static func clamped(_ v: [Double], _ what: String, _ o: BetaMixtureOptions) throws -> [Double] {
        guard !v.isEmpty else { throw PurificationError("no \(what)") }
        if let bad = v.firstIndex(where: { !$0.isFinite }) { throw PurificationError("\(what): entry \(bad) is \(v[bad])") }
        return v.map { min(max($0, o.clamp), 1 - o.clamp) }
    }

    /// Responsibilities of both components for every score, and the log-likelihood.
    static func expectation(_ m: BetaMixture, _ x: [Double]) -> (resp: (noisy: [Double], clean: [Double]), ll: Double) {
        var noisy = [Double](repeating: 0, count: x.count), clean = noisy
        var ll = 0.0
        for i in x.indices {
            let t = m.logTerms(x[i])
            ll += t.total
            noisy[i] = exp(t.noisy - t.total)
            clean[i] = exp(t.clean - t.total)
        }
        return ((noisy, clean), ll)
    }

    static func maximisation(_ r: (noisy: [Double], clean: [Double]), _ x: [Double], step: Int) throws -> BetaMixture {
        let sn = r.noisy.reduce(0, +), sc = r.clean.reduce(0, +)
        guard sn > 0, sc > 0, (sn + sc).isFinite else {
            throw PurificationError("EM step \(step): a component lost all its weight (noisy \(sn), clean \(sc))")
        }
        return BetaMixture(weights: [sn / (sn + sc), sc / (sn + sc)],
                           noisy: try BetaParameters.fitMoments(x, weights: r.noisy, what: "EM step \(step) noisy component"),
                           clean: try BetaParameters.fitMoments(x, weights: r.clean, what: "EM step \(step) clean component"))
    }
}
