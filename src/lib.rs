//! portcullis: a session gateway between a single-page app and legacy HTTP
//! APIs.
//!
//! A request's path through the crate:
//!
//! - [`startup`] builds the server from a [`config::Config`] (HTTPS when
//!   configured, a separate metrics listener, graceful stop on signals)
//!   and runs the background [`jobs`];
//! - [`http::access_log`] wraps every request: its id, its [`metrics`] and
//!   its access-log line;
//! - [`http`] routes it by the gateway's [`http::prefixes`]: `/auth/*` to
//!   [`http::routes::auth`] (the caller's sessions and password to
//!   [`http::routes::sessions`], `/auth/admin/*` to
//!   [`http::routes::admin`]), `/api/*` to [`http::routes::api`], the
//!   operator's routes to [`http::routes::health`], `/openapi.json` to
//!   [`http::openapi`], everything else to the SPA ([`http::spa`]);
//!   [`http::limits`] bounds slow clients; [`http::extract`] decides who
//!   may call what; [`http::error`] gives every failure the contract's
//!   JSON shape;
//! - a handler parses, calls one service and answers. The services,
//!   assembled once in [`services`] and shared with the CLI: the
//!   [`login`] flow (throttle, hashing pool, metrics, event, and the one
//!   step that opens a session), the [`sessions`] service (refresh, and
//!   the one place sessions end, with their [`sessions::EndReason`]), the
//!   [`accounts`] use cases, signing in with an OpenID Provider
//!   ([`oidc`]); each says what happened as one security [`events`]
//!   record;
//! - the domain below knows no HTTP: passwords, the hashing pool, access
//!   tokens, refresh tokens and the revocation list in [`auth`]; the
//!   refresh-token ledger, users and the login throttle, on SQLite or
//!   PostgreSQL, in [`db`]; the upstream URL, header rules, path checks and
//!   role policy in [`proxy`]; who a client is by address in
//!   [`client_addr`];
//! - [`demo`] is the bundled employee service and `portcullis demo`;
//! - [`cli`] is the command line; [`config`] turns flags into a checked
//!   [`config::Config`]; [`logging`] writes log lines as text or JSON;
//!   [`clock`] is the only reader of the wall clock.
//!
//! Imports point one way: `cli`/`demo` → `startup` → `http` → `config`,
//! `jobs` → `services` → `accounts` → `login` → `sessions` → `events`,
//! `metrics` → `auth`, `db`, `proxy`, `client_addr` → `clock`, `logging`.

pub mod accounts;
pub mod auth;
pub mod cli;
pub(crate) mod client_addr;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod events;
pub mod factors;
pub(crate) mod files;
pub(crate) mod http;
pub(crate) mod jobs;
pub mod logging;
pub mod login;
pub(crate) mod metrics;
pub mod oidc;
pub(crate) mod proxy;
pub mod services;
pub mod sessions;
pub mod startup;
