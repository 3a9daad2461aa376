//! The spool's one owner: a thread of its own holds the [`Spool`] and serves requests from a
//! channel, so appends with their `fdatasync`, segment reads and deletions never run on the
//! async runtime, and no task waits on a lock that disk I/O holds. Async callers send a request
//! and await the reply; acknowledgements and rewinds need no reply.
//!
//! Acknowledgements gather in a queue that the owner takes whole before every request. PUBACKs
//! arrive one by one, and a thread wake each would cost more CPU than recording them, so an
//! acknowledgement wakes the owner only when it sleeps with nothing queued; while some are
//! queued it waits at most [`ACK_GATHER`] for a request before it records them anyway. Under
//! load the publisher's own requests take them, and the owner wakes for acknowledgements at
//! most once per [`ACK_GATHER`]. The latest counters are published after every request, so the
//! health message and the drain check read them without asking.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch, Notify};

use super::store::Spool;
use super::types::{ctx, Record, SpoolConfig, SpoolError, SpoolStats};
use kilowatch_site::payload::DevicePoll;

/// An append's outcome with its polls: numbered when it worked, as they were when it did not
/// (to be retried).
pub type Appended = (Result<(), SpoolError>, Vec<DevicePoll>);

/// Readings found for a replay request and the sub-ranges the spool cannot provide.
pub type Replayed = (Vec<Record>, Vec<[u64; 2]>);

/// How long the owner lets acknowledgements gather before it records them (the counters and
/// segment deletion lag by at most this).
pub const ACK_GATHER: Duration = Duration::from_millis(5);

type Reply<T> = oneshot::Sender<Result<T, SpoolError>>;

enum Command {
    Append(Vec<DevicePoll>, oneshot::Sender<Appended>),
    Next(usize, Reply<Vec<Record>>),
    /// Acknowledgements are queued and the owner was asleep.
    Acks,
    Rewind,
    SaveCursor(Reply<()>),
    Replay {
        device: String,
        from_seq: u64,
        to_seq: u64,
        max: usize,
        reply: Reply<Replayed>,
    },
    OldestPending(Reply<Option<i64>>),
    FailWrites(bool),
    #[cfg(test)]
    Run(Box<dyn FnOnce(&mut Spool) + Send>),
    Close(Reply<SpoolStats>),
}

/// A cheap, cloneable way to the spool's owner thread. The thread saves the ack cursor and
/// ends when [`SpoolHandle::close`] is called or the last handle is dropped.
#[derive(Clone)]
pub struct SpoolHandle {
    tx: mpsc::Sender<Command>,
    stats: watch::Receiver<SpoolStats>,
    appended: Arc<Notify>,
    acks: Arc<Mutex<AckQueue>>,
    dir: Arc<PathBuf>,
}

/// Acknowledged record ids not yet recorded.
#[derive(Default)]
struct AckQueue {
    ids: Vec<u64>,
    /// The owner sleeps until a request comes (it found the queue empty): the next
    /// acknowledgement must wake it.
    owner_asleep: bool,
}

fn lock_acks(acks: &Mutex<AckQueue>) -> std::sync::MutexGuard<'_, AckQueue> {
    acks.lock().unwrap_or_else(|p| p.into_inner())
}

impl SpoolHandle {
    /// Opens the spool in `config.dir` and starts its owner thread.
    pub fn open(config: SpoolConfig) -> Result<Self, SpoolError> {
        Self::spawn(Spool::open(config)?)
    }

