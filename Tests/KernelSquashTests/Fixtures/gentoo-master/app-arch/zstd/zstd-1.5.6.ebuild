# Copyright 2026 ksqsh authors
# Distributed under the terms of the GNU General Public License v2

# Stand-in: a name and version for dependency checks, nothing to build.
EAPI=8

DESCRIPTION="Stand-in for ::gentoo's app-arch/zstd"
HOMEPAGE="https://www.gentoo.org/"
S="${WORKDIR}"

LICENSE="GPL-2"
SLOT="0"
KEYWORDS="amd64 arm64"
