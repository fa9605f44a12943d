/// Gives plain (unquoted) YAML scalars their type by the YAML 1.2 core schema.
///
/// YAML 1.1's `yes`/`no`/`on`/`off` booleans and sexagesimal numbers are deliberately not
/// recognised: `country: NO` stays a string.
enum YAMLScalarResolver {
    static func resolvePlain(_ text: String) -> ConfigValue {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
        case ".nan", ".NaN", ".NAN": return .double(.nan)
        default: break
        }
        if let integer = integerValue(text) { return integer }
        if text.wholeMatch(of: /[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?/) != nil,
            let number = Double(text)
        {
            return .double(number)
        }
        return .string(text)
    }

    private static func integerValue(_ text: String) -> ConfigValue? {
        if text.hasPrefix("0o"), text.count > 2 {
            return Int(text.dropFirst(2), radix: 8).map(ConfigValue.int)
        }
        if text.hasPrefix("0x"), text.count > 2 {
            return Int(text.dropFirst(2), radix: 16).map(ConfigValue.int)
        }
        guard text.wholeMatch(of: /[-+]?[0-9]+/) != nil else { return nil }
        // Too large for Int: keep the magnitude as a double rather than failing to load.
        return Int(text).map(ConfigValue.int) ?? Double(text).map(ConfigValue.double)
    }
}
