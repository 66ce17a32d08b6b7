#!/usr/bin/env bash
# `make install`, before it builds or copies anything: prints, as one line,
# the first reason it could not write every directory it installs to, or
# nothing when it can. Checking first means a bad DESTDIR or a missing
# permission leaves nothing half-installed.
#
# Usage: scripts/install-check.sh DESTDIR DIR...   (DIRs as under DESTDIR)
set -uo pipefail

destdir=$1
shift

if [[ -n ${destdir} ]]; then
	parent=$(dirname -- "${destdir}")
	if [[ -e ${destdir} && ! -d ${destdir} ]]; then
		echo "DESTDIR=${destdir} is not a directory"
		exit 0
	fi
	# Creating DESTDIR is fine; creating its parents too would hide a typo.
	if [[ ! -d ${destdir} && ! -d ${parent} ]]; then
		echo "DESTDIR=${destdir}: its parent ${parent} does not exist"
		exit 0
	fi
fi

for dir in "$@"; do
	# The installed files name each other (the services run BINDIR/ksqsh).
	if [[ ${dir} != /* ]]; then
		echo "${dir} is not an absolute path: set PREFIX (and any *DIR) to one"
		exit 0
	fi
	path=${destdir}${dir}
	# The nearest directory that exists is where install -d creates the rest.
	existing=${path}
	while [[ ! -e ${existing} && ! -L ${existing} ]]; do
		existing=$(dirname -- "${existing}")
	done
	if [[ ! -d ${existing} ]]; then
		echo "cannot install into ${path}: ${existing} is not a directory"
		exit 0
	fi
	if [[ ! -w ${existing} ]]; then
		if [[ -z ${destdir} && ${EUID} -ne 0 ]]; then
			echo "cannot write ${existing} as $(id -un): run make install as root, or choose a DESTDIR (staging tree) or a PREFIX you can write"
		else
			echo "cannot write ${existing}"
		fi
		exit 0
	fi
done
