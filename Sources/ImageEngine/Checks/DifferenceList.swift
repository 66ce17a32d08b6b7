
/// What a verify found: every difference counted, the first
/// `Verifier.reportLimit` kept for the report, the rest summarised.
struct DifferenceList {
    private(set) var count = 0
    private var listed: [String] = []

    var isEmpty: Bool { count == 0 }

    mutating func note(_ path: String, _ what: String) {
        count += 1
        if listed.count < Verifier.reportLimit { listed.append("\(path): \(what)") }
    }

    /// `headline`, then one indented line per kept difference, then how many more there were.
    func report(_ headline: String) -> String {
        var message = headline + listed.map { "\n  \($0)" }.joined()
        if count > listed.count { message += "\n  … and \(count - listed.count) more" }
        return message
    }

    /// "1 place", "3 places".
    func counted(_ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }
}
