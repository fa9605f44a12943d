@testable import BrokerRuntime
import Foundation
import Testing

@Suite struct SPSCRingTests {
    @Test func fullRingRefusesAndEmptyRingReturnsNil() {
        let ring = SPSCRing<Int>(capacity: 3)
        #expect(ring.capacity == 4)
        #expect(ring.pop() == nil)
        #expect(!ring.hasElements)
        for value in 0..<4 { #expect(ring.push(value)) }
        #expect(!ring.push(4))
        #expect(ring.hasElements)
        #expect(ring.pop() == 0)
        #expect(ring.push(4))
        #expect((0..<4).map { _ in ring.pop() } == [1, 2, 3, 4])
        #expect(ring.pop() == nil)
    }

    /// One producer thread and one consumer thread, through a small ring that is full most of
    /// the time: every element arrives exactly once, in order.
    @Test func twoThreadsKeepEveryElementInOrder() async {
        let ring = SPSCRing<Int>(capacity: 64)
        let count = 200_000
        let producer = Thread {
            var next = 0
            while next < count {
                if ring.push(next) { next += 1 }
            }
        }
        producer.start()
        var expected = 0
        var outOfOrder = 0
        let deadline = Date().addingTimeInterval(60)
        while expected < count && Date() < deadline {
            if let value = ring.pop() {
                if value != expected { outOfOrder += 1 }
                expected += 1
            }
        }
        #expect(expected == count)
        #expect(outOfOrder == 0)
        #expect(ring.pop() == nil)
    }

    /// Elements hold references: what a pop hands out is released by the consumer, and the ring
    /// keeps no copy (a ring slot of a session or message must not keep it alive).
    @Test func poppedElementsAreNotRetainedByTheRing() {
        final class Box {}
        let ring = SPSCRing<Box>(capacity: 2)
        weak var weakBox: Box?
        do {
            let box = Box()
            weakBox = box
            #expect(ring.push(box))
        }
        #expect(weakBox != nil)
        _ = ring.pop()
        #expect(weakBox == nil)
    }
}
