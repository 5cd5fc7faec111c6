//! Work spread over threads, results in input order.
//!
//! The one place threads are started for planning (`--jobs`,
//! `SENTINEL_MIGRATE_JOBS`): a scoped pool pulls items off a shared
//! counter and each result lands in its item's slot, so the output is the
//! same, in the same order, whatever the number of threads.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The number of threads for `jobs` (0: one per CPU).
pub fn threads(jobs: usize) -> usize {
    if jobs > 0 {
        return jobs;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f` applied to every item, on up to `jobs` threads (0: one per CPU),
/// results in the order of `items`. One thread (or one item) runs on the
/// caller's thread.
pub fn map<T, R, F>(items: Vec<T>, jobs: usize, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let threads = threads(jobs).min(items.len());
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let n = items.len();
    let work: Vec<Mutex<Option<T>>> = items.into_iter().map(|i| Mutex::new(Some(i))).collect();
    let done: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let item = work[i].lock().map_or(None, |mut slot| slot.take());
                    if let Some(item) = item {
                        let r = f(item);
                        if let Ok(mut slot) = done[i].lock() {
                            *slot = Some(r);
                        }
                    }
                }
            });
        }
    });
    // A thread that panicked has panicked the scope above: every slot is filled.
    done.into_iter()
        .filter_map(|slot| slot.into_inner().ok().flatten())
        .collect()
}

/// `a` on a thread of its own while `b` runs on the caller's (one after
/// the other with one thread): both results.
pub fn beside<A, B>(jobs: usize, a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B)
where
    A: Send,
{
    if threads(jobs) <= 1 {
        let a = a();
        return (a, b());
    }
    std::thread::scope(|scope| {
        let other = scope.spawn(a);
        let b = b();
        match other.join() {
            Ok(a) => (a, b),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items_whatever_the_threads() {
        let items: Vec<usize> = (0..1000).collect();
        let one = map(items.clone(), 1, |i| i * 3);
        for jobs in [0, 2, 3, 8] {
            assert_eq!(map(items.clone(), jobs, |i| i * 3), one, "jobs {jobs}");
        }
        assert_eq!(map(Vec::<usize>::new(), 4, |i| i), Vec::<usize>::new());
    }
}
