import Glibc
import Testing

/// The kernel-source lifecycle commands (mount, umount, prepare, clean,
/// status, adopt) as a black box: the built `ksqsh` binary, always with
/// `--root` pointing at a scratch directory (never the real /usr/src), real
/// loop mounts of a real kernel skeleton's image, and the kernel's own make.
///
/// Layout under ROOT for version KV:
///
///     usr/src/linux-KV.sqfs           the image
///     usr/src/linux-KV                its mount point
///     usr/src/build-KV                the out-of-tree build dir
///     usr/src/linux                   the symlink
///     etc/kernels/kernel-config-KV    the saved config
///
/// One suite, run one test at a time: the tests mount and run make, and two
/// cores are better spent on one make than shared by several.
@Suite(
    "Kernel-source lifecycle (real loop mounts under a scratch ROOT)",
    .serialized,
    .hangGuard,
    .enabled(if: getuid() == 0, "needs root: the lifecycle commands loop-mount real images"),
    .enabled(if: LifecycleRequirements.hasLoopDevices, "needs loop devices (/dev/loop-control)")
)
struct LifecycleTests {}
