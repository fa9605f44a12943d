import MQTTWire
import Testing

@Suite struct SharedSubscriptionParseTests {
    @Test(arguments: [
        ("$share/g/a/b", "g", "a/b"), ("$share/g/#", "g", "#"), ("$share/$queue/+/x", "$queue", "+/x"),
        ("$queue/a", "$queue", "a"), ("$share/g//", "g", "/"), ("$share/g/$SYS/#", "g", "$SYS/#"),
    ])
    func sharedFiltersSplitIntoGroupAndFilter(filter: String, group: String, inner: String) {
        #expect(SharedSubscription.parse(filter) == .shared(SharedSubscription(group: group, filter: inner)))
    }

    @Test(arguments: ["a/b", "#", "$SYS/#", "$shared/g/a", "$share", "$queue", "share/g/a"])
    func otherFiltersAreNotShared(filter: String) {
        #expect(SharedSubscription.parse(filter) == .notShared)
    }

    @Test(arguments: [
        "$share/", "$share//a", "$share/g", "$share/g/", "$share/+/a", "$share/#", "$share/g+x/a", "$queue/",
        "$share/g/$share/h/a", "$queue/$queue/a", "$share/g/a/#/b",
    ])
    func malformedSharedFiltersAreInvalid(filter: String) {
        #expect(SharedSubscription.parse(filter) == .invalid)
    }

    @Test func queueAndShareQueueAreOneSubscription() {
        guard case .shared(let queue) = SharedSubscription.parse("$queue/t"),
              case .shared(let share) = SharedSubscription.parse("$share/$queue/t")
        else {
            Issue.record("not parsed as shared")
            return
        }
        #expect(queue.canonical == share.canonical)
        #expect(queue.canonical == "$share/$queue/t")
    }
}
