//! How many connections the relay holds, and for how long: the bounds that
//! keep any local process (which can see the relay's port, and may know no
//! secret) from exhausting swop's threads, descriptors or memory.
//!
//! - A connection that has not yet shown the path secret is *waiting*: at
//!   most [`WAITING_MAX`] at once, and never more than an eighth of swop's
//!   descriptor limit (`RLIMIT_NOFILE`, read at each connection). A new one
//!   pushes the oldest out (its socket is shut down), so idle connections
//!   cannot lock codex out: codex sends its request line at once and is
//!   past the gate in microseconds.
//! - A connection past the gate is *serving*: at most [`SERVING_MAX`] at
//!   once (codex uses a handful); one more gets 503.
//! - Request bodies share one [`BODY_BUDGET`] (see `http::Budget`).
//! - A failing `accept` (EMFILE and the like) pushes the oldest *silent*
//!   waiting connection out, or else backs off, from 5 ms doubling to 1 s,
//!   instead of spinning. Silent: [`SPEAK_WITHIN`] has passed since it was
//!   accepted and nothing has come in on it, read or buffered. A connection
//!   whose request is arriving (codex sends at once) is never the one freed
//!   for the next: at the descriptor limit that would close every new
//!   connection as soon as it was accepted. A full waiting room, too,
//!   pushes out the connections that have said least first.
//!
//! Never reads or writes a connection: it only counts, evicts and waits.

use std::collections::VecDeque;
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Connections that have not shown the secret yet.
pub const WAITING_MAX: usize = 64;
/// Connections past the secret, being read or answered.
pub const SERVING_MAX: usize = 32;
/// Request bodies held at once, all connections together: room for one
/// body at the bound (`http::LIMITS.body`, 256 MiB) and 64 MiB of others.
pub const BODY_BUDGET: usize = 320 << 20;

/// The time a new connection has to send its first bytes before a failing
/// `accept` may free its descriptor (codex writes its request as soon as it
/// has connected).
pub const SPEAK_WITHIN: Duration = Duration::from_millis(100);
/// The time a connection has to send its request line (it is evicted
/// earlier when newer ones arrive and the waiting room is full).
pub const LINE_WITHIN: Duration = Duration::from_secs(10);
/// The time a connection past the secret has to send its whole request.
pub const REQUEST_WITHIN: Duration = Duration::from_secs(300);
/// The longest one read or write on a connection may wait.
pub const IDLE: Duration = Duration::from_secs(60);

/// A connection in the waiting room.
struct Waiter {
    id: u64,
    stream: Arc<TcpStream>,
    since: Instant,
    /// Bytes have been read from it.
    heard: bool,
}

/// How much a waiting connection has shown of being a real request, least
/// first: the order in which a full room pushes connections out.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Said {
    /// It has had [`SPEAK_WITHIN`] and nothing has come in on it.
    Silent,
    /// Nothing yet, but it is newer than that.
    NotYet,
    /// Bytes have come in (read, or waiting to be read).
    Spoke,
}

impl Waiter {
    fn said(&self, now: Instant) -> Said {
        if self.heard || buffered(&self.stream) > 0 {
            Said::Spoke
        } else if now.saturating_duration_since(self.since) >= SPEAK_WITHIN {
            Said::Silent
        } else {
            Said::NotYet
        }
    }

    fn push_out(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// The bytes received on `stream` and not read yet (0 when that cannot be
/// told).
fn buffered(stream: &TcpStream) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to the pointer it is given; the
    // descriptor is open for as long as `stream` is.
    let ok = unsafe { libc::ioctl(stream.as_raw_fd(), libc::FIONREAD, &mut n) } == 0;
    if ok {
        usize::try_from(n).unwrap_or(0)
    } else {
        0
    }
}

pub struct Gate {
    waiting: Mutex<VecDeque<Waiter>>,
    next_id: AtomicU64,
    serving: AtomicUsize,
    pub budget: Arc<super::http::Budget>,
}

impl Default for Gate {
    fn default() -> Gate {
        Gate {
            waiting: Mutex::default(),
            next_id: AtomicU64::new(0),
            serving: AtomicUsize::new(0),
            budget: super::http::Budget::new(BODY_BUDGET),
        }
    }
}

/// A waiting connection's place; dropping it leaves the waiting room.
pub struct Waiting<'a> {
    gate: &'a Gate,
    id: u64,
    heard: bool,
}

