#!/usr/bin/env bash
# portage-phase-simulator.bash: runs the ksqsh env hook the way portage does,
# for sys-kernel/gentoo-sources, against a scratch ROOT. The hook is real,
# ksqsh is real, and so are the squashfs images and loop mounts (run as root).
#
# What is modelled, and where each fact comes from (docs/portage.md is
# /work/shared/docs/portage.md, "the notes" below; portage sources are
# bin/ebuild.sh, bin/phase-functions.sh, lib/portage/dbapi/vartree.py and
# lib/portage/package/ebuild/{config,doebuild}.py; the eclass is
# eclass/kernel-2.eclass):
#   - every phase runs in a subshell that sources the hooks afresh: the
#     saved copy (vdb or binpkg environment) first, then the env files on
#     disk, which win (notes: "Where hook functions can live");
#   - pre_/post_ hooks around each phase; their return codes are ignored,
#     only `die` counts (notes: "Failure semantics");
#   - the variables of each phase (notes: "Variables seen in the hooks";
#     config.py environ(): REPLACING_VERSIONS only in setup/preinst/postinst,
#     REPLACED_BY_VERSION only in the replaced package's prerm/postrm, and
#     for EAPI >= 7 no trailing slash on ROOT, EROOT, D, ED);
#   - kernel-2's src_unpack, src_install (install_universal, install_sources:
#     `cd "${S}" || die`, `cp -R "${WORKDIR}"/linux* "${ED}"/usr/src`) and
#     pkg_postinst (the USE=symlink link);
#   - EAPI 8 strips empty directories from the image, after post_src_install
#     (bin/install-qa-check.d/95empty-dirs);
#   - the sandbox: the src phases may not change anything under ROOT;
#   - the merge (vartree.py treewalk/mergeme): the read-only check before
#     preinst, files replaced by rename, CONTENTS and the saved environment
#     in the vdb;
#   - the replacement order: new preinst, merge, old prerm, old unmerge of
#     what the new package does not own, old postrm, new postinst;
#   - the unmerge: prerm, unlink every file (FEATURES=unmerge-orphans), rmdir
#     empty directories, postrm, delete the vdb entry;
#
# Real portage (the RealPortage suites) now runs the EAPI 8 install,
# reinstall, versions and revisions beside, unmerges, binary packages, the
# unmerge without ksqsh and the failed squash; this model stays for what it
# cannot reach here: EAPI 6, SLOT=PV, a postinst mount failure, ksqsh unable
# to start in src_install, and the sandbox and userpriv rules (portage's
# sandbox binary is not available).
#
# Usage: portage-phase-simulator.bash COMMAND [PVR]
#
#   install-helper      copy SIM_KSQSH to SIM_STATE/bin/ksqsh, "the installed
#                       ksqsh" (KSQSH_COPY) that the hooks call
#   remove-helper       delete KSQSH_COPY: "ksqsh was uninstalled"
#   install-hooks       ksqsh hooks install --root ROOT --init openrc
#                       --helper KSQSH_COPY
#   emerge PVR          build from source and merge: a fresh install, a
#                       reinstall or a replacement, as the vdb says
#   unmerge PVR         emerge --unmerge
#
# Environment:
#   SIM_ROOT            the target root, an absolute path (required)
#   SIM_STATE           the simulator's own directory, outside ROOT (required):
#                       bin/ (KSQSH_COPY, first in PATH), tmp/ (PORTAGE_TMPDIR),
#                       path/ (system directories of PATH without
#                       their ksqsh, so that the copy is the only one found)
#   SIM_KSQSH           the ksqsh to install (install-helper)
#   SIM_KERNEL_TREE     the kernel source tree src_unpack "unpacks"
#   SIM_USE             USE of the package (default: symlink)
#   SIM_EAPI            8 (default: gentoo-sources' EAPI; ROOT, EROOT, D and
#                       ED without trailing slash) or 6 (with one)
#   SIM_SLOT            pvr (default: kernel-2.eclass `SLOT=${SLOT:=${PVR}}`,
#                       so a revision installs beside) or pv (a kernel-2
#                       package that sets SLOT=${PV}: a revision replaces)
#   SIM_FEATURES        FEATURES (default: a usual set, see below)
#   KSQSH_FALLBACK, KSQSH_PREPARE
#                       passed to every phase, as package.env would
#
# Output: emerge-like lines on stdout (">>> phase PHASE PF VARIABLES..."
# before each phase, ">>> merged", "<<< obj /path" ...); the e* helpers
# write to stderr, as portage's do, with the level spelled out (there are
# no colours here).
#
# Exit status: 0 done; 1 emerge failed (the build or merge was aborted:
# nothing of it was merged); 2 usage or setup error; 3 merged or unmerged,
# but a phase past the point of no return died (emerge lists the package as
# failed; it stays installed or removed).

