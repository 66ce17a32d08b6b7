import ArgumentParser
import ImageEngine
import Portage
import SquashFSFormat

// The library's enums as command-line values. ArgumentParser parses their
// raw values, lists them in --help and the shell completions, and refuses
// any other word as a usage error (status 64): nothing is checked by hand.
// The conformances live here so that the library need not know
// ArgumentParser. (The targets and the executable are one package, so
// Swift does not ask for @retroactive.)

extension Compression: ExpressibleByArgument {}
extension DataLayout: ExpressibleByArgument {}
extension InitSystem: ExpressibleByArgument {}
extension BootService: ExpressibleByArgument {}
extension Phase: ExpressibleByArgument {}
