# Copyright 2026 ksqsh authors
# Distributed under the terms of the GNU General Public License v2

# @ECLASS: multiprocessing.eclass
# @MAINTAINER:
# ksqsh maintainers <maintainers@users.noreply.h-seed-f035b072.example>
# @SUPPORTED_EAPIS: 8
# @BLURB: stand-in for ::gentoo's multiprocessing.eclass (ksqsh test fixture)
# @DESCRIPTION:
# Only makeopts_jobs, which the ksqsh ebuilds call: the job count a -j in
# MAKEOPTS asks for, else the number of processors.

# @FUNCTION: makeopts_jobs
# @USAGE: [makeopts]
# @DESCRIPTION:
# Prints the number of jobs MAKEOPTS (or the argument) asks for.
makeopts_jobs() {
	local options=${1-${MAKEOPTS}} jobs=
	if [[ ${options} =~ (^|[[:space:]])(-j|--jobs[=[:space:]])[[:space:]]*([0-9]+) ]]; then
		jobs=${BASH_REMATCH[3]}
	elif [[ ${options} =~ (^|[[:space:]])-j([0-9]+) ]]; then
		jobs=${BASH_REMATCH[2]}
	fi
	echo "${jobs:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}"
}
