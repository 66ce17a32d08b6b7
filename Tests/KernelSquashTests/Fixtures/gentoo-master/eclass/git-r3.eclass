# Copyright 2026 ksqsh authors
# Distributed under the terms of the GNU General Public License v2

# @ECLASS: git-r3.eclass
# @MAINTAINER:
# ksqsh maintainers <maintainers@users.noreply.h-seed-f035b072.example>
# @SUPPORTED_EAPIS: 8
# @BLURB: stand-in for ::gentoo's git-r3.eclass (ksqsh test fixture)
# @DESCRIPTION:
# Enough of git-r3's interface for pkgcheck to read a live ebuild: it marks
# the ebuild live and clones EGIT_REPO_URI into S in src_unpack. The tests
# never build the live ebuild.

PROPERTIES+=" live"

# @ECLASS_VARIABLE: EGIT_REPO_URI
# @REQUIRED
# @DESCRIPTION:
# The repository to clone.

# @FUNCTION: git-r3_src_unpack
# @DESCRIPTION:
# Clones EGIT_REPO_URI into S.
git-r3_src_unpack() {
	git clone --depth 1 "${EGIT_REPO_URI}" "${S}" || die "git clone ${EGIT_REPO_URI} failed"
}

EXPORT_FUNCTIONS src_unpack
