# Copyright 2026 ksqsh authors
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit multiprocessing

DESCRIPTION="Keep kernel sources as one compressed squashfs image, transparently to portage"
HOMEPAGE="https://github.com/ksqsh/ksqsh"
# `make dist` writes both: the source, and the Swift packages it builds with,
# already resolved and checked out, so SwiftPM needs no network here. Both
# unpack into ${P}/.
SRC_URI="
	https://github.com/ksqsh/ksqsh/releases/download/v${PV}/${P}.tar.gz
	https://github.com/ksqsh/ksqsh/releases/download/v${PV}/${P}-deps.tar.xz
"

# ksqsh declares no license of its own yet; the Swift runtime and the two
# Swift packages linked into the binary are Apache-2.0.
LICENSE="all-rights-reserved Apache-2.0"
SLOT="0"
KEYWORDS="~amd64 ~arm64"
# make test needs root, loop devices and real mounts, none of which a build has.
RESTRICT="bindist mirror test"

DEPEND="
	app-arch/xz-utils
	app-arch/zstd
	sys-apps/util-linux
	sys-fs/squashfs-tools-ng
	sys-libs/zlib
"
RDEPEND="${DEPEND}"
BDEPEND="
	dev-lang/swift
	virtual/pkgconfig
"

# Every make call passes the same flags: `install` depends on `build`, and
# different flags would make SwiftPM build again. The Makefile links the
# Swift runtime in, so dev-lang/swift is needed to build only. The build
# uses exactly the pins in the deps tarball and never resolves again.
ksqsh_emake() {
	emake SWIFT_BUILD_FLAGS="--disable-automatic-resolution --jobs $(makeopts_jobs)" "$@"
}

src_compile() {
	ksqsh_emake build man completions
}

src_install() {
	ksqsh_emake DESTDIR="${D}" PREFIX="${EPREFIX}/usr" SYSCONFDIR="${EPREFIX}/etc" INIT=both install
	einstalldocs
}

pkg_postinst() {
	# The hooks are the user's configuration in /etc/portage: never written
	# by the package, and `ksqsh hooks remove` takes them away again.
	if [[ -z ${REPLACING_VERSIONS} ]]; then
		elog "ksqsh acts on kernel sources once its portage hooks are installed:"
		elog "    ksqsh hooks install"
		elog "writes /etc/portage/env/sys-kernel/gentoo-sources (add --package NAME"
		elog "for other kernel sources packages). The next 'emerge gentoo-sources'"
		elog "then keeps its sources as an image; 'ksqsh status' shows them all."
	fi
}