    /// Starts the owner thread of an open spool.
    pub fn spawn(spool: Spool) -> Result<Self, SpoolError> {
        let dir = Arc::new(spool.dir().to_owned());
        let (tx, rx) = mpsc::channel();
        let (stats_tx, stats) = watch::channel(spool.stats());
        let appended = Arc::new(Notify::new());
        let acks = Arc::default();
        let owner = Owner {
            spool,
            stats: stats_tx,
            appended: appended.clone(),
            acks: Arc::clone(&acks),
            taken: Vec::new(),
            ack_failing: false,
        };
        std::thread::Builder::new()
            .name("kw-spool".into())
            .spawn(move || owner.run(&rx))
            .map_err(ctx(&dir))?;
        Ok(SpoolHandle {
            tx,
            stats,
            appended,
            acks,
            dir,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The counters as of the last request served.
    pub fn stats(&self) -> SpoolStats {
        *self.stats.borrow()
    }

    /// Numbers and appends `polls` (durable when the reply comes, with `fsync`). The reply
    /// gives the polls back either way; it only fails if the owner thread died mid-request.
    pub fn append(&self, polls: Vec<DevicePoll>) -> oneshot::Receiver<Appended> {
        let (reply, rx) = oneshot::channel();
        if let Err(mpsc::SendError(Command::Append(polls, reply))) =
            self.tx.send(Command::Append(polls, reply))
        {
            let _ = reply.send((Err(SpoolError::stopped(&self.dir)), polls));
        }
        rx
    }

    /// The counters, to wait on a change (tests).
    #[cfg(test)]
    pub fn subscribe_stats_for_test(&self) -> watch::Receiver<SpoolStats> {
        self.stats.clone()
    }

    /// Resolves after an append that worked (or at once if one happened since the last wait).
    pub async fn appended(&self) {
        self.appended.notified().await;
    }

    /// Up to `max` records to publish, oldest first; empty when all is handed out.
    pub async fn next_batch(&self, max: usize) -> Result<Vec<Record>, SpoolError> {
        self.ask(|r| Command::Next(max, r)).await
    }

    /// The broker acknowledged record `id` (failures to record it are logged by the owner).
    pub fn ack(&self, id: u64) {
        let wake = {
            let mut queue = lock_acks(&self.acks);
            queue.ids.push(id);
            std::mem::take(&mut queue.owner_asleep)
        };
        // Otherwise the owner takes it with the next request or when its wait runs out.
        if wake {
            let _ = self.tx.send(Command::Acks);
        }
    }

    /// Hand out everything unacknowledged again, oldest first (after a reconnect).
    pub fn rewind(&self) {
        let _ = self.tx.send(Command::Rewind);
    }

    pub async fn save_cursor(&self) -> Result<(), SpoolError> {
        self.ask(Command::SaveCursor).await
    }

    /// See [`Spool::replay`].
    pub async fn replay(
        &self,
        device: &str,
        from_seq: u64,
        to_seq: u64,
        max: usize,
    ) -> Result<Replayed, SpoolError> {
        let device = device.to_owned();
        self.ask(|reply| Command::Replay {
            device,
            from_seq,
            to_seq,
            max,
            reply,
        })
        .await
    }

    /// Poll time (ms since the epoch) of the oldest unacknowledged reading.
    pub async fn oldest_pending_ms(&self) -> Result<Option<i64>, SpoolError> {
        self.ask(Command::OldestPending).await
    }

    #[doc(hidden)]
    pub fn fail_writes_for_test(&self, fail: bool) {
        let _ = self.tx.send(Command::FailWrites(fail));
    }

    /// Runs `f` on the owner thread (tests that need it busy).
    #[cfg(test)]
    pub fn run_for_test(&self, f: impl FnOnce(&mut Spool) + Send + 'static) {
        let _ = self.tx.send(Command::Run(Box::new(f)));
    }

    /// Saves the ack cursor and stops the owner thread (requests from other handles fail
    /// from then on); returns the final counters.
    pub async fn close(self) -> Result<SpoolStats, SpoolError> {
        self.ask(Command::Close).await
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, SpoolError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(command(reply))
            .map_err(|_| SpoolError::stopped(&self.dir))?;
        rx.await.map_err(|_| SpoolError::stopped(&self.dir))?
    }
}

/// The owner thread's state.
struct Owner {
    spool: Spool,
    stats: watch::Sender<SpoolStats>,
    appended: Arc<Notify>,
    acks: Arc<Mutex<AckQueue>>,
    /// The last queue taken (empty between takes; kept for its capacity).
    taken: Vec<u64>,
    /// Acknowledgements cannot be recorded (said once per episode: on a full disk every ack
    /// would fail the same way).
    ack_failing: bool,
}

impl Owner {
    fn run(mut self, rx: &mpsc::Receiver<Command>) {
        loop {
            // Decided under the queue's lock, so an acknowledgement queued after it either
            // finds the owner asleep (and wakes it) or is taken when the wait runs out.
            let acks_queued = {
                let mut queue = lock_acks(&self.acks);
                queue.owner_asleep = queue.ids.is_empty();
                !queue.owner_asleep
            };
            let received = if acks_queued {
                rx.recv_timeout(ACK_GATHER)
            } else {
                rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
            };
            let command = match received {
                // Woken by the first of a burst: let the rest of it gather.
                Ok(Command::Acks) => continue,
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => Command::Acks,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            // The spool stays consistent per call: a bug in one request must not take the
            // spool from every other task (the dropped reply tells its caller).
            match catch_unwind(AssertUnwindSafe(|| self.serve(command))) {
                Ok(true) => {}
                Ok(false) => return,
                Err(_) => tracing::error!("spool: a request failed unexpectedly; serving the next"),
            }
        }
        // Every handle is gone.
        self.take_acks();
        if let Err(e) = self.spool.save_cursor() {
            tracing::error!("{e}");
        }
    }

    /// Serves one request; false once the spool is closed.
    fn serve(&mut self, command: Command) -> bool {
        self.take_acks();
        match command {
            Command::Append(mut polls, reply) => {
                let r = self.spool.append(&mut polls);
                if r.is_ok() {
                    self.appended.notify_one();
                }
                self.publish_stats();
                let _ = reply.send((r, polls));
            }
            Command::Next(max, reply) => {
                let r = self.spool.next_batch(max);
                self.publish_stats();
                let _ = reply.send(r);
            }
            Command::Acks => self.publish_stats(),
            Command::Rewind => self.spool.rewind(),
            Command::SaveCursor(reply) => {
                self.publish_stats();
                let _ = reply.send(self.spool.save_cursor());
            }
            Command::Replay {
                device,
                from_seq,
                to_seq,
                max,
                reply,
            } => {
                let _ = reply.send(self.spool.replay(&device, from_seq, to_seq, max));
            }
            Command::OldestPending(reply) => {
                let _ = reply.send(self.spool.oldest_pending_ms());
            }
            Command::FailWrites(fail) => self.spool.fail_writes_for_test(fail),
            #[cfg(test)]
            Command::Run(f) => f(&mut self.spool),
            Command::Close(reply) => {
                let saved = self.spool.save_cursor().map(|()| self.spool.stats());
                let _ = reply.send(saved);
                return false;
            }
        }
        true
    }

    /// Records every queued acknowledgement.
    fn take_acks(&mut self) {
        // Swapped with a kept buffer so neither side allocates per burst.
        std::mem::swap(&mut lock_acks(&self.acks).ids, &mut self.taken);
        if self.taken.is_empty() {
            return;
        }
        let result = self.spool.ack_all(self.taken.drain(..));
        match result {
            Err(e) if !self.ack_failing => {
                self.ack_failing = true;
                tracing::warn!("spool: cannot record acknowledgements: {e}; the readings may be sent again after a restart");
            }
            Err(e) => tracing::debug!("spool: {e}"),
            Ok(()) if self.ack_failing => {
                self.ack_failing = false;
                tracing::info!("spool: acknowledgements recorded again");
            }
            Ok(()) => {}
        }
    }

    fn publish_stats(&self) {
        let now = self.spool.stats();
        self.stats.send_if_modified(|s| {
            let changed = *s != now;
            *s = now;
            changed
        });
    }
}
