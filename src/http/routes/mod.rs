//! The handlers, one module per route group.

pub mod admin;
pub mod api;
pub mod auth;
pub mod events;
pub mod factors;
pub mod health;
pub mod oidc;
pub mod passkeys;
pub mod sessions;
pub mod websocket;
