/// ArgumentParser reads a token that starts with "-" as an option, so `--lr -0.1` stopped at
/// "missing value for --lr" instead of the option's own range check. No option name starts with
/// a digit, so a number after a long option is its value: it is joined as `--lr=-0.1`.
public enum NegativeValues {
    public static func joined(_ arguments: [String]) -> [String] {
        var out: [String] = []
        out.reserveCapacity(arguments.count)
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" { return out + arguments[i...] }
            if a.hasPrefix("--"), a.count > 2, !a.contains("="), i + 1 < arguments.count, isNegativeNumber(arguments[i + 1]) {
                out.append(a + "=" + arguments[i + 1])
                i += 2
                continue
            }
            out.append(a)
            i += 1
        }
        return out
    }

    static func isNegativeNumber(_ s: String) -> Bool {
        guard s.hasPrefix("-"), let next = s.dropFirst().first, next.isNumber || next == "." else { return false }
        return Double(s) != nil
    }

    /// The process's arguments (after the program name), joined.
    public static var commandLine: [String] { joined(Array(CommandLine.arguments.dropFirst())) }
}
