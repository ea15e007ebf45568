//! The cycle counter used for node statistics.
//!
//! On x86_64 this is the TSC (`rdtsc`), as in DPDK; elsewhere, and under
//! Miri, a monotonic clock in nanoseconds. Stats only ever subtract two
//! readings taken on the same thread.

/// Reads the cycle counter.
#[inline(always)]
pub fn cycles() -> u64 {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        // SAFETY: `rdtsc` has no preconditions on x86_64; it only reads the
        // time-stamp counter.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        monotonic_ns()
    }
}

#[cfg(not(all(target_arch = "x86_64", not(miri))))]
fn monotonic_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    epoch.elapsed().as_nanos() as u64
}

/// Counter ticks per second, measured once (about 20 ms) and cached.
pub fn cycles_hz() -> u64 {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};
    static HZ: OnceLock<u64> = OnceLock::new();
    *HZ.get_or_init(|| {
        if !cfg!(all(target_arch = "x86_64", not(miri))) {
            return 1_000_000_000;
        }
        let t0 = Instant::now();
        let c0 = cycles();
        while t0.elapsed() < Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        let c1 = cycles();
        let ns = t0.elapsed().as_nanos().max(1);
        ((c1.wrapping_sub(c0) as u128 * 1_000_000_000) / ns) as u64
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn counter_advances() {
        let a = super::cycles();
        let mut b = super::cycles();
        while b == a {
            b = super::cycles();
        }
        assert!(b > a);
        assert!(super::cycles_hz() > 0);
    }
}
