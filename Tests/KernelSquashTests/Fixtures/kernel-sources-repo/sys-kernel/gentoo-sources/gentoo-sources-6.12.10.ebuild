# Copyright 2026 ksqsh authors
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit kernel-sources-model

DESCRIPTION="A gentoo-sources-like package for ksqsh's real-portage tests"
HOMEPAGE="https://github.com/ksqsh/ksqsh"
KEYWORDS="~amd64"
