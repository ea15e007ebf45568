//! DPDK mode: the EAL, DPDK's pktmbuf pools, lcores launched by EAL.
//!
//! With the `dpdk` feature, the same nodes run on DPDK's poll-mode drivers
//! with no per-packet conversion: an `rte_mbuf *` from `rte_eth_rx_burst`
//! is the graph object and, since [`Mbuf`] has `rte_mbuf`'s layout
//! (checked against the bindgen struct at compile time), what the nodes
//! read and write. Buffers of DPDK pools are freed with
//! `rte_pktmbuf_free_bulk` (through [`mempool::set_foreign_free`]).
//!
//! Workers run as EAL lcores ([`launch`]): EAL has already pinned those
//! threads from `-l`/`--lcores`, gives them `rte_lcore_id()` (which DPDK's
//! mempool caches need), and DPDK's l3fwd-graph does the same, so the same
//! command line means the same placement.

use std::ffi::{CStr, CString};
use std::ptr::{null_mut, NonNull};
use std::sync::{Arc, Mutex, OnceLock};

use dpdk_sys as sys;
use graph_core::Obj;

use crate::mbuf::{Mbuf, HEADROOM, META_OFFSET};
use crate::mempool::{self, ForeignPool, Mempool};

/// A DPDK error: what failed and DPDK's reason.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct DpdkError {
    /// What was being done.
    pub what: String,
    /// DPDK's `rte_strerror`.
    pub reason: String,
}

fn rte_err(what: impl Into<String>, errno: i32) -> DpdkError {
    // SAFETY: rte_strerror returns a static or thread-local C string.
    let reason = unsafe { CStr::from_ptr(sys::rte_strerror(errno)) }.to_string_lossy().into_owned();
    DpdkError { what: what.into(), reason }
}

fn last_err(what: impl Into<String>) -> DpdkError {
    // SAFETY: reads the thread's rte_errno.
    rte_err(what, unsafe { sys::rgraph_rte_errno() })
}

const _: () = {
    use core::mem::offset_of;
    assert!(core::mem::size_of::<sys::rte_mbuf>() == core::mem::size_of::<Mbuf>());
    assert!(offset_of!(sys::rte_mbuf, buf_addr) == 0);
    assert!(offset_of!(sys::rte_mbuf, buf_iova) == 8);
    assert!(offset_of!(sys::rte_mbuf, data_off) == 16);
    assert!(offset_of!(sys::rte_mbuf, refcnt) == 18);
    assert!(offset_of!(sys::rte_mbuf, nb_segs) == 20);
    assert!(offset_of!(sys::rte_mbuf, port) == 22);
    assert!(offset_of!(sys::rte_mbuf, ol_flags) == 24);
    assert!(offset_of!(sys::rte_mbuf, __bindgen_anon_1) == 32); // packet_type
    assert!(offset_of!(sys::rte_mbuf, pkt_len) == 36);
    assert!(offset_of!(sys::rte_mbuf, data_len) == 40);
    assert!(offset_of!(sys::rte_mbuf, vlan_tci) == 42);
    assert!(offset_of!(sys::rte_mbuf, __bindgen_anon_2) == 44); // hash
    assert!(offset_of!(sys::rte_mbuf, vlan_tci_outer) == 52);
    assert!(offset_of!(sys::rte_mbuf, buf_len) == 54);
    assert!(offset_of!(sys::rte_mbuf, pool) == 56);
    assert!(offset_of!(sys::rte_mbuf, next) == 64);
    assert!(offset_of!(sys::rte_mbuf, __bindgen_anon_3) == 72); // tx_offload
    assert!(offset_of!(sys::rte_mbuf, priv_size) == 88);
    assert!(offset_of!(sys::rte_mbuf, dynfield1) == 92);
    assert!(HEADROOM as u32 == sys::RTE_PKTMBUF_HEADROOM);
};

static EAL: OnceLock<Result<(), DpdkError>> = OnceLock::new();

