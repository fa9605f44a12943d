import MQTTWire
import Testing

@Suite struct TopicValidationTests {
    func nameError(_ topic: String, maxLevels: Int = .max) -> MQTTWireError? {
        do throws(MQTTWireError) { try TopicName.validate(Array(topic.utf8), maxLevels: maxLevels); return nil } catch { return error }
    }

    func filterError(_ filter: String, maxLevels: Int = .max) -> MQTTWireError? {
        do throws(MQTTWireError) { try TopicFilter.validate(Array(filter.utf8), maxLevels: maxLevels); return nil } catch { return error }
    }

    @Test(arguments: ["a", "/", "a/b", "//", "$SYS/x", "a b/ü"])
    func validTopicNames(topic: String) {
        #expect(nameError(topic) == nil)
    }

    @Test func invalidTopicNames() {
        #expect(nameError("") == .emptyTopicName)
        #expect(nameError("+") == .wildcardInTopicName)
        #expect(nameError("a/#") == .wildcardInTopicName)
        #expect(nameError("a+b") == .wildcardInTopicName)
    }

    @Test(arguments: ["#", "+", "+/+", "/", "a/+/#", "+/#", "a//b", "/#", "a/b"])
    func validTopicFilters(filter: String) {
        #expect(filterError(filter) == nil)
    }

    @Test(arguments: ["a+", "+a", "a/b+", "#/a", "a/#/b", "a#", "##", "++", "a/#b"])
    func wildcardsMustBeWholeLevelsAndHashLast(filter: String) {
        #expect(filterError(filter) == .invalidWildcardInTopicFilter)
    }

    @Test func emptyFilterIsInvalid() {
        #expect(filterError("") == .emptyTopicFilter)
    }

    @Test func levelLimitCountsSeparators() {
        #expect(nameError("a/b/c", maxLevels: 3) == nil)
        #expect(nameError("a/b/c/", maxLevels: 3) == .tooManyTopicLevels(count: 4, limit: 3))
        #expect(filterError("+/+/#", maxLevels: 3) == nil)
        #expect(filterError("a/+/b/#", maxLevels: 3) == .tooManyTopicLevels(count: 4, limit: 3))
    }
}