set -u
set -o pipefail
shopt -s nullglob

readonly sim_category=sys-kernel
readonly sim_pn=gentoo-sources
# Numeric portage:portage, as on Gentoo: with FEATURES=userpriv the early
# phases run as this user, so the unpacked tree is owned by it (notes:
# "Sandbox and users").
readonly sim_portage_uid=250
readonly sim_portage_gid=250
readonly sim_default_features="assume-digests binpkg-logs config-protect-if-modified distlocks ebuild-locks fixlafiles merge-sync news parallel-fetch preserve-libs protect-owned sandbox sfperms strict unknown-features-warn unmerge-logs unmerge-orphans userfetch userpriv usersandbox usersync"

# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

sim_fail() {
	echo "portage-phase-simulator: $*" >&2
	exit 2
}

[[ -n ${SIM_ROOT-} && ${SIM_ROOT} == /* ]] || sim_fail "SIM_ROOT must be an absolute path"
[[ -n ${SIM_STATE-} && ${SIM_STATE} == /* ]] || sim_fail "SIM_STATE must be an absolute path"
sim_root=${SIM_ROOT%/}
sim_state=${SIM_STATE%/}
sim_use=${SIM_USE-symlink}
sim_eapi=${SIM_EAPI-8}
sim_slot_rule=${SIM_SLOT-pvr}
sim_features=${SIM_FEATURES-${sim_default_features}}
sim_helper_dir="${sim_state}/bin"
sim_helper="${sim_helper_dir}/ksqsh"
sim_tmpdir="${sim_state}/tmp"
sim_vdb="${sim_root}/var/db/pkg/${sim_category}"
# PORTAGE_CONFIGROOT is ROOT here: the hooks are installed under it.
sim_env_dir="${sim_root}/etc/portage/env/${sim_category}"

case ${sim_eapi} in 6 | 7 | 8) ;; *) sim_fail "SIM_EAPI must be 6, 7 or 8" ;; esac
case ${sim_slot_rule} in pvr | pv) ;; *) sim_fail "SIM_SLOT must be pvr or pv" ;; esac

# Only the installed copy may be found, whatever this machine has installed:
# deleting it must leave the hooks without any ksqsh at all, and a ksqsh in
# /usr/local/bin or /usr/bin must be neither run nor touched. So PATH is the
# copy's directory, then the system's, where one that holds a ksqsh is
# replaced by a mirror of it without that file (symlinks to everything else).
hermetic_path() {
	local directory mirror index=0 path=${sim_helper_dir}
	rm -rf "${sim_path_mirrors}"
	for directory in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
		if [[ -e "${directory}/ksqsh" || -L "${directory}/ksqsh" ]]; then
			mirror="${sim_path_mirrors}/${index}"
			index=$((index + 1))
			mkdir -p "${mirror}" || return 1
			# -H: /bin is a symlink to /usr/bin on merged-/usr systems.
			find -H "${directory}" -mindepth 1 -maxdepth 1 ! -name ksqsh -exec ln -s -t "${mirror}" {} + || return 1
			directory=${mirror}
		fi
		path+=":${directory}"
	done
	printf '%s' "${path}"
}
sim_path_mirrors="${sim_state}/path"
sim_path=$(hermetic_path) || sim_fail "cannot build the phases' PATH in ${sim_path_mirrors}"
export PATH=${sim_path}
unset sim_path
sim_other_ksqsh=$(type -ap ksqsh | grep -vxF "${sim_helper}" | head -n 1)
[[ -z ${sim_other_ksqsh} ]] || sim_fail "PATH still finds another ksqsh (${sim_other_ksqsh})"
unset sim_other_ksqsh

# ---------------------------------------------------------------------------
# Portage's helper functions (bin/isolated-functions.sh), used by the hook
# ---------------------------------------------------------------------------

einfo() { echo " * $*" >&2; }
ewarn() { echo " * WARNING: $*" >&2; }
eerror() { echo " * ERROR: $*" >&2; }
ebegin() { echo " * $* ..." >&2; }

eend() {
	local status=${1:-0}
	shift
	if [[ ${status} -eq 0 ]]; then
		echo " [ ok ]" >&2
	else
		[[ $# -gt 0 ]] && eerror "$*"
		echo " [ !! ]" >&2
	fi
	return "${status}"
}

# Ends the phase with a failure: portage's die aborts the ebuild process.
# What that means for the emerge depends on the phase (see run_phase callers).
die() {
	eerror "${CATEGORY}/${PF}::gentoo failed (${EBUILD_PHASE} phase):"
	eerror "  $*"
	exit 1
}

use() { [[ " ${USE} " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------
# The package: names and versions from a PVR
# ---------------------------------------------------------------------------

# Sets sim_pvr, sim_pv, sim_pr, sim_pf, sim_slot, sim_kv_full for PVR
# (6.12.10 or 6.12.10-r1). KV_FULL as kernel-2's detect_version makes it
# for ETYPE=sources: PV, "-gentoo", then "-rN" unless the revision is r0.
select_package() {
	local pvr=$1
	[[ ${pvr} =~ ^[0-9]+(\.[0-9]+)+(-r[0-9]+)?$ ]] || sim_fail "not a PVR: '${pvr}'"
	sim_pvr=${pvr}
	sim_pv=${pvr%-r*}
	sim_pr=r0
	[[ ${pvr} == *-r* ]] && sim_pr=${pvr##*-}
	sim_pf="${sim_pn}-${sim_pvr}"
	sim_kv_full="${sim_pv}-gentoo"
	[[ ${sim_pr} != r0 ]] && sim_kv_full+="-${sim_pr}"
	if [[ ${sim_slot_rule} == pvr ]]; then sim_slot=${sim_pvr}; else sim_slot=${sim_pv}; fi
}

# EAPI 7 and later strip the trailing slash of ROOT, EROOT, D and ED
# (config.py: path_variables_end_with_trailing_slash); older ones keep one.
eapi_path() {
	local path=${1%/}
	if [[ ${sim_eapi} -ge 7 ]]; then
		printf '%s' "${path}"
	else
		printf '%s/' "${path}"
	fi
}

# The build dir of a phase: PORTAGE_TMPDIR/portage/CATEGORY/PF, or under
# ._unmerge_/ for prerm and postrm (doebuild.py doebuild_environment).
build_dir_for() {
	case $1 in
		pkg_prerm | pkg_postrm) echo "${sim_tmpdir}/portage/._unmerge_/${sim_category}/${sim_pf}" ;;
		*) echo "${sim_tmpdir}/portage/${sim_category}/${sim_pf}" ;;
	esac
}

# ---------------------------------------------------------------------------
# One phase
# ---------------------------------------------------------------------------

# The context the next phase runs in; callers set these before run_phase.
sim_merge_type=source
sim_replacing=""
sim_replaced_by=""
sim_saved_env=""

# The variables portage gives PHASE. Exported like portage's environment;
# KV_FULL and S are plain shell variables, as kernel-2 sets them.
set_phase_variables() {
	local phase=$1 build_dir
	build_dir=$(build_dir_for "${phase}")
	export CATEGORY=${sim_category} PN=${sim_pn} PV=${sim_pv} PR=${sim_pr} PVR=${sim_pvr}
	export P="${sim_pn}-${sim_pv}" PF=${sim_pf} SLOT=${sim_slot} EAPI=${sim_eapi}
	export EBUILD_PHASE=${phase#*_} EBUILD_PHASE_FUNC=${phase}
	export EPREFIX=""
	ROOT=$(eapi_path "${sim_root}")
	EROOT=$(eapi_path "${sim_root}${EPREFIX}")
	D=$(eapi_path "${build_dir}/image")
	ED=$(eapi_path "${build_dir}/image${EPREFIX}")
	export ROOT EROOT D ED
	export PORTAGE_CONFIGROOT="${sim_root}/" PORTAGE_TMPDIR=${sim_tmpdir} PORTAGE_BUILDDIR=${build_dir}
	export WORKDIR="${build_dir}/work" T="${build_dir}/temp" HOME="${build_dir}/homedir"
	export USE=${sim_use} FEATURES=${sim_features} ARCH=amd64
	KV_FULL=${sim_kv_full}
	S="${WORKDIR}/linux-${KV_FULL}"
	case ${phase} in
		pkg_prerm | pkg_postrm) export MERGE_TYPE="" ;;
		*) export MERGE_TYPE=${sim_merge_type} ;;
	esac
	unset REPLACING_VERSIONS REPLACED_BY_VERSION
	case ${phase} in
		pkg_setup | pkg_preinst | pkg_postinst) export REPLACING_VERSIONS=${sim_replacing} ;;
		pkg_prerm | pkg_postrm) [[ -n ${sim_replaced_by} ]] && export REPLACED_BY_VERSION=${sim_replaced_by} ;;
	esac
	# Passed through from the caller, as package.env or make.conf would.
	if [[ -n ${KSQSH_FALLBACK-} ]]; then export KSQSH_FALLBACK; fi
	if [[ -n ${KSQSH_PREPARE-} ]]; then export KSQSH_PREPARE; fi
	return 0
}

# The hooks: the saved copy first, then every env file on disk, which wins
# (notes: "Where hook functions can live"; portage reads env/CATEGORY/PN,
# PN:SLOT, P, PF in this order).
load_hooks() {
	local saved=$1 name
	if [[ -n ${saved} && -f ${saved} ]]; then
		# shellcheck source=/dev/null
		source <(bzip2 -dc "${saved}")
	fi
	for name in "${PN}" "${PN}:${SLOT}" "${P}" "${PF}"; do
		if [[ -f "${sim_env_dir}/${name}" ]]; then
			# shellcheck source=/dev/null
			source "${sim_env_dir}/${name}"
		fi
	done
}

call_hook() {
	if declare -F "$1" >/dev/null; then
		"$1" # its return code is ignored: only die counts (notes: "Failure semantics")
	fi
	return 0
}

# Runs PHASE as ebuild.sh does: in a fresh process with its variables and
# hooks, pre_PHASE, the ebuild's PHASE (kernel-2's here), post_PHASE.
# Returns non-zero only if something called die.
run_phase() {
	local phase=$1
	local summary="MERGE_TYPE=${sim_merge_type}"
	case ${phase} in
		pkg_setup | pkg_preinst | pkg_postinst) summary+=" REPLACING_VERSIONS=${sim_replacing}" ;;
		pkg_prerm | pkg_postrm) summary="MERGE_TYPE= REPLACED_BY_VERSION=${sim_replaced_by:-(unset)}" ;;
	esac
	echo ">>> phase ${phase} ${sim_pf} ${summary}"
	(
		set_phase_variables "${phase}"
		mkdir -p "${T}" "${HOME}"
		if [[ -d ${WORKDIR} ]]; then cd "${WORKDIR}" || exit 1; else cd "${PORTAGE_BUILDDIR}" || exit 1; fi
		load_hooks "${sim_saved_env}"
		# Portage's bash does not run with nounset; neither do the hooks.
		set +u
		call_hook "pre_${phase}"
		portage_steps "${phase}"
		"kernel2_${phase}"
		call_hook "post_${phase}"
	)
}

# What ebuild.sh does itself between pre_PHASE and PHASE. In src_install,
# D is wiped and the working directory becomes S only after the pre hook
# (notes: "pre_src_install runs before ${D} is wiped and before cd ${S}").
portage_steps() {
	case $1 in
		src_unpack) cd "${WORKDIR}" || die "WORKDIR is missing" ;;
		src_prepare | src_configure | src_compile)
			if [[ -d ${S} ]]; then cd "${S}" || die; fi
			;;
		src_install)
			rm -rf "${D}"
			mkdir -p "${D}" || die "cannot create D"
			if [[ -d ${S} ]]; then cd "${S}" || die; else cd "${WORKDIR}" || die; fi
			;;
	esac
}

# The saved environment (save-ebuild-env.sh): every function the hooks
# defined, as `declare -f` prints it, bzip2ed like vdb's environment.bz2.
save_hooks() {
	local target=$1 saved=$2
	(
		set_phase_variables pkg_preinst
		local before name
		before=$(compgen -A function)
		load_hooks "${saved}"
		for name in $(compgen -A function); do
			grep -qxF "${name}" <<<"${before}" || declare -f "${name}"
		done
	) | bzip2 >"${target}"
}

# ---------------------------------------------------------------------------
# kernel-2.eclass, ETYPE=sources (only what the phases do for gentoo-sources)
# ---------------------------------------------------------------------------

kernel2_pkg_setup() { :; }

# universal_unpack: the tree lands at S = WORKDIR/linux-KV_FULL, owned by
# the portage user that runs this phase under FEATURES=userpriv.
kernel2_src_unpack() {
	[[ -d ${SIM_KERNEL_TREE-} ]] || die "SIM_KERNEL_TREE is not a directory"
	cp -a "${SIM_KERNEL_TREE}" "${S}" || die "cannot unpack the kernel tree"
	chown -R "${sim_portage_uid}:${sim_portage_gid}" "${WORKDIR}" || die "cannot chown the tree to portage"
	cd "${S}" || die
}

kernel2_src_prepare() { :; }
kernel2_src_configure() { :; }
kernel2_src_compile() { :; }

# install_universal, then install_sources.
kernel2_src_install() {
	chown -R 0:0 "${WORKDIR}"/* &>/dev/null
	chmod -R a+r-w+X,u+w "${WORKDIR}"/*
	cd "${S}" || die
	mkdir -p "${ED%/}/usr/src" || die
	einfo ">>> Copying sources ..."
	cp -R "${WORKDIR}"/linux* "${ED%/}/usr/src" || die
}

kernel2_pkg_preinst() { :; }

# postinst_sources: USE=symlink points /usr/src/linux at the sources.
kernel2_pkg_postinst() {
	if use symlink; then
		if [[ -e ${EROOT%/}/usr/src/linux && ! -L ${EROOT%/}/usr/src/linux ]]; then
			die "${EROOT%/}/usr/src/linux exists and is not a symlink"
		fi
		ln -snf "linux-${KV_FULL}" "${EROOT%/}/usr/src/linux" || die
	fi
}

kernel2_pkg_prerm() { :; }
kernel2_pkg_postrm() { :; }

# ---------------------------------------------------------------------------
# Building (ebuild.sh: setup, unpack, prepare, configure, compile, install)
# ---------------------------------------------------------------------------

# What the sandbox protects: everything under ROOT and the mounts there.
root_snapshot() {
	find "${sim_root}" -xdev -printf '%y %m %U:%G %s %T@ %p -> %l\n' 2>/dev/null | LC_ALL=C sort
	findmnt -rn -o TARGET,SOURCE,FSTYPE,OPTIONS | grep -F "${sim_root}" | LC_ALL=C sort
}

# The src phases into a fresh build dir. Returns 1 if the build failed.
build_package() {
	local build_dir before after
	build_dir=$(build_dir_for src_install)
	# A new build starts from a clean build dir (the "clean" phase); it is
	# kept afterwards (like FEATURES=keepwork) so tests can look at it.
	if findmnt -rn -o TARGET | grep -qF "${build_dir}/"; then
		sim_fail "something is still mounted under ${build_dir}; unmount it first"
	fi
	rm -rf --one-file-system "${build_dir}"
	mkdir -p "${build_dir}/work" "${build_dir}/temp" "${build_dir}/image" "${build_dir}/homedir" || return 1
	chown "${sim_portage_uid}:${sim_portage_gid}" "${build_dir}/work"
	before=$(root_snapshot)

	run_phase pkg_setup || return 1
	run_phase src_unpack || return 1
	run_phase src_prepare || return 1
	run_phase src_configure || return 1
	run_phase src_compile || return 1
	run_phase src_install || return 1
	install_qa_checks "${build_dir}/image" || return 1

	after=$(root_snapshot)
	if [[ ${before} != "${after}" ]]; then
		echo "!!! ACCESS VIOLATION: the src phases changed ROOT; the sandbox allows writes only under PORTAGE_TMPDIR" >&2
		diff <(echo "${before}") <(echo "${after}") >&2
		return 1
	fi
	return 0
}

# EAPI 8 strips empty directories from the image (95empty-dirs), after
# post_src_install.
install_qa_checks() {
	local image=$1
	if [[ ${sim_eapi} -ge 8 || " ${sim_features} " == *" strict-keepdir "* ]]; then
		find "${image}" -depth -mindepth 1 -type d -empty -delete || return 1
	fi
	return 0
}

# ---------------------------------------------------------------------------
# Merging (vartree.py dblink.treewalk)
# ---------------------------------------------------------------------------

# Every installed PVR in SLOT.
installed_in_slot() {
	local slot=$1 entry
	for entry in "${sim_vdb}/${sim_pn}"-[0-9]*; do
		[[ -f "${entry}/SLOT" && $(<"${entry}/SLOT") == "${slot}" ]] && echo "${entry##*/"${sim_pn}"-}"
	done
}

