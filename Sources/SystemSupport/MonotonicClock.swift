import Glibc

package enum MonotonicClock {
    /// Seconds on CLOCK_MONOTONIC: for durations and deadlines, which must
    /// not jump when the wall clock is set (early boot, NTP).
    package static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
