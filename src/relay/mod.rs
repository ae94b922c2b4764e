//! In-turn failover (`[failover] in_turn = true`): a loopback relay between
//! one codex and the ChatGPT backend. codex is started with its model
//! provider's base URL (`openai_base_url`) pointing here; every request is
//! forwarded unchanged to the same path under `<[usage] base_url>/codex`
//! (where codex sends model turns under a ChatGPT login) and the answer
//! streamed back as it arrives. A model turn refused with 429 `usage_limit_reached`
//! is re-sent with the next eligible account's credentials before codex
//! sees anything, and the rest of the run stays there. The rate-limit
//! headers of every turn update the usage cache of the account it went out
//! on.
//!
//! Safe: bound to 127.0.0.1 on an ephemeral port; every path starts with a
//! random secret (anything else gets 404); only requests that carry the
//! launched account's own token are ever re-credentialed; no header value,
//! token or body is logged. The relay never writes auth.json and never
//! calls the token endpoint: an expired token is refreshed by codex in its
//! own home (see `reroute`).
//!
//! Why only `openai_base_url`: under a ChatGPT login codex sends its model
//! turns to the model provider (default `https://chatgpt.com/backend-api/codex`),
//! never through `chatgpt_base_url`, which only carries usage, workspace and
//! plugin calls. And why the relay's URL is `http://127.0.0.1:PORT/SECRET`
//! with no `/backend-api/codex` in it: codex 0.169.0 treats a provider URL
//! that looks like the ChatGPT backend as subject to workspace routing,
//! which demands an https origin ("workspace backend must use an HTTPS
//! origin without credentials"); a plain provider URL is used as given.
//!
//! Hostile callers: any local process can see the port and connect.
//! Before the secret is checked it can make the relay read at most 4 KiB
//! and hold a connection for at most 10 s, among at most 64 such
//! connections (a new one pushes the oldest out); see `gate` and `http`
//! for every bound, and SECURITY.md for the promises and their tests.
//!
//! A panic in one connection ends that connection, never swop (codex's
//! parent): connections run under `catch_unwind`, so swop must be built to
//! unwind. A build with `panic = "abort"` would turn a bug triggered by any
//! local process into the death of every running codex's relay and of
//! swop's supervision of codex, so it is refused below at compile time.
//!
//! Sits above usage/ and accounts/ (cache, auth.json), below launch/, which
//! hands it the selection as a closure.

#[cfg(panic = "abort")]
compile_error!(
    "swop must be built with panic = \"unwind\": the in-turn relay contains a panic in one \
     connection with catch_unwind (see src/relay/mod.rs)"
);

mod forward;
mod gate;
mod http;
mod notices;
mod reroute;
mod server;

pub use notices::When;
pub use reroute::{Accounts, ChooseNext};

use std::ffi::OsString;
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A running relay; dropping it stops accepting connections.
pub struct Relay {
    port: u16,
    shared: Arc<server::Shared>,
}

/// 128 random bits as hex, from the kernel.
fn random_secret() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Starts the relay for one codex run on `accounts.launched`; `when`: when
/// its lines (a failover, a failed move) reach stderr.
pub fn start(accounts: Accounts, when: When) -> Result<Relay, String> {
    let base_url = accounts.cfg.usage.base_url.clone();
    let origin =
        forward::origin_of(&base_url).ok_or_else(|| format!("'{base_url}' has no host"))?;
    let model_base = format!("{origin}{}/codex", forward::path_of(&base_url));
    let secret = random_secret().map_err(|e| format!("no random secret ({})", e.kind()))?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot listen on 127.0.0.1 ({})", e.kind()))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("no local address ({})", e.kind()))?
        .port();
    let shared = Arc::new(server::Shared {
        secret,
        upstream: forward::Upstream::new(model_base),
        route: reroute::Route::new(accounts, notices::Notices::new(when)),
        stop: Default::default(),
        gate: Default::default(),
    });
    let s = shared.clone();
    std::thread::Builder::new()
        .name("swop-relay".into())
        .spawn(move || server::accept_loop(listener, s))
        .map_err(|e| format!("cannot start a thread ({})", e.kind()))?;
    Ok(Relay { port, shared })
}

impl Relay {
    /// The `-c` pair that sends codex's model turns here:
    /// `openai_base_url="http://127.0.0.1:PORT/SECRET"`.
    pub fn codex_overrides(&self) -> [OsString; 2] {
        let url = format!("http://127.0.0.1:{}/{}", self.port, self.shared.secret);
        ["-c".into(), format!("openai_base_url=\"{url}\"").into()]
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so that the loop sees the flag. Requests
        // still being answered finish on their own threads (codex is gone,
        // so their writes fail at once).
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        // codex has exited (the relay lives exactly as long as it): what
        // was held back from its screen can be said now.
        self.shared.route.notices.flush();
    }
}
