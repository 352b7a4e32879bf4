import Foundation

/// A progress line on standard error with rate and ETA, redrawn in place on a terminal and
/// printed at most every few seconds otherwise (so logs stay short).
public final class Progress {
    public let label: String
    public let total: Int
    private let start = Date()
    private var lastPrint = Date.distantPast
    private let interactive = isatty(fileno(stderr)) != 0
    public private(set) var done = 0

    public init(_ label: String, total: Int) {
        self.label = label
        self.total = total
    }

    /// Records that `done` of `total` units are finished; `detail` is appended (e.g. a loss).
    public func update(_ done: Int, detail: String = "") {
        self.done = done
        let now = Date()
        let interval = interactive ? 0.2 : 5.0
        guard now.timeIntervalSince(lastPrint) >= interval || done == total else { return }
        lastPrint = now
        let line = render(now: now, detail: detail)
        if interactive {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
    }

    func render(now: Date, detail: String) -> String {
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        var s = "\(label): \(done)/\(total)"
        if total > 0 { s += String(format: " (%.0f%%)", 100 * Double(done) / Double(total)) }
        s += String(format: " %.1f/s", rate)
        s += done < total ? " ETA \(Progress.clock(remaining))" : " in \(Progress.clock(elapsed))"
        if !detail.isEmpty { s += " " + detail }
        return s
    }

    public static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}
