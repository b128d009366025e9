//! portcullis: a session gateway between a single-page app and legacy HTTP
//! APIs.
//!
//! A request's path through the crate:
//!
//! - [`startup`] builds the server from a [`config::Config`] (HTTPS when
//!   configured, a separate metrics listener, graceful stop on signals);
//! - [`http::access`] wraps every request: its id, its metrics
//!   ([`http::metrics`], also `GET /metrics`) and its access-log line;
//! - [`http`] routes it: `/auth/*` to [`http::routes::auth`] (the caller's
//!   sessions and password to [`http::routes::sessions`], `/auth/admin/*`
//!   to [`http::routes::admin`]), `/api/*` to [`http::routes::api`],
//!   `/openapi.json` to [`http::openapi`], everything else to the SPA
//!   ([`http::spa`]); [`http::limits`] bounds slow clients;
//!   [`http::extract`] decides who may call what;
//!   [`http::error`] gives every failure the contract's JSON shape;
//! - account use cases (register, login, new password, disable, roles,
//!   ending sessions) are [`accounts`] operations, one transaction each,
//!   shared with the CLI;
//! - the domain below knows no HTTP: passwords, access tokens, refresh
//!   tokens and the revocation list in [`auth`]; the refresh-token ledger,
//!   users and the login throttle, on SQLite or PostgreSQL, in [`db`]; the
//!   upstream URL, header rules, path checks and role policy in [`proxy`];
//! - [`demo`] is the bundled employee service and `portcullis demo`;
//! - [`cli`] is the command line; [`config`] turns flags into a checked
//!   [`config::Config`]; [`logging`] writes log lines as text or JSON;
//!   [`clock`] is the only reader of the wall clock.
//!
//! Imports point one way: `cli`/`demo` → `startup` → `http` → `accounts`
//! → `auth`, `db`, `proxy` → `clock`.

pub mod accounts;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod files;
pub mod http;
pub mod logging;
pub mod proxy;
pub mod startup;
