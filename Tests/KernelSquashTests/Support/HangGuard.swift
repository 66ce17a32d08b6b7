import Testing

extension Trait where Self == TimeLimitTrait {
    /// The time limit every suite carries, against hangs only.
    ///
    /// Swift Testing starts a test's clock when the test is scheduled, and
    /// the suites wait for their child processes on its shared threads: on
    /// two cores, while the packaging suites build ksqsh or the portage
    /// scenarios run, a one-second test can wait minutes for a thread. So
    /// the limit is far above any test's own run time (the whole suite takes
    /// well under it); how fast things are is measured by `make bench`, never here.
    static var hangGuard: Self { .timeLimit(.minutes(20)) }
}