/// Initialises the EAL with `args` (`argv[0]` first), once per process
/// (`rte_eal_init`), registers the node metadata dynamic field at the offset
/// [`Mbuf`] expects, and routes frees of DPDK buffers to
/// `rte_pktmbuf_free_bulk`.
pub fn eal_init(args: &[String]) -> Result<(), DpdkError> {
    EAL.get_or_init(|| {
        let cargs: Vec<CString> =
            args.iter().map(|a| CString::new(a.as_str())).collect::<Result<_, _>>().map_err(|_| DpdkError {
                what: "EAL arguments".into(),
                reason: "an argument contains a NUL byte".into(),
            })?;
        let mut argv: Vec<*mut std::os::raw::c_char> = cargs.iter().map(|c| c.as_ptr() as *mut _).collect();
        argv.push(std::ptr::null_mut());
        // The EAL keeps pointers into argv: leak it.
        let argv = Box::leak(argv.into_boxed_slice());
        std::mem::forget(cargs);
        // SAFETY: argv is a NULL-terminated array of C strings that lives
        // for the rest of the process.
        let rc = unsafe { sys::rte_eal_init((argv.len() - 1) as i32, argv.as_mut_ptr()) };
        if rc < 0 {
            return Err(last_err("EAL initialisation (rte_eal_init)"));
        }
        let mut params: sys::rte_mbuf_dynfield = Default::default();
        let name = b"rgraph_node_meta\0";
        for (d, s) in params.name.iter_mut().zip(name) {
            *d = *s as std::os::raw::c_char;
        }
        params.size = core::mem::size_of::<crate::mbuf::NodeMeta>();
        params.align = 4;
        // SAFETY: `params` is a valid descriptor; DPDK copies it.
        let off = unsafe { sys::rte_mbuf_dynfield_register_offset(&params, META_OFFSET) };
        if off < 0 {
            return Err(last_err(format!(
                "reserving mbuf bytes {META_OFFSET}.. for node metadata (rte_mbuf_dynfield_register_offset)"
            )));
        }
        mempool::set_foreign_free(free_bulk);
        Ok(())
    })
    .clone()
}

/// Whether the EAL was initialised.
pub fn eal_active() -> bool {
    matches!(EAL.get(), Some(Ok(())))
}

fn free_bulk(objs: &[Obj]) {
    // SAFETY: these are buffers of DPDK pools owned by the caller
    // (`mempool::free_bulk` routes only non-native buffers here); `Obj` is a
    // transparent pointer, so the slice is an array of `rte_mbuf *`.
    unsafe { sys::rte_pktmbuf_free_bulk(objs.as_ptr() as *mut *mut sys::rte_mbuf, objs.len() as u32) };
}

/// Ethernet devices DPDK found (`rte_eth_dev_count_avail`).
pub fn eth_dev_count() -> u16 {
    // SAFETY: no preconditions once the EAL is up (0 before).
    unsafe { sys::rte_eth_dev_count_avail() }
}

/// Whether lcore `id` is enabled by the EAL arguments.
pub fn lcore_enabled(id: u32) -> bool {
    // SAFETY: `rte_lcore_is_enabled` reads the EAL's lcore table, which
    // exists once the EAL is up (checked first) and takes any id (out of
    // range is "not enabled").
    eal_active() && unsafe { sys::rte_lcore_is_enabled(id) } != 0
}

/// The main lcore.
pub fn main_lcore() -> u32 {
    // SAFETY: `rte_get_main_lcore` reads one field of the EAL's global
    // configuration, which is static memory valid before and after init.
    unsafe { sys::rte_get_main_lcore() }
}

struct DpdkPool {
    mp: NonNull<sys::rte_mempool>,
    name: String,
    size: u32,
    data_room: u16,
}

// SAFETY: an rte_mempool is made to be used from every lcore.
unsafe impl Send for DpdkPool {}
// SAFETY: as above.
unsafe impl Sync for DpdkPool {}

