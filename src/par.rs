//! Work spread over threads, results in input order.
//!
//! The one place threads are started for planning (`--jobs`,
//! `SENTINEL_MIGRATE_JOBS`): workers pull items off a shared counter and
//! each result lands in its item's slot, so the output is the same, in the
//! same order, whatever the number of threads.
//!
//! The threads of a run are a [`Budget`]: `--jobs` of them, the caller's
//! among them. A worker gives its thread back when no item is left for it,
//! and an item may spend the idle threads on its own work, cut into chunks
//! ([`Budget::map_chunks`]: the resources of one large file), so a single
//! large file, or the last ones of a run, use every thread while many files
//! read at once take no more threads than `--jobs`.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The number of threads for `jobs` (0: one per CPU).
pub fn threads(jobs: usize) -> usize {
    if jobs > 0 {
        return jobs;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The threads of one run: how many there may be, and how many are at work.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    busy: AtomicUsize,
}

impl Budget {
    /// `jobs` threads (0: one per CPU), the caller's at work among them.
    pub fn new(jobs: usize) -> Budget {
        Budget {
            limit: threads(jobs),
            busy: AtomicUsize::new(1),
        }
    }

    /// How many threads there may be at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// An idle thread, if there is one: counted as at work.
    fn take(&self) -> bool {
        self.busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |busy| {
                (busy < self.limit).then_some(busy + 1)
            })
            .is_ok()
    }

    fn give(&self) {
        self.busy.fetch_sub(1, Ordering::AcqRel);
    }

    /// `f` over `0..n` cut into ranges of `chunk` (the last one shorter),
    /// results in the order of the ranges: on the caller's thread, and on
    /// the threads of the budget that are idle or become idle while the
    /// chunks last.
    pub fn map_chunks<R, F>(&self, n: usize, chunk: usize, f: F) -> Vec<R>
    where
        R: Send,
        F: Fn(Range<usize>) -> R + Sync,
    {
        let chunk = chunk.max(1);
        let range = |i: usize| i * chunk..n.min((i + 1) * chunk);
        self.run(n.div_ceil(chunk), |i| f(range(i)))
    }

    /// `work` for every index of `0..n`, results in order, on the caller's
    /// thread and on every idle thread of the budget it can use: before
    /// each index it takes, the caller hires the threads that have become
    /// idle while more indices are left than threads at them; each hired
    /// thread is given back once no index is left.
    fn run<R, F>(&self, n: usize, work: F) -> Vec<R>
    where
        R: Send,
        F: Fn(usize) -> R + Sync,
    {
        if n <= 1 || self.limit <= 1 {
            return (0..n).map(work).collect();
        }
        let done: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        // The next index, done; false once none is left.
        let step = || {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                return false;
            }
            let r = work(i);
            if let Ok(mut slot) = done[i].lock() {
                *slot = Some(r);
            }
            true
        };
        std::thread::scope(|scope| {
            let mut hired = 0;
            loop {
                let left = n.saturating_sub(next.load(Ordering::Relaxed));
                while hired + 1 < left && self.take() {
                    hired += 1;
                    scope.spawn(|| {
                        while step() {}
                        self.give();
                    });
                }
                if !step() {
                    break;
                }
            }
        });
        // A thread that panicked has panicked the scope above: every slot is filled.
        done.into_iter()
            .filter_map(|slot| slot.into_inner().ok().flatten())
            .collect()
    }
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
    map_sharing(items, jobs, |item, _| f(item))
}

/// [`map`], each item given the run's [`Budget`], whose idle threads it may
/// spend on its own work ([`Budget::map_chunks`]).
pub fn map_sharing<T, R, F>(items: Vec<T>, jobs: usize, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T, &Budget) -> R + Sync,
{
    let budget = Budget::new(jobs);
    if items.len() <= 1 || budget.limit <= 1 {
        return items.into_iter().map(|item| f(item, &budget)).collect();
    }
    let work: Vec<Mutex<Option<T>>> = items.into_iter().map(|i| Mutex::new(Some(i))).collect();
    budget
        .run(work.len(), |i| {
            let item = work[i].lock().map_or(None, |mut slot| slot.take());
            item.map(|item| f(item, &budget))
        })
        .into_iter()
        .flatten()
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

    #[test]
    fn chunks_cover_every_index_once_in_order() {
        for jobs in [1, 2, 3] {
            let budget = Budget::new(jobs);
            for (n, chunk) in [(0, 4), (1, 4), (10, 3), (12, 3), (1000, 7), (5, 0)] {
                let ranges = budget.map_chunks(n, chunk, |r| r);
                let flat: Vec<usize> = ranges.iter().cloned().flatten().collect();
                assert_eq!(flat, (0..n).collect::<Vec<_>>(), "{n} by {chunk}");
                assert!(ranges.iter().all(|r| !r.is_empty()));
            }
        }
    }

    /// The threads at work at once, the most seen, and which threads worked.
    struct Seen {
        now: AtomicUsize,
        most: AtomicUsize,
        threads: Mutex<std::collections::HashSet<std::thread::ThreadId>>,
    }

    impl Seen {
        fn new() -> Seen {
            Seen {
                now: AtomicUsize::new(0),
                most: AtomicUsize::new(0),
                threads: Mutex::new(Default::default()),
            }
        }

        fn work(&self) {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            self.threads
                .lock()
                .unwrap()
                .insert(std::thread::current().id());
            std::thread::sleep(std::time::Duration::from_millis(2));
            self.now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn one_item_spends_the_idle_threads_on_its_chunks() {
        for jobs in [1, 2, 3] {
            let seen = Seen::new();
            map_sharing(vec![()], jobs, |(), budget| {
                budget.map_chunks(200, 2, |_| seen.work())
            });
            assert_eq!(seen.most.load(Ordering::SeqCst), jobs, "jobs {jobs}");
            assert_eq!(seen.threads.lock().unwrap().len(), jobs, "jobs {jobs}");
        }
    }

    #[test]
    fn items_and_their_chunks_never_take_more_than_the_threads() {
        for jobs in [1, 2, 3] {
            let seen = Seen::new();
            // Uneven items: the short ones end early and give their
            // threads to the chunks of the long ones.
            let items: Vec<usize> = (0..12).map(|i| 1 + (i % 4) * 6).collect();
            let out = map_sharing(items.clone(), jobs, |chunks, budget| {
                budget.map_chunks(chunks, 1, |r| {
                    seen.work();
                    r.start
                })
            });
            assert_eq!(
                out,
                items
                    .iter()
                    .map(|&n| (0..n).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            );
            assert!(seen.most.load(Ordering::SeqCst) <= jobs, "jobs {jobs}");
            assert!(seen.threads.lock().unwrap().len() >= jobs.min(2));
        }
    }
}
