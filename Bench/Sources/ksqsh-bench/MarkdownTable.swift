/// A Markdown table padded to line up in a terminal too: the first column
/// left-aligned (names), every other column right-aligned (numbers).
struct MarkdownTable {
    let header: [String]
    let rows: [[String]]

    var text: String {
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { column, cell in
                let fill = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + fill : fill + cell
            }
            return "| " + padded.joined(separator: " | ") + " |"
        }
        // Alignment row: `---` left for the name, `--:` right for numbers.
        let dashes = widths.enumerated().map { column, width in
            column == 0 ? String(repeating: "-", count: width) : String(repeating: "-", count: max(width - 1, 2)) + ":"
        }
        let rule = "| " + dashes.joined(separator: " | ") + " |"
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}
