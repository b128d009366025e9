//! Test support: what the suites share, one job per file. It holds no
//! test, and no suite writes again by hand what is here: suites
//! `use crate::support::*` (and `support::browser`, `support::raw` by name).
//!
//! - [`app`]: the gateway in-process on port 0 ([`TestApp`], `spawn_*`), the
//!   one place that builds a `Config` and an `Application`.
//! - [`database`]: each app's own database, SQLite or PostgreSQL.
//! - [`requests`]: requests by their contract names, in-process or at a URL.
//! - [`responses`]: what to read off a response, and the shared assertions.
//! - [`factors`]: second factors: an encryption key, `oathtool`'s codes,
//!   enrolment and the two steps of a login.
//! - [`events`]: security events stored and read, device-cookie logins.
//! - [`passkeys`]: a software WebAuthn authenticator with the knobs attacks
//!   need, gateways with a public URL, the ceremonies, stored passkeys.
//! - [`users`], [`ledger`]: rows written and read behind the gateway's
//!   back; the only doors to the library's account and schema functions.
//! - [`pki`]: a test CA, a certificate it renews, requests over TLS.
//! - [`upstream`]: upstreams to stand in front of (echo, employees, HTTPS).
//! - [`sockets`]: a WebSocket upstream (echo) and the client side of a
//!   socket through the gateway.
//! - [`binary`]: the real binary's commands, `serve` among them.
//! - [`process`]: the one harness for a child process.
//! - [`relay`]: a TCP relay that cuts or freezes a database connection.
//! - [`raw`]: HTTP/1.1 over a plain socket.
//! - [`browser`]: Chromium through chromedriver, and the SPA's vocabulary.
//!
//! `PORTCULLIS_TEST_LOG=1` shows what the gateways log, as zero2prod's
//! `TEST_LOG` does: an in-process gateway installs the gateway's own logger
//! (`RUST_LOG` filters, default `info`) and writes to stderr directly, so
//! run the one test you are debugging with `-- --nocapture`; a child
//! process's lines are echoed as they are read, into the output the test
//! harness shows for a failing test. Other switches: `PORTCULLIS_TEST_DATABASE`
//! and `PORTCULLIS_TEST_POSTGRES` (see [`database`]),
//! `PORTCULLIS_REQUIRE_POSTGRES=1`, `PORTCULLIS_REQUIRE_BROWSER=1` and
//! `PORTCULLIS_REQUIRE_NGINX=1` (a missing one fails instead of skipping).

pub mod app;
pub mod binary;
pub mod browser;
pub mod database;
pub mod events;
pub mod factors;
pub mod ledger;
pub mod oidc;
pub mod passkeys;
pub mod pki;
pub mod process;
pub mod raw;
pub mod relay;
pub mod requests;
pub mod responses;
pub mod sockets;
pub mod upstream;
pub mod users;

pub use app::*;
pub use binary::*;
pub use database::*;
pub use events::*;
pub use factors::*;
pub use ledger::*;
pub use oidc::*;
pub use passkeys::*;
pub use pki::*;
pub use process::*;
pub use relay::*;
pub use requests::*;
pub use responses::*;
pub use sockets::*;
pub use upstream::*;
pub use users::*;

pub const SECRET: &str = "integration-test-secret-of-enough-bytes";
pub const COOKIE: &str = "portcullis_refresh";
pub const PASSWORD: &str = "correct horse battery";

/// An upstream address nothing listens on, for gateways whose tests never
/// reach the upstream.
pub const NO_UPSTREAM: &str = "http://127.0.0.1:9";

/// Whether `PORTCULLIS_TEST_LOG` asks for the gateways' logs (set, not
/// empty, not `0`).
pub fn test_log() -> bool {
    std::env::var_os("PORTCULLIS_TEST_LOG").is_some_and(|v| !v.is_empty() && v != "0")
}
