// ksqsh-bench: squash one kernel tree with ksqsh, mksquashfs and gensquashfs,
// one after another on a warm page cache, and compare them in one table.
// Everything happens in Bench.
Bench.main()