// SAFETY: `rte_pktmbuf_alloc_bulk` either fills every slot with a fresh,
// reset mbuf of this pool, handed to the caller alone, or fills none and
// fails; DPDK mbufs keep the `Mbuf` invariant (same layout, checked in
// `mbuf`); a DPDK pool is never freed while the process runs.
unsafe impl ForeignPool for DpdkPool {
    fn name(&self) -> &str {
        &self.name
    }
    fn size(&self) -> u32 {
        self.size
    }
    fn available(&self) -> u32 {
        // SAFETY: a live mempool.
        unsafe { sys::rgraph_rte_mempool_avail_count(self.mp.as_ptr()) }
    }
    fn data_room(&self) -> u16 {
        self.data_room
    }
    fn handle(&self) -> *mut std::os::raw::c_void {
        self.mp.as_ptr().cast()
    }
    fn alloc_bulk(&self, out: &mut [std::mem::MaybeUninit<Obj>]) -> bool {
        // SAFETY: `out` has room for `len` pointers (`Obj` is a transparent
        // pointer); DPDK writes and resets that many buffers or none.
        unsafe { sys::rgraph_rte_pktmbuf_alloc_bulk(self.mp.as_ptr(), out.as_mut_ptr().cast(), out.len() as u32) == 0 }
    }
}

/// A DPDK pktmbuf pool of `n` buffers with the default buffer size, on
/// `socket` (-1: any), with per-lcore caches of `cache` buffers.
///
/// With hugepages this is `rte_pktmbuf_pool_create`. Without them (EAL's
/// `--no-huge`), DPDK would place the buffers on 4 KiB pages: every buffer
/// on a page of its own, so that a burst of 256 packets walks through more
/// pages than the TLB holds and each node pays for page walks (see
/// docs/performance.md, "DPDK ports: where the cycles go"). The pool then
/// lives in memory of our own that the kernel backs with transparent huge
/// pages (`madvise(MADV_HUGEPAGE)`), built the way
/// `rte_pktmbuf_pool_create` builds its own (`rte_mempool_create_empty`,
/// the platform's mempool ops, `rte_pktmbuf_pool_init`,
/// `rte_mempool_populate_virt`, `rte_pktmbuf_init` on every object). Only
/// software ports (vdevs) can use such a pool: without hugepages DPDK has no
/// DMA-able memory for a NIC either way.
pub fn pool_create(name: &str, n: u32, cache: u32, socket: i32) -> Result<Mempool, DpdkError> {
    let cname =
        CString::new(name).map_err(|_| DpdkError { what: format!("pool {name}"), reason: "NUL in name".into() })?;
    let data_room = sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16;
    // SAFETY: reads the EAL's configuration (the EAL is up: checked by the
    // caller through `eal_init`).
    let hugepages = unsafe { sys::rte_eal_has_hugepages() } != 0;
    let mp = if hugepages {
        // SAFETY: valid arguments; the EAL is up.
        let mp = unsafe { sys::rte_pktmbuf_pool_create(cname.as_ptr(), n, cache, 0, data_room, socket) };
        NonNull::new(mp).ok_or_else(|| last_err(format!("creating mbuf pool {name} of {n} buffers")))?
    } else {
        thp_pool(&cname, name, n, cache, data_room, socket)?
    };
    Ok(Mempool::foreign(Arc::new(DpdkPool { mp, name: name.to_string(), size: n, data_room: data_room - HEADROOM })))
}

/// Without hugepages (EAL `--no-huge`), how [`pool_create`] lays out
/// its pools, as one line for the operator; `None` with hugepages (or no
/// EAL).
pub fn pool_layout_note() -> Option<String> {
    // SAFETY: reads the EAL's configuration, which exists once it is up
    // (checked first).
    if !eal_active() || unsafe { sys::rte_eal_has_hugepages() } != 0 {
        return None;
    }
    let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    Some(if thp.contains("[never]") || thp.is_empty() {
        "mbuf pools: no hugepages (EAL --no-huge) and transparent huge pages are off: buffers packed on 4 KiB pages"
            .to_string()
    } else {
        "mbuf pools: no hugepages (EAL --no-huge): buffers packed on memory advised for transparent huge pages"
            .to_string()
    })
}

