//! The one integration-test binary: real servers on port 0, each with its
//! own database (SQLite, or PostgreSQL: see support/database.rs), real upstreams,
//! real HTTP.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic on purpose: a failed set-up is a failed test"
)]

mod auth;
mod browser;
mod cli;
mod database;
mod deploy;
mod events;
mod factors;
mod http;
mod multi;
mod oidc;
mod ops;
mod passkeys;
mod process;
mod proxy;
mod reload;
mod security;
mod sessions;
mod support;
mod tokens;
mod websockets;
