import Foundation
import TensorFile
#if canImport(Glibc)
import Glibc
#endif

/// A cluster job computing a stage right now: written when the job is submitted, removed when
/// it ends, so `mscn status` can say which stale stages are already in flight, and where.
public struct JobRecord: Codable, Sendable {
    public var stage: String
    public var key: String
    public var job: String
    public var executor: String
    public var host: String
    public var pid: Int32
    public var submitted: String
}

extension CacheStore {
    func jobRecordPath(key: String) -> String { "\(root)/jobs/\(key).json" }

    func recordJob(at path: String, stage: String, job: String, executor: String) {
        let key = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let r = JobRecord(stage: stage, key: key, job: job, executor: executor, host: ProcessInfo.processInfo.hostName,
                          pid: getpid(), submitted: ISO8601DateFormatter().string(from: Date()))
        guard let data = try? JSONEncoder().encode(r) else { return }
        try? AtomicWrite.write(data, to: path, durable: false)
    }

    /// Jobs in flight, by stage name. Records of runners that died on this host are dropped.
    public func jobRecords() -> [String: [JobRecord]] {
        var out: [String: [JobRecord]] = [:]
        let dir = "\(root)/jobs"
        let host = ProcessInfo.processInfo.hostName
        for n in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where n.hasSuffix(".json") {
            guard let data = FileManager.default.contents(atPath: "\(dir)/\(n)"),
                  let r = try? JSONDecoder().decode(JobRecord.self, from: data) else { continue }
            if r.host == host, kill(r.pid, 0) != 0, errno == ESRCH {
                unlink("\(dir)/\(n)")
                continue
            }
            out[r.stage, default: []].append(r)
        }
        return out
    }
}