impl Waiting<'_> {
    /// Bytes came in on this connection: its request is under way, so a
    /// failing `accept` no longer frees its descriptor (a full room still
    /// can).
    pub fn heard(&mut self) {
        if self.heard {
            return;
        }
        self.heard = true;
        if let Some(w) = self.gate.lock().iter_mut().find(|w| w.id == self.id) {
            w.heard = true;
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.gate.lock().retain(|w| w.id != self.id);
    }
}

/// A serving connection's slot; dropping it frees the slot.
pub struct Serving<'a> {
    gate: &'a Gate,
}

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        self.gate.serving.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Waiter>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts a new connection in the waiting room, pushing others out
    /// while it is full: the one that has said least, oldest first (so a
    /// connection whose request is arriving goes last); its id, for
    /// [`Gate::waiting`].
    pub fn admit(&self, stream: Arc<TcpStream>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let max = waiting_max();
        let mut q = self.lock();
        while q.len() >= max {
            let now = Instant::now();
            // min_by_key keeps the first (oldest) of equals.
            let at = (0..q.len()).min_by_key(|&i| q[i].said(now)).unwrap_or(0);
            match q.remove(at) {
                Some(old) => old.push_out(),
                None => break,
            }
        }
        q.push_back(Waiter {
            id,
            stream,
            since: Instant::now(),
            heard: false,
        });
        id
    }

    /// The guard of an admitted connection's place.
    pub fn waiting(&self, id: u64) -> Waiting<'_> {
        Waiting {
            gate: self,
            id,
            heard: false,
        }
    }

    /// Shuts the oldest silent waiting connection down (to free its
    /// descriptor); false when none is silent.
    pub fn evict_silent(&self) -> bool {
        let mut q = self.lock();
        let now = Instant::now();
        let silent = q
            .iter()
            .position(|w| w.said(now) == Said::Silent)
            .and_then(|at| q.remove(at));
        drop(q);
        match silent {
            Some(w) => {
                w.push_out();
                true
            }
            None => false,
        }
    }

    /// A serving slot, or None when all are taken.
    pub fn serve(&self) -> Option<Serving<'_>> {
        let before = self.serving.fetch_add(1, Ordering::SeqCst);
        if before >= SERVING_MAX {
            self.serving.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Serving { gate: self })
    }

    #[cfg(test)]
    pub fn counts(&self) -> (usize, usize) {
        (self.lock().len(), self.serving.load(Ordering::SeqCst))
    }
}

/// [`WAITING_MAX`], or an eighth of the descriptor limit when that is less
/// (at least one).
fn waiting_max() -> usize {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0;
    if !ok || r.rlim_cur == libc::RLIM_INFINITY {
        return WAITING_MAX;
    }
    usize::try_from(r.rlim_cur / 8)
        .unwrap_or(WAITING_MAX)
        .clamp(1, WAITING_MAX)
}

