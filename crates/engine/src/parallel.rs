//! Spreading entries over worker threads (std only: rayon is not in the dependency tree).
//!
//! Each worker owns an [`EntryReader`] and an accumulator; workers take the next item from a
//! shared counter, so a slow slice does not hold up the others. Memory is one accumulator and one
//! file in flight per worker, whatever the number of items.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::EngineError;
use crate::source::{EntryReader, Source};

/// Folds `items` into one accumulator per worker. The first `step` error stops every worker and
/// is returned next to the (partial) accumulators.
pub(crate) fn fold<T, A, E>(
    source: &Source,
    items: &[T],
    threads: usize,
    init: impl Fn() -> A + Sync,
    step: impl Fn(&mut A, &mut EntryReader, &T) -> Result<(), E> + Sync,
) -> Result<(Vec<A>, Option<E>), EngineError>
where
    T: Sync,
    A: Send,
    E: Send,
{
    let workers = threads.clamp(1, items.len().max(1));
    let readers = (0..workers)
        .map(|_| source.reader())
        .collect::<Result<Vec<_>, _>>()?;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<E>> = Mutex::new(None);

    let work = |mut reader: EntryReader| {
        let mut accumulator = init();
        while !stop.load(Ordering::Relaxed) {
            let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            if let Err(e) = step(&mut accumulator, &mut reader, item) {
                stop.store(true, Ordering::Relaxed);
                // A poisoned lock only means another worker panicked; its slot is still valid.
                let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert(e);
                break;
            }
        }
        accumulator
    };

    let accumulators = std::thread::scope(|scope| {
        let handles: Vec<_> = readers
            .into_iter()
            .map(|reader| scope.spawn(|| work(reader)))
            .collect();
        // Join every handle before looking at the results: a panicked thread left unjoined
        // would make the scope itself panic.
        let joined: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        joined
            .into_iter()
            .map(|r| r.map_err(|_| EngineError::Worker("a worker thread panicked".to_owned())))
            .collect::<Result<Vec<A>, _>>()
    })?;
    let error = first_error.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok((accumulators, error))
}
