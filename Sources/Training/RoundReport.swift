import Foundation
import Purification
import TensorFile

/// `report.json` of a purification: the `PurificationReport` keys plus `round` and `net`.
public struct RoundReport: Encodable {
    public var round: Int
    public var net: String
    public var purification: PurificationReport

    public init(round: Int, net: String, purification: PurificationReport) {
        self.round = round
        self.net = net
        self.purification = purification
    }

    enum Keys: String, CodingKey { case round, net }

    public func encode(to encoder: Encoder) throws {
        try purification.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(round, forKey: .round)
        try c.encode(net, forKey: .net)
    }

    public func write(to path: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicWrite.write(e.encode(self), to: path)
    }
}
