// ksqsh-bench: squash one kernel tree with ksqsh, mksquashfs and gensquashfs,
// one after another on a warm page cache, and compare them in one table.
// Everything happens in Bench; this file only turns its result into an exit status.
import Glibc

exit(Bench.main(arguments: Array(CommandLine.arguments.dropFirst())))
