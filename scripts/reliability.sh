#!/usr/bin/env bash
# `make reliability`: runs the reliability suites with one `swift test
# --filter`, then prints their reliability-summary lines
#
#     reliability-summary<TAB>scenario<TAB>cases<TAB>passed<TAB>detail
#
# as an aligned table with a total. Exits non-zero if any test failed or
# any scenario passed fewer cases than it tried. Suites not in this tree
# (yet) simply match nothing.
set -euo pipefail

cd "$(dirname "$0")/.."
swift=${SWIFT:-swift}

suites=(
	BadInputTests FaultTests
	KillPointTests ResumeDeletionTests KernelLockTests CorruptionSweepTests FuzzRegressionTests
	InterruptionTests DeleteSourceTests ErrorCaseTests CrashOrderTests CrashStateTests PowerCutLeftoverTests
)
# Matches the suites' test identifiers, e.g. KernelSquashTests.FaultTests/ioErrorOnRead().
filter="KernelSquashTests\.($(IFS='|'; echo "${suites[*]}"))\b"

log=$(mktemp)
trap 'rm -f "$log"' EXIT

set +e
"$swift" test --filter "$filter" 2>&1 | tee "$log"
test_status=${PIPESTATUS[0]}
set -e

echo
# The summary lines, wherever they start in the output (a test's stdout is
# not line-buffered against the runner's own lines).
{ grep -o $'reliability-summary\t.*' "$log" || true; } | awk -F '\t' '
	{
		rows++
		scenario[rows] = $2; cases[rows] = $3; passed[rows] = $4; detail[rows] = $5
		total_cases += $3; total_passed += $4
		if ($4 < $3) short++
	}
	function widen(column, text) { if (length(text) > width[column]) width[column] = length(text) }
	END {
		split("scenario cases passed detail", header, " ")
		for (column = 1; column <= 4; column++) widen(column, header[column])
		for (row = 1; row <= rows; row++) {
			widen(1, scenario[row]); widen(2, cases[row]); widen(3, passed[row]); widen(4, detail[row])
		}
		widen(1, "total")
		format = "%-" width[1] "s  %" width[2] "s  %" width[3] "s  %s\n"
		printf format, "scenario", "cases", "passed", "detail"
		for (row = 1; row <= rows; row++) printf format, scenario[row], cases[row], passed[row], detail[row]
		printf format, "total", total_cases, total_passed, rows " scenarios"
		exit (short > 0 ? 1 : 0)
	}
' || summary_status=$?

# swift test's own closing line counts the suites that print no summary lines too.
grep -E '^. Test run with [0-9]+ tests?' "$log" | tail -n 1 || true

if (( test_status != 0 )); then
	echo "make reliability: swift test failed (status $test_status)" >&2
	exit "$test_status"
fi
if (( ${summary_status:-0} != 0 )); then
	echo "make reliability: a scenario passed fewer cases than it tried" >&2
	exit 1
fi
