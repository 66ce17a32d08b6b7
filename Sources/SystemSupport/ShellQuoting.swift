/// Quotes a word for bash: safe for any bytes but NUL. Single quotes,
/// unless the word holds '$' or '`': then double quotes with those escaped,
/// which shellcheck does not mistake for an expansion meant to happen (SC2016).
public func shellQuoted(_ word: String) -> String {
    guard word.contains(where: { $0 == "$" || $0 == "`" }) else {
        return "'" + word.replacing("'", with: "'\\''") + "'"
    }
    var quoted = "\""
    for character in word {
        if "\\\"$`".contains(character) { quoted.append("\\") }
        quoted.append(character)
    }
    return quoted + "\""
}
