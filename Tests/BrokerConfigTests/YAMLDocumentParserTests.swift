@testable import BrokerConfig
import Testing

@Suite struct YAMLDocumentParserTests {
    @Test func plainScalarsFollowTheYAML12CoreSchema() throws {
        let node = try YAMLDocumentParser.parse("""
            a: true
            b: False
            c: null
            d: ~
            e:
            f: 42
            g: -7
            h: 0x1F
            i: 0o17
            j: 1.5
            k: 1e3
            l: .inf
            m: yes
            n: NO
            o: 1.2.3
            """)
        #expect(node["a"]?.value == .bool(true))
        #expect(node["b"]?.value == .bool(false))
        #expect(node["c"]?.value == .null)
        #expect(node["d"]?.value == .null)
        #expect(node["e"]?.value == .null)
        #expect(node["f"]?.value == .int(42))
        #expect(node["g"]?.value == .int(-7))
        #expect(node["h"]?.value == .int(31))
        #expect(node["i"]?.value == .int(15))
        #expect(node["j"]?.value == .double(1.5))
        #expect(node["k"]?.value == .double(1000))
        #expect(node["l"]?.value == .double(.infinity))
        // YAML 1.1 booleans are plain strings in 1.2.
        #expect(node["m"]?.value == .string("yes"))
        #expect(node["n"]?.value == .string("NO"))
        #expect(node["o"]?.value == .string("1.2.3"))
    }

    @Test func quotedAndTaggedScalarsStayStrings() throws {
        let node = try YAMLDocumentParser.parse("""
            a: "true"
            b: '42'
            c: !!str 1.5
            d: |
              1883
            e: end
            """)
        #expect(node["a"]?.value == .string("true"))
        #expect(node["b"]?.value == .string("42"))
        #expect(node["c"]?.value == .string("1.5"))
        #expect(node["d"]?.value == .string("1883\n"))
        #expect(node["a"]?.untypedText == nil)
    }

    @Test func mappingsKeepKeyOrderAndLocations() throws {
        let node = try YAMLDocumentParser.parse("zeta: 1\nalpha:\n  - x\n  - y\nmid: {a: 1}\n")
        #expect(node.value.members?.map(\.key) == ["zeta", "alpha", "mid"])
        #expect(node["alpha"]?.value.elements?[1].location == SourceLocation(line: 4, column: 5))
        #expect(node["zeta"]?.location == SourceLocation(line: 1, column: 7))
    }

    @Test func anchorsAliasesAndMergeKeysResolve() throws {
        let node = try YAMLDocumentParser.parse("""
            base: &base {host: 0.0.0.0, port: 1}
            copy: *base
            merged:
              <<: *base
              port: 2
            """)
        #expect(node["copy"] == node["base"])
        #expect(node["merged"]?["host"]?.value == .string("0.0.0.0"))
        #expect(node["merged"]?["port"]?.value == .int(2))
    }

    @Test func syntaxErrorReportsLineAndColumn() {
        #expect {
            _ = try YAMLDocumentParser.parse("a: 1\nb: [1, 2\nc: 3\n")
        } throws: { error in
            guard let error = error as? YAMLSyntaxError else { return false }
            return error.location.line == 3 && error.location.column >= 1 && !error.message.isEmpty
        }
    }

    @Test func duplicateKeysAreRejectedWithTheirLocation() {
        #expect {
            _ = try YAMLDocumentParser.parse("a: 1\nb: 2\na: 3\n")
        } throws: { error in
            guard let error = error as? YAMLSyntaxError else { return false }
            return error.location == SourceLocation(line: 3, column: 1) && error.message.contains("duplicate key 'a'")
        }
    }

    @Test func emptyDocumentIsNull() throws {
        #expect(try YAMLDocumentParser.parse("").value == .null)
        #expect(try YAMLDocumentParser.parse("# only a comment\n").value == .null)
    }

    @Test func deepNestingIsRejectedInsteadOfExhaustingTheStack() {
        let text = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect {
            _ = try YAMLDocumentParser.parse(text)
        } throws: { error in
            (error as? YAMLSyntaxError)?.message.contains("nesting deeper than 256 levels") == true
        }
    }
}
