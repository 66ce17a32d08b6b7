// Generated from templates/ by 'make templates'. Do not edit: edit templates/ instead.

/// Each file in templates/, by name (what HookTemplate's raw values are).
package enum EmbeddedTemplates {
    package static let files: [String: String] = [
        "installkernel-postinst": #"""
            #!/bin/sh
            # @MARKER@
            # installkernel runs this after installing a kernel, with its release and
            # image as arguments (make install, or kernel-install.eclass). When the
            # kernel was built in a ksqsh build dir (/usr/src/build-KV), ksqsh saves
            # its .config to /etc/kernels and, with KSQSH_SLIM=yes, slims the build dir.
            # The kernel is installed by now: nothing here may fail its installation,
            # so every problem is a warning.
            helper=@KSQSH@
            if [ ! -x "${helper}" ]; then
            	helper=$(command -v ksqsh) || exit 0
            fi
            "${helper}" installkernel "$@" ||
            	echo "ksqsh: warning: 'ksqsh installkernel $*' failed (see above); the kernel is installed all the same" >&2
            exit 0
            """#,
        "ksqsh-mount.service": #"""
            # @MARKER@
            # Mounts the kernel source images (/usr/src/linux-*.sqfs) before
            # local-fs.target, so they are there before anything builds modules.
            # No PrivateMounts: the mounts must be visible to the whole system.
            [Unit]
            Description=Mount kernel source images (ksqsh)
            DefaultDependencies=no
            RequiresMountsFor=/usr/src @KSQSH_UNIT@
            Before=local-fs.target
            Conflicts=umount.target
            Before=umount.target

            [Service]
            Type=oneshot
            RemainAfterExit=yes
            ExecStart=@KSQSH_UNIT@ mount --all
            ExecStop=@KSQSH_UNIT@ umount --all --lazy

            [Install]
            WantedBy=local-fs.target
            """#,
        "ksqsh.initd": #"""
            #!/sbin/openrc-run
            # shellcheck shell=sh
            # @MARKER@
            # Mounts the kernel source images (/usr/src/linux-*.sqfs) at boot and
            # unmounts them at shutdown. Enable it with: rc-update add ksqsh boot

            # shellcheck disable=SC2034 # openrc-run reads it
            description="Mount kernel source images (ksqsh)"
            helper=@KSQSH@

            depend() {
            	need localmount
            }

            start() {
            	ebegin "Mounting kernel source images"
            	"${helper}" mount --all
            	eend $?
            }

            # Lazily, as the systemd unit does: a shell still in /usr/src must not
            # hold up the shutdown.
            stop() {
            	ebegin "Unmounting kernel source images"
            	"${helper}" umount --all --lazy
            	eend $?
            }
            """#,
        "local.d-ksqsh.start": #"""
            #!/bin/bash
            # @MARKER@
            # Mounts the kernel source images (/usr/src/linux-*.sqfs) at boot.
            # OpenRC's 'local' service runs this; 'ksqsh hooks remove' deletes it.
            helper=@KSQSH@
            if [[ ! -x ${helper} ]]; then
            	helper=$(command -v ksqsh) || {
            		echo "ksqsh is not installed: kernel source images stay unmounted" >&2
            		exit 0
            	}
            fi
            exec "${helper}" mount --all
            """#,
        "local.d-ksqsh.stop": #"""
            #!/bin/bash
            # @MARKER@
            # Unmounts the kernel source images at shutdown (OpenRC's 'local' service).
            # Lazily: a shell still in /usr/src must not hold up the shutdown.
            helper=@KSQSH@
            if [[ ! -x ${helper} ]]; then
            	helper=$(command -v ksqsh) || exit 0
            fi
            exec "${helper}" umount --all --lazy
            """#,
        "portage-env-hook.bash": #"""
            # @MARKER@
            # ksqsh env hook for sys-kernel/@PACKAGE@: keeps the kernel sources as one
            # squashfs image, mounted at /usr/src/linux-KV, with a build dir beside it.
            #
            # Portage sources this file before every phase. It also saves these functions
            # with the installed package and in binary packages, where they outlive this
            # file and any one ksqsh version: so they decide nothing themselves. They pass
            # portage's variables to 'ksqsh hook', which plans and acts, and they do
            # nothing harmful when ksqsh is missing, older, or installed but unable to
            # start.

            _ksqsh_hook() {
            	# ${VAR-}: not every variable is set in every phase, nor under set -u.
            	local phase=$1 helper=@KSQSH@ status=0 output
            	if [[ ! -x ${helper} ]]; then
            		helper=$(command -v ksqsh 2>/dev/null)
            	fi
            	if [[ -z ${helper} ]]; then
            		ewarn "ksqsh is not installed: ${phase} leaves the kernel sources as they are"
            		[[ ${phase} == pre_pkg_prerm ]] && _ksqsh_unmount_without_helper
            		return 0
            	fi
            	# Being installed is not enough: a missing shared library, a binary for
            	# another architecture or a damaged file show only when it runs. Asking
            	# for its version costs milliseconds and changes nothing.
            	output=$("${helper}" --version 2>&1) || status=$?
            	if [[ ${status} -ne 0 ]]; then
            		output=${output%%$'\n'*} # the loader's or the shell's reason, if any
            		_ksqsh_cannot_start "${phase}" "'${helper} --version' $(_ksqsh_status_text "${status}")${output:+: ${output}}"
            		return 0
            	fi
            	ebegin "ksqsh ${phase}"
            	env \
            		ROOT="${ROOT-}" EPREFIX="${EPREFIX-}" EROOT="${EROOT-}" ED="${ED-}" \
            		WORKDIR="${WORKDIR-}" KV_FULL="${KV_FULL-}" PN="${PN-}" PVR="${PVR-}" \
            		USE="${USE-}" MERGE_TYPE="${MERGE_TYPE-}" \
            		REPLACING_VERSIONS="${REPLACING_VERSIONS-}" \
            		REPLACED_BY_VERSION="${REPLACED_BY_VERSION-}" FEATURES="${FEATURES-}" \
            		KSQSH_CONFIG="${KSQSH_CONFIG-}" KSQSH_COMPRESSION="${KSQSH_COMPRESSION-}" \
            		KSQSH_BLOCK_SIZE="${KSQSH_BLOCK_SIZE-}" KSQSH_JOBS="${KSQSH_JOBS-}" \
            		KSQSH_LAYOUT="${KSQSH_LAYOUT-}" KSQSH_PREPARE="${KSQSH_PREPARE-}" \
            		KSQSH_FALLBACK="${KSQSH_FALLBACK-}" KSQSH_SLIM="${KSQSH_SLIM-}" \
            		"${helper}" hook --interface @INTERFACE@ "${phase}"
            	status=$?
            	eend "${status}"
            	# env exits 126 or 127 when it cannot run the helper, and ksqsh never
            	# does itself: the helper did not start after all (replaced since the
            	# probe, say), so it did nothing.
            	if [[ ${status} -eq 126 || ${status} -eq 127 ]]; then
            		_ksqsh_cannot_start "${phase}" "'${helper} hook' $(_ksqsh_status_text "${status}") (see above)"
            		return 0
            	fi
            	return "${status}"
            }

            # A helper that cannot start counts as missing, with one exception: ksqsh is
            # installed, so an image is wanted, and plain sources installed silently
            # would show only at the next kernel build. The squash stops the build
            # instead, naming the cause, unless the user chose plain sources.
            _ksqsh_cannot_start() {
            	local phase=$1 cause=$2
            	if [[ ${phase} == pre_src_install && ${KSQSH_FALLBACK-} != plain ]]; then
            		die "ksqsh is installed but cannot start: ${cause}. The sources are untouched. Reinstall ksqsh, or set KSQSH_FALLBACK=plain to install them unsquashed."
            	fi
            	ewarn "ksqsh is installed but cannot start: ${phase} leaves the kernel sources as they are (${cause})"
            	[[ ${phase} == pre_pkg_prerm ]] && _ksqsh_unmount_without_helper
            	return 0
            }

            # How a process ended, from its shell status: 128+N is death by signal N.
            _ksqsh_status_text() {
            	local signal
            	if [[ $1 -gt 128 ]] && signal=$(kill -l "$(($1 - 128))" 2>/dev/null); then
            		printf 'was killed by SIG%s' "${signal}"
            	else
            		printf 'exited with status %s' "$1"
            	fi
            }

            # The one thing a hook does without ksqsh: when the package goes, portage
            # unlinks the image but cannot unmount it, which would pin the deleted image
            # and its loop device until reboot. Only a squashfs mounted exactly at this
            # version's mount point is touched; its loop device is auto-cleared.
            _ksqsh_unmount_without_helper() {
            	local mountpoint="${EROOT%/}/usr/src/linux-${KV_FULL}"
            	[[ $(findmnt -rn -o FSTYPE --mountpoint "${mountpoint}" 2>/dev/null) == squashfs ]] || return 0
            	if umount "${mountpoint}" 2>/dev/null || umount -l "${mountpoint}"; then
            		rmdir "${mountpoint}" 2>/dev/null
            		einfo "unmounted ${mountpoint} without ksqsh; its build dir and .config stay"
            	else
            		ewarn "could not unmount ${mountpoint}: run 'umount ${mountpoint}'"
            	fi
            	return 0
            }

            # Squash WORKDIR/linux-KV into linux-KV.sqfs beside it; kernel-2 installs both.
            pre_src_install() {
            	_ksqsh_hook pre_src_install ||
            		die "ksqsh could not squash the kernel sources (see above); they are untouched. Set KSQSH_FALLBACK=plain to install them unsquashed."
            }

            post_src_install() {
            	_ksqsh_hook post_src_install || die "ksqsh: the package image is not as expected (see above)"
            }

            pre_pkg_preinst() {
            	_ksqsh_hook pre_pkg_preinst || die "ksqsh could not unmount /usr/src/linux-${KV_FULL} (see above)"
            }

            post_pkg_postinst() {
            	_ksqsh_hook post_pkg_postinst ||
            		eerror "ksqsh could not mount or prepare ${KV_FULL} (see above); fix it, then run: ksqsh prepare --kernel ${KV_FULL} --symlink"
            }

            pre_pkg_prerm() {
            	_ksqsh_hook pre_pkg_prerm || eerror "ksqsh could not unmount /usr/src/linux-${KV_FULL} (see above)"
            }

            post_pkg_postrm() {
            	_ksqsh_hook post_pkg_postrm || eerror "ksqsh could not clean up after ${KV_FULL} (see above); see: ksqsh status"
            }
            """#,
    ]
}
