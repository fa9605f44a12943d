/// When this node may judge other nodes dead: only once its own heartbeats have gone through
/// for a whole dead-node window, counted from the first beat that *completed* after a failure.
///
/// Why from the completion: during a MongoDB outage a beat blocks in server selection and
/// returns when MongoDB is back. Counting from the failure before it (as the first version did)
/// made the blocked time look like steady time, so both nodes of a cluster judged each other
/// dead the moment MongoDB returned, before either could beat: routes deleted, acknowledged
/// messages for the other node's subscribers dropped without a gap counted.
struct ClusterJudgeReadiness {
    /// Heartbeat interval × (dead_after_missed + 1), in milliseconds: a node that is alive
    /// beats at least once in it after MongoDB is back for the judge.
    let window: Int64
    /// When the first beat after the last failure completed; nil while beats fail.
    private(set) var beatingSince: Int64?

    init(window: Int64, firstBeatAt now: Int64) {
        self.window = window
        beatingSince = now
    }

    mutating func beatFailed() { beatingSince = nil }

    mutating func beatCompleted(at now: Int64) {
        if beatingSince == nil { beatingSince = now }
    }

    func mayJudge(at now: Int64) -> Bool {
        guard let beatingSince else { return false }
        return now - beatingSince >= window
    }
}
