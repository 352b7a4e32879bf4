import XCTest
@testable import SimilarityKernels

final class NamedTensorTests: XCTestCase {
    func testParamsRoundTripAndGradsShareNamesAndOrder() throws {
        for module in [SimilarityModule.sgr(steps: 2), .saf] {
            let p = ReferenceProblem.random(seed: 31, module: module, imageCount: 2, captionCount: 2, regions: 3,
                                            lengths: [2, 1], dim: 6, simDim: 5)
            var params = p.kernelParams()
            let named = params.trainableTensors + params.bufferTensors
            let rebuilt = try SimilarityParams(tensors: Dictionary(uniqueKeysWithValues: named.map { ($0.name, $0) }),
                                               module: module, dim: 6, simDim: 5)
            XCTAssertEqual(rebuilt.trainableTensors, params.trainableTensors)
            XCTAssertEqual(rebuilt.bufferTensors, params.bufferTensors)

            let k = SimilarityKernel(dim: 6, simDim: 5, module: module)
            let out = k.forward(p.kernelInputs(), params: &params, pairs: .all, training: true, keepTape: true)
            let tape = try XCTUnwrap(out.tape)
            let grads = k.backward(tape, params: params, dSimVectors: [Float](repeating: 0.1, count: out.simVectors.count)).params
            XCTAssertEqual(grads.trainableTensors.map(\.name), params.trainableTensors.map(\.name))
            XCTAssertEqual(grads.trainableTensors.map(\.shape), params.trainableTensors.map(\.shape))

            var missing = Dictionary(uniqueKeysWithValues: named.map { ($0.name, $0) })
            missing["sim_tranloc_w.bias"] = nil
            XCTAssertThrowsError(try SimilarityParams(tensors: missing, module: module, dim: 6, simDim: 5))
            var misshapen = Dictionary(uniqueKeysWithValues: named.map { ($0.name, $0) })
            misshapen["sim_tranglo_w.weight"]?.shape = [6, 5]
            XCTAssertThrowsError(try SimilarityParams(tensors: misshapen, module: module, dim: 6, simDim: 5))
        }
    }
}
