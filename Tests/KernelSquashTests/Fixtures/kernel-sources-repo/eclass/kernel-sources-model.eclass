# Copyright 2026 ksqsh authors
# Distributed under the terms of the GNU General Public License v2

# @ECLASS: kernel-sources-model.eclass
# @MAINTAINER:
# ksqsh maintainers
# @SUPPORTED_EAPIS: 8
# @BLURB: what kernel-2.eclass does for a sources package, for ksqsh's tests
# @DESCRIPTION:
# A model, written for ksqsh's tests, of the parts of kernel-2.eclass that
# the ksqsh env hooks meet on the sources path:
#  - KV_FULL is PV-EXTRAVERSION, with -rN appended for a revision;
#  - S=${WORKDIR}/linux-${KV_FULL}, SLOT=${PVR} (a revision or a new version
#    installs beside the old one);
#  - src_install does `cd "${S}" || die` (so S must still exist, possibly
#    empty), then copies "${WORKDIR}"/linux* into ${ED}/usr/src: an image
#    beside S goes along; EAPI 8 strips S from the image once it is empty;
#  - with USE=symlink, pkg_postinst points /usr/src/linux at linux-${KV_FULL},
#    and dies if /usr/src/linux exists and is not a symlink.
# src_unpack copies the kernel tree named by KSQSH_TEST_KERNEL_TREE (the
# test's make.conf sets it) instead of unpacking tarballs and patches.

case ${EAPI} in
	8) ;;
	*) die "${ECLASS}: EAPI ${EAPI:-0} not supported" ;;
esac

if [[ -z ${_KERNEL_SOURCES_MODEL_ECLASS} ]]; then
_KERNEL_SOURCES_MODEL_ECLASS=1

# @ECLASS_VARIABLE: K_EXTRAVERSION
# @DESCRIPTION:
# What follows PV in the kernel's version (gentoo-sources: gentoo).
: "${K_EXTRAVERSION:=gentoo}"

KV_FULL="${PV}-${K_EXTRAVERSION}"
[[ ${PR} != r0 ]] && KV_FULL+="-${PR}"

S="${WORKDIR}/linux-${KV_FULL}"
SLOT="${PVR}"
IUSE="symlink"
LICENSE="GPL-2"
# Nothing to strip or check: these are sources.
RESTRICT="binchecks strip"

kernel-sources-model_src_unpack() {
	[[ -d ${KSQSH_TEST_KERNEL_TREE} ]] ||
		die "KSQSH_TEST_KERNEL_TREE (${KSQSH_TEST_KERNEL_TREE:-unset}) is not a kernel tree"
	# As an unpacked tarball: its times and modes (the owner is whoever unpacks).
	cp -R --preserve=mode,timestamps,links "${KSQSH_TEST_KERNEL_TREE}" "${S}" || die "cannot copy the kernel tree"
}

kernel-sources-model_src_compile() {
	:
}

kernel-sources-model_src_install() {
	# As kernel-2: the tree (and whatever else is named linux*) goes to /usr/src.
	cd "${S}" || die
	dodir /usr/src
	chown -R 0:0 "${WORKDIR}"/linux* &>/dev/null
	cp -R "${WORKDIR}"/linux* "${ED}"/usr/src/ || die "cannot install the sources"
}

kernel-sources-model_pkg_postinst() {
	use symlink || return 0
	local link="${EROOT}/usr/src/linux"
	if [[ -e ${link} || -L ${link} ]]; then
		[[ -L ${link} ]] || die "${link} exists and is not a symlink: not pointing it at linux-${KV_FULL}"
		rm "${link}" || die
	fi
	ln -s "linux-${KV_FULL}" "${link}" || die
}

fi

EXPORT_FUNCTIONS src_unpack src_compile src_install pkg_postinst