const HUGE_2M: usize = 2 << 20;
/// `RTE_MEMPOOL_F_NO_IOVA_CONTIG` (a macro bindgen does not carry).
const MEMPOOL_F_NO_IOVA_CONTIG: u32 = 0x0020;

/// `rte_pktmbuf_pool_create` on transparent huge pages (see [`pool_create`]).
fn thp_pool(
    cname: &CStr,
    name: &str,
    n: u32,
    cache: u32,
    data_room: u16,
    socket: i32,
) -> Result<NonNull<sys::rte_mempool>, DpdkError> {
    let fail = |what: &str| last_err(format!("creating mbuf pool {name} of {n} buffers ({what})"));
    let elt = (core::mem::size_of::<sys::rte_mbuf>() + usize::from(data_room)) as u32;
    let priv_size = core::mem::size_of::<sys::rte_pktmbuf_pool_private>() as u32;
    // SAFETY: valid arguments; the EAL is up (checked by the caller).
    let mp = unsafe {
        sys::rte_mempool_create_empty(cname.as_ptr(), n, elt, cache, priv_size, socket, MEMPOOL_F_NO_IOVA_CONTIG)
    };
    let mp = NonNull::new(mp).ok_or_else(|| fail("rte_mempool_create_empty"))?;
    // Frees the pool (and the memory, once mapped) on an early return.
    struct Undo(NonNull<sys::rte_mempool>, Option<(*mut libc::c_void, usize)>);
    impl Drop for Undo {
        fn drop(&mut self) {
            // SAFETY: the pool was created above and given to no one; the
            // mapping (if any) was made above and only this pool uses it.
            unsafe {
                sys::rte_mempool_free(self.0.as_ptr());
                if let Some((addr, len)) = self.1 {
                    libc::munmap(addr, len);
                }
            }
        }
    }
    let mut undo = Undo(mp, None);
    let mut priv_ = sys::rte_pktmbuf_pool_private { mbuf_data_room_size: data_room, mbuf_priv_size: 0, flags: 0 };
    let mut objsz = sys::rte_mempool_objsz::default();
    // SAFETY: `mp` is live and empty; the ops name is a static string.
    let ops = unsafe { sys::rte_mempool_set_ops_byname(mp.as_ptr(), sys::rte_mbuf_best_mempool_ops(), null_mut()) };
    if ops != 0 {
        return Err(fail("rte_mempool_set_ops_byname"));
    }
    // SAFETY: `mp` is live and empty; DPDK copies the descriptor `priv_`.
    unsafe { sys::rte_pktmbuf_pool_init(mp.as_ptr(), (&mut priv_ as *mut sys::rte_pktmbuf_pool_private).cast()) };
    // SAFETY: only writes `objsz`, which outlives the call.
    unsafe { sys::rte_mempool_calc_obj_size(elt, MEMPOOL_F_NO_IOVA_CONTIG, &mut objsz) };
    let total = objsz.total_size as usize;
    // Objects do not straddle a 2 MiB page: count whole objects per page.
    let per_page = HUGE_2M / total.max(1);
    if per_page == 0 {
        return Err(DpdkError { what: format!("mbuf pool {name}"), reason: format!("objects of {total} bytes") });
    }
    let len = (n as usize).div_ceil(per_page) * HUGE_2M;
    // SAFETY: a fresh private anonymous mapping (one spare huge page so the
    // start can be aligned to one); nothing else refers to it.
    let (map, map_len, addr) = unsafe {
        let map_len = len + HUGE_2M;
        let map = libc::mmap(
            std::ptr::null_mut(),
            map_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if map == libc::MAP_FAILED {
            return Err(DpdkError {
                what: format!("mapping {map_len} bytes for mbuf pool {name}"),
                reason: std::io::Error::last_os_error().to_string(),
            });
        }
        let addr = (map as usize).next_multiple_of(HUGE_2M) as *mut libc::c_void;
        // Advice only: without THP the pool still works, on 4 KiB pages.
        libc::madvise(addr, len, libc::MADV_HUGEPAGE);
        (map, map_len, addr)
    };
    undo.1 = Some((map, map_len));
    // The pool keeps `addr..addr + len` for the rest of the process (no
    // free callback: a DPDK pool is never freed while we run).
    // SAFETY: that range is mapped, writable, 2 MiB-aligned, ours alone.
    let rc = unsafe { sys::rte_mempool_populate_virt(mp.as_ptr(), addr.cast(), len, HUGE_2M, None, null_mut()) };
    if rc < 0 {
        return Err(rte_err(format!("creating mbuf pool {name} of {n} buffers (rte_mempool_populate_virt)"), -rc));
    }
    if (rc as u32) < n {
        return Err(DpdkError {
            what: format!("creating mbuf pool {name} of {n} buffers"),
            reason: format!("{len} bytes hold only {rc}"),
        });
    }
    // SAFETY: every object of the populated pool is an mbuf-sized element;
    // `rte_pktmbuf_init` initialises one per call.
    unsafe { sys::rte_mempool_obj_iter(mp.as_ptr(), Some(sys::rte_pktmbuf_init), std::ptr::null_mut()) };
    std::mem::forget(undo);
    Ok(mp)
}

type Job = Box<dyn FnOnce() -> i32 + Send>;
static JOBS: Mutex<Vec<(u32, Job)>> = Mutex::new(Vec::new());

unsafe extern "C" fn trampoline(arg: *mut std::os::raw::c_void) -> i32 {
    let lcore = arg as usize as u32;
    let job = {
        let mut jobs = JOBS.lock().unwrap_or_else(|e| e.into_inner());
        jobs.iter().position(|(l, _)| *l == lcore).map(|i| jobs.swap_remove(i).1)
    };
    match job {
        Some(f) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(-1),
        None => -1,
    }
}

/// Runs `f` on EAL lcore `lcore` (`rte_eal_remote_launch`); [`wait`] gets
/// its return value (-1 if it panicked).
pub fn launch(lcore: u32, f: impl FnOnce() -> i32 + Send + 'static) -> Result<(), DpdkError> {
    JOBS.lock().unwrap_or_else(|e| e.into_inner()).push((lcore, Box::new(f)));
    // SAFETY: `trampoline` takes its job from `JOBS` by lcore id, which is
    // what `arg` carries; no pointer is shared.
    let rc = unsafe { sys::rte_eal_remote_launch(Some(trampoline), lcore as usize as *mut _, lcore) };
    if rc != 0 {
        JOBS.lock().unwrap_or_else(|e| e.into_inner()).retain(|(l, _)| *l != lcore);
        return Err(rte_err(format!("launching on lcore {lcore}"), -rc));
    }
    Ok(())
}

/// Waits for lcore `lcore`'s job (`rte_eal_wait_lcore`).
pub fn wait(lcore: u32) -> i32 {
    // SAFETY: `rte_eal_wait_lcore` only reads and waits on the EAL's
    // per-lcore state for `lcore` (any id; invalid ones return at once); it
    // is called from the main lcore, which is where DPDK allows it.
    unsafe { sys::rte_eal_wait_lcore(lcore) }
}

/// Whether lcore `lcore` has finished its job.
pub fn finished(lcore: u32) -> bool {
    // SAFETY: `rte_eal_get_lcore_state` reads the EAL's per-lcore state,
    // static memory valid for any lcore id below RTE_MAX_LCORE, which the
    // EAL arguments bound the ids we launch on.
    let state = unsafe { sys::rte_eal_get_lcore_state(lcore) };
    state != sys::rte_lcore_state_t_RUNNING
}
