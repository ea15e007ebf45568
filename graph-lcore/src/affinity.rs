//! CPU affinity of helper threads.
//!
//! A thread inherits the affinity of the thread that creates it, so a helper
//! spawned by a pinned lcore would share that lcore's CPU and take its time
//! from the forwarding. Helpers move to the CPUs of the process's main
//! thread instead: the control CPUs (under DPDK the main lcore; in a plain
//! process, whatever the process was started with).

/// Moves the calling thread onto the main thread's CPUs. Best effort: on
/// failure (or off Linux, or under Miri) the thread stays where it is.
pub(crate) fn leave_lcore_cpu() {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // `getpid()` names the main thread (the thread group leader), whose
        // mask is only read.
        // SAFETY: `cpu_set_t` is a plain bit array (all zeroes: the empty
        // set); both calls get its true size and a pointer to a live local.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(libc::getpid(), size, &mut set) == 0 {
                libc::sched_setaffinity(0, size, &set);
            }
        }
    }
}
