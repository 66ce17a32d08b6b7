import CFuzzer
import Glibc

// Our own main, handing over to libFuzzer: SwiftPM gives every executable a
// main of its own, so libFuzzer's cannot be used.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzImage(data!, size) })
