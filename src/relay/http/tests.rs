//! Tests of the relay's request framing: the cases by hand (the chunk
//! size that once aborted swop among them), then property tests that feed
//! arbitrary bytes and arbitrary declared sizes and check that nothing panics, that nothing
//! past a bound is read before the path is checked, and that the memory a
//! request takes stays under its bounds (measured by a counting allocator,
//! per thread, in this test binary only).

use super::*;
use proptest::prelude::*;
use std::io::Cursor;

/// The bytes a reader handed out.
struct Counted<R> {
    inner: R,
    read: usize,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n;
        Ok(n)
    }
}

fn counted(raw: &[u8]) -> Wire<Counted<Cursor<Vec<u8>>>> {
    Wire::new(Counted {
        inner: Cursor::new(raw.to_vec()),
        read: 0,
    })
}

/// Admits targets that start with `/s`, as the relay admits its secret.
fn secret<R>(_: &mut R, line: &Line) -> Result<(), Refusal> {
    if line.target.starts_with("/s") {
        Ok(())
    } else {
        Err(Refusal::Status(404, "not found"))
    }
}

fn parse_with(raw: &[u8], limits: &Limits) -> Result<Request, Refusal> {
    read_request(&mut counted(raw), limits, &Budget::new(1 << 30), secret)
}

fn parse(raw: &[u8]) -> Result<Request, Refusal> {
    parse_with(raw, &LIMITS)
}

fn status(r: Result<Request, Refusal>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(Refusal::Status(s, _)) => s,
        Err(Refusal::Gone) => 0,
    }
}

#[test]
fn reads_head_and_length_body() {
    let r = parse(b"POST /s/v1/responses HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nAuthorization: Bearer t\r\n\r\nabcextra").unwrap();
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/s/v1/responses");
    assert_eq!(r.header("authorization"), Some("Bearer t"));
    assert_eq!(r.body, b"abc");
}

