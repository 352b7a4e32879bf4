import Foundation

/// A training stage's `log.tsv`: `step epoch loss meta_loss lr`, one line per step; `meta_loss`
/// is empty where no meta step ran (warm-up).
public struct TrainingLog: Sendable, Equatable {
    public var step: [Int] = []
    public var epoch: [Int] = []
    public var loss: [Double] = []
    public var metaLoss: [Double?] = []
    public var lr: [Double] = []

    public init() {}

    public static func load(_ path: String) throws -> TrainingLog {
        let text = String(decoding: try InputFile.data(path), as: UTF8.self)
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> TrainingLog {
        // "\r\n" is one Character in Swift: split on any line end.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let header = lines.first else { throw ReportError("empty training log (no header line)", path: path) }
        let names = header.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        func column(_ n: String) throws -> Int {
            guard let i = names.firstIndex(of: n) else { throw ReportError("training log header has no '\(n)' column", path: path) }
            return i
        }
        let (cs, ce, cl, cm, cr) = (try column("step"), try column("epoch"), try column("loss"), try column("meta_loss"), try column("lr"))
        var log = TrainingLog()
        for (i, line) in lines.enumerated().dropFirst() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == names.count else {
                throw ReportError("line \(i + 1) has \(f.count) fields, the header has \(names.count)", path: path)
            }
            guard let s = Int(f[cs]), let e = Int(f[ce]), let l = Double(f[cl]), let r = Double(f[cr]) else {
                throw ReportError("line \(i + 1): step, epoch, loss and lr must be numbers", path: path)
            }
            var m: Double? = nil
            if !f[cm].isEmpty {
                guard let v = Double(f[cm]) else { throw ReportError("line \(i + 1): meta_loss '\(f[cm])' is not a number", path: path) }
                m = v
            }
            log.step.append(s)
            log.epoch.append(e)
            log.loss.append(l)
            log.metaLoss.append(m)
            log.lr.append(r)
        }
        return log
    }

    public var count: Int { loss.count }
}

/// Several logs of one net (warm-up, then each round) laid end to end on one step axis,
/// averaged into at most `maxPoints` bins so a long run stays a small figure.
struct LossCurve {
    var loss: [(x: Double, y: Double?)]
    var metaLoss: [(x: Double, y: Double?)]
    /// Where each log starts on the step axis.
    var starts: [Double]

    init(_ logs: [TrainingLog], maxPoints: Int = 400) {
        let total = logs.reduce(0) { $0 + $1.count }
        let bin = max(1, (total + maxPoints - 1) / max(maxPoints, 1))
        var loss: [(x: Double, y: Double?)] = [], meta: [(x: Double, y: Double?)] = []
        var starts: [Double] = []
        var offset = 0
        for (f, log) in logs.enumerated() {
            starts.append(Double(offset + 1))
            // Bins stay inside one stage, and a gap separates stages (their batches differ).
            var i = 0
            while i < log.count {
                let r = i..<min(i + bin, log.count)
                let x = Double(offset) + Double(r.lowerBound + r.upperBound + 1) / 2
                let lv = r.map { log.loss[$0] }.filter(\.isFinite)
                loss.append((x, lv.isEmpty ? nil : lv.reduce(0, +) / Double(lv.count)))
                let mv = r.compactMap { log.metaLoss[$0] }.filter(\.isFinite)
                meta.append((x, mv.isEmpty ? nil : mv.reduce(0, +) / Double(mv.count)))
                i += bin
            }
            offset += log.count
            if f < logs.count - 1 {
                loss.append((Double(offset) + 0.5, nil))
                meta.append((Double(offset) + 0.5, nil))
            }
        }
        self.starts = starts
        self.loss = loss
        metaLoss = meta
    }
}
