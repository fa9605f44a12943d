@testable import BrokerMongo
import Testing

/// When a node may take others for dead after a MongoDB outage (heartbeat 300 ms, dead after 3
/// missed: a window of 1,200 ms).
@Suite struct ClusterJudgeReadinessTests {
    @Test func aNodeJudgesOnlyAWholeWindowAfterItsFirstBeat() {
        let readiness = ClusterJudgeReadiness(window: 1_200, firstBeatAt: 10_000)
        #expect(!readiness.mayJudge(at: 11_199))
        #expect(readiness.mayJudge(at: 11_200))
    }

    /// The outage of the failed CI run: a beat fails, the next one blocks in server selection
    /// until MongoDB is back, 1.7 s later. The other node needs time to beat after that too:
    /// the window counts from when the blocked beat returned, not from the failure.
    @Test func aBeatThatBlockedThroughTheOutageStartsTheWindowWhenItReturns() {
        var readiness = ClusterJudgeReadiness(window: 1_200, firstBeatAt: 10_000)
        readiness.beatFailed()
        #expect(!readiness.mayJudge(at: 12_000))
        readiness.beatCompleted(at: 13_700)
        #expect(!readiness.mayJudge(at: 13_700))
        #expect(!readiness.mayJudge(at: 14_899))
        readiness.beatCompleted(at: 14_000)  // later beats do not move the start
        #expect(readiness.mayJudge(at: 14_900))
    }

    @Test func eachFailureStartsAgain() {
        var readiness = ClusterJudgeReadiness(window: 1_200, firstBeatAt: 0)
        readiness.beatFailed()
        readiness.beatCompleted(at: 5_000)
        readiness.beatFailed()
        readiness.beatCompleted(at: 6_000)
        #expect(!readiness.mayJudge(at: 7_000))
        #expect(readiness.mayJudge(at: 7_200))
    }
}