#[test]
fn reads_chunked_body_with_extensions_and_trailers() {
    let r = parse(b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX-T: 1\r\n\r\n").unwrap();
    assert_eq!(r.body, b"abcde");
    let r = parse(b"GET /s?x=1 HTTP/1.1\r\n\r\n").unwrap();
    assert!(r.body.is_empty());
    assert_eq!(r.target, "/s?x=1");
}

#[test]
fn refuses_bad_input_with_the_right_status() {
    let cases: &[(&[u8], u16)] = &[
        (b"", 0),
        (b"GET\r\n\r\n", 400),
        (b"GET /s HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"POST /s HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
        (b"POST /s HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc", 400),
        (
            b"POST /s HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            400,
        ),
        (b"POST /s HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", 0),
        (
            b"POST /s HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            400,
        ),
        (
            b"POST /s HTTP/1.1\r\nContent-Length: 268435457\r\n\r\n",
            413,
        ),
        (
            b"POST /s HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501,
        ),
        (
            b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
            400,
        ),
        (
            b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
        ),
        (
            b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nAB\r\n",
            400,
        ),
        (
            b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\nA\r\n0\r\n\r\n",
            400,
        ),
        (b"GET /elsewhere HTTP/1.1\r\n\r\n", 404),
    ];
    for (raw, want) in cases {
        assert_eq!(
            status(parse(raw)),
            *want,
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
    let huge = format!("GET /s HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(LIMITS.head));
    assert_eq!(status(parse(huge.as_bytes())), 431);
    let long = format!("GET /s{} HTTP/1.1\r\n\r\n", "a".repeat(LIMITS.line));
    assert_eq!(status(parse(long.as_bytes())), 414);
    let many: String = (0..200).map(|i| format!("X-{i}: v\r\n")).collect();
    let many = format!("GET /s HTTP/1.1\r\n{many}\r\n");
    assert_eq!(status(parse(many.as_bytes())), 431);
}

/// This request aborted swop (`body.len() + size`
/// wrapped, then a slice index panicked, and `panic = "abort"` ended the
/// process). Without the secret it is refused at its request line; with
/// it, the size is refused as too large, without a panic.
#[test]
fn the_chunk_size_that_aborted_swop_is_refused() {
    let tail = b" HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\nffffffffffffffff\r\n";
    let wrong = [&b"POST /nosecret"[..], tail].concat();
    assert_eq!(status(parse(&wrong)), 404);
    let right = [&b"POST /s"[..], tail].concat();
    assert_eq!(status(parse(&right)), 413);
    let max_len =
        [&b"POST /s HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n"[..]].concat();
    assert_eq!(status(parse(&max_len)), 413);
}

/// A reader of a head, then zeros for ever (a 1 GiB declared body).
struct Endless {
    head: Cursor<Vec<u8>>,
    read: usize,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.head.read(buf)? {
            0 => {
                buf.fill(0);
                buf.len()
            }
            n => n,
        };
        self.read += n;
        Ok(n)
    }
}

#[test]
fn a_wrong_path_is_refused_having_read_at_most_the_line_bound() {
    let head = b"POST /nosecret HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n".to_vec();
    let mut wire = Wire::new(Endless {
        head: Cursor::new(head),
        read: 0,
    });
    let r = read_request(&mut wire, &LIMITS, &Budget::new(1 << 30), secret);
    assert_eq!(status(r), 404);
    assert!(
        wire.inner_mut().read <= LIMITS.line,
        "{}",
        wire.inner_mut().read
    );
}

#[test]
fn bodies_share_the_budget_and_give_it_back() {
    let budget = Budget::new(10);
    let req = |n: usize| {
        let raw = format!(
            "POST /s HTTP/1.1\r\nContent-Length: {n}\r\n\r\n{}",
            "x".repeat(n)
        );
        read_request(&mut counted(raw.as_bytes()), &LIMITS, &budget, secret)
    };
    let a = req(6).unwrap();
    assert_eq!(status(req(6)), 503, "only 4 bytes left");
    let b = req(4).unwrap();
    assert_eq!(budget.left(), 0);
    drop((a, b));
    assert_eq!(budget.left(), 10);
    // A chunked body takes its share as it grows, and gives it back too.
    let chunked = b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n";
    let r = read_request(&mut counted(chunked), &LIMITS, &budget, secret);
    assert_eq!(status(r), 200);
    assert_eq!(budget.left(), 10);
    let r = read_request(&mut counted(chunked), &LIMITS, &Budget::new(5), secret);
    assert_eq!(status(r), 503);
}

#[test]
fn head_end_finds_both_line_endings() {
    assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nbody", 0), Some(18));
    assert_eq!(head_end(b"GET / HTTP/1.1\n\nbody", 0), Some(16));
    assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n", 0), None);
    assert_eq!(head_end(b"\r\n\r", 5), None);
}

#[test]
fn chunked_copy_frames_each_read_and_ends() {
    let mut out = Vec::new();
    copy_body(&mut &b"hello"[..], &mut out, Framing::Chunked).unwrap();
    assert_eq!(out, b"5\r\nhello\r\n0\r\n\r\n");
}

#[test]
fn head_drops_hop_by_hop_headers() {
    let mut out = Vec::new();
    let h = [
        ("Content-Type".to_string(), "text/event-stream".to_string()),
        ("Transfer-Encoding".to_string(), "chunked".to_string()),
        ("Connection".to_string(), "keep-alive".to_string()),
    ];
    write_head(&mut out, 429, &h, Framing::Chunked).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{text}"
    );
    assert!(text.contains("Content-Type: text/event-stream\r\n"));
    assert_eq!(text.matches("chunked").count(), 1, "{text}");
    assert!(!text.contains("keep-alive"));
}

/// Heap bytes allocated and not freed by the current thread.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static LIVE: Cell<i64> = const { Cell::new(0) };
        static PEAK: Cell<i64> = const { Cell::new(0) };
    }

    fn add(n: i64) {
        let _ = LIVE.try_with(|l| {
            let v = l.get() + n;
            l.set(v);
            let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
        });
    }

    pub struct Counting;

    // SAFETY: every call goes straight to the system allocator; the
    // counters are plain thread-local cells with no destructor.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let p = unsafe { System.alloc(l) };
            if !p.is_null() {
                add(l.size() as i64);
            }
            p
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            let p = unsafe { System.alloc_zeroed(l) };
            if !p.is_null() {
                add(l.size() as i64);
            }
            p
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            unsafe { System.dealloc(p, l) };
            add(-(l.size() as i64));
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            let q = unsafe { System.realloc(p, l, new) };
            if !q.is_null() {
                add(new as i64 - l.size() as i64);
            }
            q
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    /// `f`'s result, and the most heap it held at once (bytes).
    pub fn peak<T>(f: impl FnOnce() -> T) -> (T, i64) {
        let base = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(base));
        let t = f();
        (t, PEAK.with(Cell::get) - base)
    }
}

const SMALL: Limits = Limits {
    line: 64,
    head: 512,
    body: 2048,
};

/// What one request may hold at most under `l`: the head buffer (which
/// may double while it grows, plus one read step), the parsed headers, the
/// line and the body.
fn memory_bound(l: &Limits) -> i64 {
    let head = 2 * l.head;
    let headers = MAX_HEADERS * 2 * std::mem::size_of::<String>() + l.head;
    (head + headers + 2 * l.line + l.body + 1024) as i64
}

fn declared_size() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..4096).prop_map(|n| format!("{n:x}")),
        any::<u64>().prop_map(|n| format!("{n:x}")),
        Just("ffffffffffffffff".to_string()),
        Just("10000000000000000".to_string()),
        "[0-9a-fA-F;= xg-]{0,20}",
    ]
}

