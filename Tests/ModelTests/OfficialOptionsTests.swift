@testable import MSCN
import TensorFile
import XCTest

/// `mscn weights export --opt`: values take the types the official opt.py gives them, and the
/// options the weights decide cannot be set to something the weights do not fit.
final class OfficialOptionsTests: XCTestCase {
    private func shown(_ v: TorchSaveWriter.Value) -> String {
        switch v {
        case .int(let i): return "int \(i)"
        case .float(let d): return "float \(d)"
        case .bool(let b): return "bool \(b)"
        case .string(let s): return "str \(s)"
        default: return "other"
        }
    }

    private func parsed(_ text: String) throws -> String {
        let (key, value) = try OfficialOptions.parse(text)
        return "\(key): \(shown(value))"
    }

    private func problem(_ text: String) -> String {
        do { return "parsed as \(try parsed(text))" } catch { return "\(error)" }
    }

    /// Each `(assignment, what it must give)`: "key: type value", or a part of the refusal.
    private func check(parses: [(String, String)], refuses: [(String, String)], file: StaticString = #filePath, line: UInt = #line) {
        for (text, expected) in parses {
            XCTAssertEqual(problem(text), "parsed as \(expected)", text, file: file, line: line)
        }
        for (text, expected) in refuses {
            let said = problem(text)
            XCTAssertTrue(said.contains(expected) && !said.hasPrefix("parsed as"), "\(text): \(said)", file: file, line: line)
        }
    }

    func testKnownKeysTakeTheParsersType() {
        check(parses: [
            ("data_name=2017", "data_name: str 2017"), ("gpu=0", "gpu: str 0"), ("batch_size=32", "batch_size: int 32"),
            ("lr=1", "lr: float 1.0"), ("meta_lr=1.7e-05", "meta_lr: float 1.7e-05"), ("no_imgnorm=True", "no_imgnorm: bool true"),
            ("data_path=", "data_path: str "), ("data_name:str=coco_precomp", "data_name: str coco_precomp"),
        ], refuses: [
            ("batch_size=3.5", "batch_size is an int in the official opt.py; 3.5 is not one"), ("margin=wide", "margin is a float"),
            ("margin=inf", "margin is a float"), ("bi_gru=yes", "bi_gru is a bool"), ("workers=", "the value is empty"),
            ("lr:int=1", "the official opt.py makes lr float, not int"),
        ])
    }

    func testOtherKeysTakeTheirTypeOrReadAsLiterals() {
        check(parses: [
            ("seed=3", "seed: int 3"), ("tau=0.5", "tau: float 0.5"), ("hard=false", "hard: bool false"), ("tag=run 7", "tag: str run 7"),
            ("tag:str=007", "tag: str 007"), ("steps:float=3", "steps: float 3.0"), ("note=a=b", "note: str a=b"),
        ], refuses: [
            ("steps:complex=1", "type complex is not one of int, float, bool, str"), ("steps:int=x", "steps is an int"),
            ("=3", "give KEY=VALUE"), ("noequals", "give KEY=VALUE"), ("1st=3", "1st is not a Python name"),
            ("data-name=x", "data-name is not a Python name"), (":int=3", "the key is empty"),
        ])
    }

    func testTheWeightsDecideTheirOwnOptions() throws {
        let a = ModelConfig(imageDim: 8, embedDim: 10, wordDim: 4, simDim: 12, vocabSize: 20, variant: .sgr, metaHidden: 8, regions: 3)
        func namespace(_ configs: [ModelConfig], _ overrides: [String]) throws -> [String: String] {
            let opt = try OfficialOptions.namespace(for: configs, overrides: try overrides.map(OfficialOptions.parse))
            XCTAssertEqual(Set(opt.map(\.0)).count, opt.count, "a key written twice")
            return Dictionary(uniqueKeysWithValues: opt.map { ($0.0, shown($0.1)) })
        }
        let plain = try namespace([a, a], [])
        XCTAssertEqual(plain["embed_size"], "int 10")
        XCTAssertEqual(plain["module_name"], "str SGR")
        XCTAssertEqual(plain["meta_net_hidden_size"], "int 8")
        XCTAssertEqual(plain["margin"], "float 0.2")
        XCTAssertEqual(plain["data_name"], "str f30k_precomp")
        // Overrides replace defaults, add new keys, and may restate what the weights decide.
        let set = try namespace([a], ["data_name=coco_precomp", "margin=0.1", "embed_size=10", "seed=4"])
        XCTAssertEqual(set["data_name"], "str coco_precomp")
        XCTAssertEqual(set["margin"], "float 0.1")
        XCTAssertEqual(set["embed_size"], "int 10")
        XCTAssertEqual(set["seed"], "int 4")
        XCTAssertEqual(set.count, plain.count + 1)
        XCTAssertThrowsError(try namespace([a], ["embed_size=1024"])) { error in
            XCTAssertTrue("\(error)".contains("the weights have embed_size 10"), "\(error)")
        }
        XCTAssertThrowsError(try namespace([a], ["module_name=SAF"])) { error in
            XCTAssertTrue("\(error)".contains("the weights have module_name SGR"), "\(error)")
        }
        var b = a
        b.metaHidden = 16
        XCTAssertThrowsError(try namespace([a, b], [])) { error in
            XCTAssertTrue("\(error)".contains("net B has meta_net_hidden_size 16, net A 8"), "\(error)")
        }
    }
}
