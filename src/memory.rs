//! Gives back to the system the memory a config load freed.
//!
//! Loading 100,000 rules builds and drops a parsed document several times the size of
//! the compiled rules, on the threads that parsed and compiled it. mimalloc returns freed
//! pages lazily, when their thread allocates again; the loader's threads then sit idle
//! until the next reload, so that memory would stay resident. After a load, each of those
//! threads (and the calling one) is asked to return its free pages at once.

/// Returns the free pages of the calling thread and of every thread of rayon's global pool
/// (where configs are parsed and compiled) to the system. Costs a few milliseconds; call it
/// after a load, never on the request path. Does nothing harmful under another allocator:
/// mimalloc then has nothing to give back.
pub fn give_back_freed() {
    rayon::broadcast(|_| collect());
    collect();
}

#[allow(unsafe_code)]
fn collect() {
    // SAFETY: `mi_collect` takes no pointer and touches only the allocator's own state;
    // mimalloc documents it as callable at any time, from any thread.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
