import CSystemShim

public enum Processors {
    /// CPUs this process may run on: its affinity mask, so a `taskset` or a
    /// cgroup-limited build gets as many compression or make jobs as it has
    /// CPUs, not as many as the machine has.
    public static var available: Int { Int(ksqsh_available_cpus()) }
}
