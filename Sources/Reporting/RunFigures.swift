import Retrieval

/// The small files of `RunReportInputs` read and checked: what the page and the terminal summary
/// both tell (masks, logs and examples are read by the sections that draw them).
struct RunFigures {
    var params: RunParameters?
    var dev: [RetrievalMetrics]
    var best: BestRound?
    var test: RetrievalMetrics?
    var regime: [WarmupCheck]
    var purificationA: [RoundPurification]
    var purificationB: [RoundPurification]

    init(_ inputs: RunReportInputs) throws {
        params = try inputs.params.map(RunParameters.load)
        if !inputs.paramValues.isEmpty {
            var p = params ?? RunParameters(values: [:])
            p.values.merge(inputs.paramValues) { $1 }
            params = p
        }
        dev = try inputs.devMetrics.map(RetrievalMetrics.load)
        best = try inputs.best.map(BestRound.load)
        test = try inputs.testMetrics.map(RetrievalMetrics.load)
        regime = try inputs.regime.map(WarmupCheck.load)
        purificationA = try inputs.purifyA.map(RoundPurification.load)
        purificationB = try inputs.purifyB.map(RoundPurification.load)
        for (list, net) in [(purificationA, "A"), (purificationB, "B")] {
            if let bad = list.first(where: { $0.net != net }) {
                throw ReportError("--purify-\(net.lowercased()) got a report of net \(bad.net) (round \(bad.round))")
            }
        }
    }
}