/// The pause after a failed `accept`: 5 ms, doubling to 1 s; reset by a
/// success.
#[derive(Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn next(&mut self) -> Duration {
        let d = Duration::from_millis(5u64 << self.failures.min(8)).min(Duration::from_secs(1));
        self.failures = self.failures.saturating_add(1);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{Ipv4Addr, TcpListener};

    fn pair(l: &TcpListener) -> (TcpStream, Arc<TcpStream>) {
        let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        (client, Arc::new(server))
    }

    #[test]
    fn a_full_waiting_room_pushes_the_oldest_out() {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let gate = Gate::default();
        let mut clients = Vec::new();
        let mut guards = Vec::new();
        for _ in 0..WAITING_MAX + 3 {
            let (c, s) = pair(&l);
            let id = gate.admit(s);
            clients.push(c);
            guards.push(gate.waiting(id));
        }
        assert_eq!(gate.counts().0, WAITING_MAX);
        // The three oldest were shut down: their clients read EOF.
        for c in &mut clients[..3] {
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            assert_eq!(c.read(&mut [0u8; 1]).unwrap(), 0);
        }
        drop(guards);
        assert_eq!(gate.counts().0, 0, "every guard left the room");
        assert!(!gate.evict_silent());
    }

    /// True when the gate shut the other end down (the read sees EOF);
    /// false when it is still open (the read times out).
    fn eof(c: &mut TcpStream) -> bool {
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        matches!(c.read(&mut [0u8; 1]), Ok(0))
    }

    #[test]
    fn a_failing_accept_frees_only_silent_connections() {
        use std::io::Write;
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let gate = Gate::default();
        // Oldest first: one whose request has arrived but is not read yet,
        // one already heard from, one silent.
        let (mut sent, s) = pair(&l);
        sent.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        let _sent_guard = gate.waiting(gate.admit(s.clone()));
        let end = Instant::now() + Duration::from_secs(5);
        while buffered(&s) == 0 {
            assert!(Instant::now() < end, "the bytes never arrived");
            std::thread::sleep(Duration::from_millis(5));
        }
        let (mut heard, s) = pair(&l);
        let mut heard_guard = gate.waiting(gate.admit(s));
        heard_guard.heard();
        let (mut silent, s) = pair(&l);
        let _silent_guard = gate.waiting(gate.admit(s));
        assert!(!gate.evict_silent(), "a new connection has time to speak");

        std::thread::sleep(SPEAK_WITHIN);
        assert!(gate.evict_silent());
        assert!(eof(&mut silent), "the silent one is pushed out");
        assert!(!gate.evict_silent(), "nothing else is silent");
        assert!(!eof(&mut sent) && !eof(&mut heard));
        assert_eq!(gate.counts().0, 2);
    }

    #[test]
    fn a_full_room_pushes_silent_connections_out_before_speaking_ones() {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let gate = Gate::default();
        let (mut first, s) = pair(&l);
        let mut first_guard = gate.waiting(gate.admit(s));
        first_guard.heard();
        let mut rest = Vec::new();
        for _ in 0..WAITING_MAX - 1 {
            let (c, s) = pair(&l);
            rest.push((c, gate.waiting(gate.admit(s))));
        }
        std::thread::sleep(SPEAK_WITHIN);
        let (c, s) = pair(&l);
        rest.push((c, gate.waiting(gate.admit(s))));
        // The oldest spoke: the second oldest, silent, made room.
        assert!(!eof(&mut first));
        assert!(eof(&mut rest[0].0));
        assert_eq!(gate.counts().0, WAITING_MAX);
        // With nobody silent, the oldest of the newest (nothing said yet)
        // makes room, never the one that spoke.
        let mut newer = Vec::new();
        for _ in 0..WAITING_MAX {
            let (c, s) = pair(&l);
            newer.push((c, gate.waiting(gate.admit(s))));
        }
        assert!(!eof(&mut first), "the one that spoke stays");
        assert_eq!(gate.counts().0, WAITING_MAX);
    }

    #[test]
    fn serving_slots_are_bounded_and_given_back() {
        let gate = Gate::default();
        let slots: Vec<_> = (0..SERVING_MAX).map(|_| gate.serve().unwrap()).collect();
        assert!(gate.serve().is_none());
        drop(slots);
        assert_eq!(gate.counts().1, 0);
        assert!(gate.serve().is_some());
    }

    #[test]
    fn backoff_doubles_to_a_second_and_resets() {
        let mut b = Backoff::default();
        let seq: Vec<u64> = (0..10).map(|_| b.next().as_millis() as u64).collect();
        assert_eq!(seq, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.reset();
        assert_eq!(b.next(), Duration::from_millis(5));
    }
}
