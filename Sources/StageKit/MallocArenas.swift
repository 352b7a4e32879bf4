import CMallocArenas

/// One malloc arena per stage process.
///
/// glibc gives a thread that finds the arena it wants locked an arena of its own (up to 8 per
/// core), and memory freed there stays there for that arena's next requests. The engine's
/// threads (the GRU's two directions, the similarity kernel's pair groups, the two-worker
/// loops) each allocate and free large arrays, so at paper sizes the training stages held about
/// 1 GB more than they use: a warm-up step at batch 128 peaked at 4.6-4.7 GB instead of 3.5 GB
/// (README, "One malloc arena"). One arena lets every thread reuse what any thread freed; the
/// measured speed did not change at any size. Values are unaffected: where memory comes from
/// never changes a result bit.
public enum MallocArenas {
    /// What `limit` did.
    public enum Outcome: Equatable {
        case limited
        /// The environment sets glibc's own control (`MALLOC_ARENA_MAX`, or `arena_max` in
        /// `GLIBC_TUNABLES`): that setting stays in force.
        case leftToEnvironment
        /// Not glibc, or glibc refused the setting.
        case unavailable
    }

    /// Caps malloc at `arenas` arenas, unless the environment already says how many. Threads
    /// that exist already keep the arena they have; call it before the work starts its threads.
    @discardableResult
    public static func limit(to arenas: Int = 1, environment: [String: String]) -> Outcome {
        if environment["MALLOC_ARENA_MAX"] != nil || (environment["GLIBC_TUNABLES"] ?? "").contains("arena_max") {
            return .leftToEnvironment
        }
        return mscn_malloc_limit_arenas(Int32(max(1, arenas))) == 1 ? .limited : .unavailable
    }

    /// Arenas malloc has created so far in this process (nil where glibc cannot tell).
    public static var count: Int? {
        let n = mscn_malloc_arena_count()
        return n < 0 ? nil : Int(n)
    }
}
