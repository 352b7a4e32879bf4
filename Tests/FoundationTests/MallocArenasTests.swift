import Foundation
import StageKit
import XCTest

final class MallocArenasTests: XCTestCase {
    func testTheEnvironmentsOwnSettingStaysInForce() {
        XCTAssertEqual(MallocArenas.limit(environment: ["MALLOC_ARENA_MAX": "4"]), .leftToEnvironment)
        XCTAssertEqual(MallocArenas.limit(environment: ["GLIBC_TUNABLES": "glibc.malloc.arena_max=2"]), .leftToEnvironment)
    }

    /// Once limited, threads allocating at once share the arenas that exist: none is added. (Not
    /// limited, the same loop took a 2-core machine's test process from 4 arenas to 5.)
    func testThreadsAllocatingAtOnceAddNoArenaOnceLimited() throws {
        #if canImport(Glibc)
        let before = try XCTUnwrap(MallocArenas.count, "glibc reports its arenas through malloc_info")
        XCTAssertGreaterThanOrEqual(before, 1)
        XCTAssertEqual(MallocArenas.limit(to: 1, environment: [:]), .limited)
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            for k in 0..<4000 {
                let bytes = 1 << (8 + (i + k) % 10)
                guard let p = malloc(bytes) else { continue }
                memset(p, Int32(k & 0xff), bytes)
                free(p)
            }
        }
        XCTAssertEqual(MallocArenas.count, before)
        #endif
    }
}
