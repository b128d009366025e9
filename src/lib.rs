//! portcullis: a session gateway between a single-page app and legacy HTTP
//! APIs.
//!
//! A request's path through the crate:
//!
//! - [`startup`] builds the server from a [`config::Config`];
//! - [`http`] routes it: `/auth/*` to [`http::routes::auth`], `/api/*` to
//!   [`proxy::forward`], everything else to the SPA ([`http::spa`]);
//!   [`http::error`] gives every failure the contract's JSON shape;
//! - login and registration run as [`sessions`] operations on the blocking
//!   pool; passwords, access tokens, refresh tokens, throttling and the
//!   revocation list live in [`auth`]; the refresh-token ledger and users in
//!   [`db`];
//! - [`proxy`] checks the bearer token and [`proxy::policy`], then streams
//!   the request to the upstream with [`proxy::headers`] applied;
//! - [`demo`] is the bundled employee service and `portcullis demo`;
//! - [`cli`] is the command line; [`clock`] the only reader of the clock.

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod http;
pub mod proxy;
pub mod sessions;
pub mod startup;