# Portage refuses to merge anything whose directory is on a read-only
# filesystem, before preinst ("NOT merged due to read-only file systems").
# Checks the directory each entry goes to, or its nearest existing ancestor.
check_read_only() {
	local image=$1 relative directory refused=()
	declare -A seen=()
	while IFS= read -r -d '' relative; do
		directory="${sim_root}/${relative}"
		directory=${directory%/*}
		while [[ ! -e ${directory} ]]; do directory=${directory%/*}; done
		[[ -n ${seen[${directory}]-} ]] && continue
		seen[${directory}]=1
		# access(W_OK) fails with EROFS even for root on a read-only mount.
		if [[ ! -w ${directory} ]]; then
			refused+=("${directory} ($(findmnt -n -o TARGET,FSTYPE,OPTIONS -T "${directory}"))")
		fi
	done < <(find "${image}" -mindepth 1 -printf '%P\0')
	if [[ ${#refused[@]} -gt 0 ]]; then
		eerror "One or more files installed to this package are set to be installed to read-only filesystems:"
		local line
		for line in "${refused[@]}"; do eerror "	${line}"; done
		eerror "Package '${sim_category}/${sim_pf}' NOT merged due to read-only file systems."
		return 1
	fi
	return 0
}

# Copies the image into ROOT and writes CONTENTS to VDB_DIR. Files are
# moved into place by rename, as portage's movefile does: a replaced file
# is a new inode (a loop device on the old one shows "(deleted)").
merge_image() {
	local image=$1 vdb_dir=$2 staging relative type
	staging="${sim_root}/.sim-merge-${sim_pf}"
	rm -rf "${staging}"
	cp -a "${image}" "${staging}" || return 1
	while IFS= read -r -d '' relative; do
		if [[ -n ${relative} ]]; then
			if [[ -e "${sim_root}/${relative}" && ! -d "${sim_root}/${relative}" ]]; then
				eerror "cannot merge directory /${relative}: a file is in the way"
				return 1
			fi
			mkdir -p "${sim_root}/${relative}" || return 1
		fi
		find "${staging}/${relative}" -mindepth 1 -maxdepth 1 ! -type d \
			-exec mv -f -t "${sim_root}/${relative}" {} + || return 1
	done < <(find "${staging}" -type d -printf '%P\0')
	rm -rf "${staging}"

	# CONTENTS in portage's format, in merge order.
	declare -A md5=()
	local sum name
	while IFS= read -r -d '' sum; do
		name=${sum#*  }
		md5[${name#"${image}"/}]=${sum%%  *}
	done < <(find "${image}" -type f -print0 | xargs -0 -r md5sum -z)
	# Merged files keep the image's mtimes (cp -a, then rename).
	local mtime target
	while IFS= read -r -d '' type && IFS= read -r -d '' relative &&
		IFS= read -r -d '' mtime && IFS= read -r -d '' target; do
		mtime=${mtime%.*}
		case ${type} in
			d) echo "dir /${relative}" ;;
			f) echo "obj /${relative} ${md5[${relative}]} ${mtime}" ;;
			l) echo "sym /${relative} -> ${target} ${mtime}" ;;
		esac
	done < <(find "${image}" -mindepth 1 -printf '%y\0%P\0%T@\0%l\0') >"${vdb_dir}/CONTENTS"
	while IFS= read -r relative; do echo ">>> ${relative}"; done <"${vdb_dir}/CONTENTS"
}

# Merges the image of the selected package into
# ROOT: read-only check, preinst, merge, the replaced package's removal,
# postinst. SAVED is a saved environment the phases start from (none for a build).
# Returns 0, 1 (aborted before anything was merged) or 3 (postinst died).
merge_package() {
	local image=$1 saved=$2 merge_type=${sim_merge_type} replaced pvr merging
	mapfile -t replaced < <(installed_in_slot "${sim_slot}")
	sim_replacing=${replaced[*]}
	sim_replaced_by=""
	sim_saved_env=${saved}

	check_read_only "${image}" || return 1

	if ! run_phase pkg_preinst; then
		eerror "!!! FAILED preinst: 1 (the merge of ${sim_category}/${sim_pf} is aborted)"
		return 1
	fi

	merging="${sim_vdb}/-MERGING-${sim_pf}"
	rm -rf "${merging}"
	mkdir -p "${merging}" || return 1
	echo "${sim_slot}" >"${merging}/SLOT"
	echo "${sim_pf}" >"${merging}/PF"
	echo "${sim_category}" >"${merging}/CATEGORY"
	echo "${sim_eapi}" >"${merging}/EAPI"
	echo "${sim_use}" >"${merging}/USE"
	# The saved environment: what the phases defined, the disk winning.
	save_hooks "${merging}/environment.bz2" "${saved}"
	echo ">>> Merging ${sim_category}/${sim_pf} to ${sim_root}/"
	merge_image "${image}" "${merging}" || return 1

	# Replacing: the old instance in the slot is unmerged now, after the
	# merge and before the new postinst (notes: "Merge order").
	local new_pvr=${sim_pvr} new_contents="${merging}/CONTENTS" status=0
	for pvr in "${replaced[@]}"; do
		echo ">>> Safely unmerging already-installed instance ${sim_pn}-${pvr}..."
		select_package "${pvr}"
		unmerge_selected "${new_pvr}" "${new_contents}" || status=3
	done
	select_package "${new_pvr}"
	sim_merge_type=${merge_type}
	for pvr in "${replaced[@]}"; do rm -rf "${sim_vdb:?}/${sim_pn}-${pvr}"; done
	mv "${merging}" "${sim_vdb}/${sim_pf}" || return 1
	echo ">>> ${sim_category}/${sim_pf} merged."

	sim_replacing=${replaced[*]}
	sim_replaced_by=""
	sim_saved_env="${sim_vdb}/${sim_pf}/environment.bz2"
	if ! run_phase pkg_postinst; then
		eerror "!!! FAILED postinst: 1 (${sim_category}/${sim_pf} stays installed)"
		return 3
	fi
	return "${status}"
}

# ---------------------------------------------------------------------------
# Unmerging (vartree.py dblink.unmerge, _unmerge_pkgfiles)
# ---------------------------------------------------------------------------

# Unmerges the selected installed package: prerm, its files, postrm; the
# hooks come from its saved environment, then from disk. When it is being
# replaced, REPLACED_BY is the new PVR and files listed in NEW_CONTENTS are
# left alone. The vdb entry is the caller's to remove.
# Returns 0, or 3 if prerm or postrm died (the unmerge goes on regardless).
unmerge_selected() {
	local replaced_by=$1 new_contents=$2 vdb_dir="${sim_vdb}/${sim_pf}" status=0
	local build_dir
	build_dir=$(build_dir_for pkg_prerm)
	rm -rf "${build_dir}"
	mkdir -p "${build_dir}/temp"
	sim_merge_type=""
	sim_replacing=""
	sim_replaced_by=${replaced_by}
	sim_saved_env="${vdb_dir}/environment.bz2"

	if ! run_phase pkg_prerm; then
		eerror "!!! FAILED prerm: 1 (the unmerge of ${sim_category}/${sim_pf} goes on)"
		status=3
	fi
	unmerge_files "${vdb_dir}/CONTENTS" "${new_contents}"
	if ! run_phase pkg_postrm; then
		eerror "!!! FAILED postrm: 1"
		status=3
	fi
	sim_replaced_by=""
	return "${status}"
}

# The path of a CONTENTS line: "dir PATH", "obj PATH MD5 MTIME",
# "sym PATH -> TARGET MTIME".
contents_path() {
	local line=$1 path
	path=${1#* }
	case ${line} in
		obj\ *) path=${path% * *} ;;
		sym\ *) path=${path%% -> *} ;;
	esac
	printf '%s' "${path}"
}

# Removes what CONTENTS lists: files first (unlinked even when a loop
# device still uses them), then directories that are empty, deepest first.
unmerge_files() {
	local contents=$1 new_contents=$2 line type path
	declare -A owned_by_new=()
	if [[ -n ${new_contents} && -f ${new_contents} ]]; then
		while IFS= read -r line; do
			owned_by_new[$(contents_path "${line}")]=1
		done <"${new_contents}"
	fi
	local directories=()
	while IFS= read -r line; do
		type=${line%% *}
		path=$(contents_path "${line}")
		if [[ -n ${owned_by_new[${path}]-} ]]; then
			echo "--- replaced ${type} ${path}"
			continue
		fi
		case ${type} in
			dir) directories+=("${path}") ;;
			obj | sym)
				if [[ ! -e "${sim_root}${path}" && ! -L "${sim_root}${path}" ]]; then
					echo "--- !found ${type} ${path}"
				else
					rm -f "${sim_root}${path}" && echo "<<< ${type} ${path}"
				fi
				;;
		esac
	done < <(LC_ALL=C sort -r "${contents}")
	for path in "${directories[@]}"; do
		if rmdir "${sim_root}${path}" 2>/dev/null; then
			echo "<<< dir ${path}"
		else
			echo "--- !empty dir ${path}"
		fi
	done
}

# ---------------------------------------------------------------------------
# Commands: one emerge invocation each
# ---------------------------------------------------------------------------

command_install_helper() {
	[[ -x ${SIM_KSQSH-} ]] || sim_fail "SIM_KSQSH must name the built ksqsh"
	mkdir -p "${sim_helper_dir}" || sim_fail "cannot create ${sim_helper_dir}"
	if ! { cp "${SIM_KSQSH}" "${sim_helper}.new" && chmod 0755 "${sim_helper}.new" && mv -f "${sim_helper}.new" "${sim_helper}"; }; then
		sim_fail "cannot install ${sim_helper}"
	fi
	echo ">>> installed ${sim_helper}"
}

command_remove_helper() {
	rm -f "${sim_helper}" || sim_fail "cannot remove ${sim_helper}"
	echo ">>> removed ${sim_helper}"
}

command_install_hooks() {
	[[ -x ${sim_helper} ]] || sim_fail "install-helper first"
	"${sim_helper}" hooks install --root "${sim_root}" --init openrc --helper "${sim_helper}" || sim_fail "ksqsh hooks install failed"
}

# emerge =sys-kernel/gentoo-sources-PVR
command_emerge() {
	select_package "$1"
	sim_merge_type=source
	sim_replacing=$(installed_in_slot "${sim_slot}" | paste -sd ' ')
	sim_saved_env=""
	echo ">>> Emerging (1 of 1) ${sim_category}/${sim_pf}::gentoo${sim_replacing:+ (replacing ${sim_replacing})}"
	if ! build_package; then
		echo ">>> Failed to emerge ${sim_category}/${sim_pf}: the build failed"
		return 1
	fi
	merge_package "$(build_dir_for src_install)/image" ""
}

# emerge --unmerge =sys-kernel/gentoo-sources-PVR
command_unmerge() {
	select_package "$1"
	[[ -d "${sim_vdb}/${sim_pf}" ]] || {
		echo ">>> ${sim_category}/${sim_pf} is not installed"
		return 1
	}
	echo ">>> Unmerging ${sim_category}/${sim_pf}..."
	local status=0
	unmerge_selected "" "" || status=$?
	rm -rf "${sim_vdb:?}/${sim_pf}"
	echo ">>> ${sim_category}/${sim_pf} unmerged."
	return "${status}"
}

main() {
	[[ $# -ge 1 ]] || sim_fail "usage: $0 COMMAND [PVR] (see the header)"
	local command=$1
	shift
	mkdir -p "${sim_tmpdir}" "${sim_vdb}" || sim_fail "cannot create ${sim_tmpdir} or ${sim_vdb}"
	case ${command} in
		install-helper) command_install_helper ;;
		remove-helper) command_remove_helper ;;
		install-hooks) command_install_hooks ;;
		emerge | unmerge)
			[[ $# -eq 1 ]] || sim_fail "usage: $0 ${command} PVR"
			"command_${command//-/_}" "$1"
			;;
		*) sim_fail "unknown command '${command}'" ;;
	esac
}

main "$@"