/// A request that looks real, with sizes that may lie.
fn request() -> impl Strategy<Value = Vec<u8>> {
    let chunks = proptest::collection::vec(
        (
            declared_size(),
            proptest::collection::vec(any::<u8>(), 0..64),
        ),
        0..6,
    );
    (
        prop_oneof![Just("/s/v1/responses"), Just("/x"), Just("/s")],
        any::<bool>(),
        chunks,
        prop_oneof![any::<u64>().prop_map(|n| n.to_string()), Just("10".into())],
    )
        .prop_map(|(path, is_chunked, chunks, length)| {
            let mut raw = format!("POST {path} HTTP/1.1\r\nHost: h\r\n").into_bytes();
            if is_chunked {
                raw.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                for (size, data) in chunks {
                    raw.extend_from_slice(format!("{size}\r\n").as_bytes());
                    raw.extend_from_slice(&data);
                    raw.extend_from_slice(b"\r\n");
                }
                raw.extend_from_slice(b"0\r\n\r\n");
            } else {
                raw.extend_from_slice(format!("Content-Length: {length}\r\n\r\n").as_bytes());
                for (_, data) in chunks {
                    raw.extend_from_slice(&data);
                }
            }
            raw
        })
}

fn check(raw: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
    let budget = Budget::new(1 << 30);
    let mut wire = counted(raw);
    let (result, peak) = counting::peak(|| read_request(&mut wire, limits, &budget, secret));
    prop_assert!(
        peak <= memory_bound(limits),
        "held {peak} bytes, bound {}",
        memory_bound(limits)
    );
    match result {
        Ok(req) => {
            prop_assert!(req.body.len() <= limits.body);
            prop_assert!(req.target.starts_with("/s"));
        }
        Err(Refusal::Status(404, _)) => {
            prop_assert!(wire.inner_mut().read <= limits.line, "read past the line");
        }
        Err(_) => {}
    }
    // Every request's share is back once it is dropped.
    prop_assert_eq!(budget.left(), 1 << 30);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_nor_exceed_the_bounds(
        raw in proptest::collection::vec(any::<u8>(), 0..2048)
    ) {
        check(&raw, &SMALL)?;
        check(&raw, &LIMITS)?;
    }

    #[test]
    fn arbitrary_requests_never_panic_nor_exceed_the_bounds(raw in request()) {
        check(&raw, &SMALL)?;
        check(&raw, &LIMITS)?;
    }

    #[test]
    fn arbitrary_bytes_after_a_good_head_never_panic(
        chunked in any::<bool>(),
        tail in proptest::collection::vec(any::<u8>(), 0..1024)
    ) {
        let head: &[u8] = if chunked {
            b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        } else {
            b"POST /s HTTP/1.1\r\nContent-Length: 1000\r\n\r\n"
        };
        check(&[head, &tail].concat(), &SMALL)?;
    }

    /// A declared size past what is left of the bound is refused (413)
    /// when it is read, whatever its value (2^64 - 1 included), and
    /// honest sizes within it are read whole.
    #[test]
    fn a_size_past_the_bound_is_refused_before_its_bytes(
        sizes in proptest::collection::vec(
            prop_oneof![0u64..700, any::<u64>(), (u64::MAX - 4096)..=u64::MAX],
            1..6,
        ),
        chunked in any::<bool>(),
    ) {
        let mut raw = b"POST /s HTTP/1.1\r\n".to_vec();
        let data = |n: u64| if n <= 4096 { vec![b'x'; n as usize] } else { b"xyz".to_vec() };
        let mut want = Some(0u64);
        if chunked {
            raw.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            let mut total = 0u64;
            for &n in &sizes {
                raw.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                raw.extend_from_slice(&data(n));
                raw.extend_from_slice(b"\r\n");
                if want.is_some() && n > 0 {
                    if n > SMALL.body as u64 - total {
                        want = None;
                    } else {
                        total += n;
                        want = Some(total);
                    }
                }
                if n == 0 {
                    break;
                }
            }
            raw.extend_from_slice(b"0\r\n\r\n");
        } else {
            let n = sizes[0];
            raw.extend_from_slice(format!("Content-Length: {n}\r\n\r\n").as_bytes());
            raw.extend_from_slice(&data(n));
            want = (n <= SMALL.body as u64).then_some(n);
        }
        match (parse_with(&raw, &SMALL), want) {
            (Ok(req), Some(n)) => prop_assert_eq!(req.body.len() as u64, n),
            (Err(Refusal::Status(413, _)), None) => {}
            (got, want) => prop_assert!(false, "{:?} for {want:?}", got.map(|r| r.body.len())),
        }
    }

    /// Honest chunks within the bound decode to their bytes.
    #[test]
    fn chunked_bodies_decode_to_their_bytes(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..8)
    ) {
        let mut raw = b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for c in &chunks {
            raw.extend_from_slice(format!("{:X}\r\n", c.len()).as_bytes());
            raw.extend_from_slice(c);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"0\r\n\r\n");
        let want: Vec<u8> = chunks.concat();
        match parse_with(&raw, &SMALL) {
            Ok(req) => prop_assert_eq!(req.body, want),
            Err(Refusal::Status(413, _)) => prop_assert!(want.len() > SMALL.body),
            Err(e) => prop_assert!(false, "{e:?}"),
        }
    }
}
