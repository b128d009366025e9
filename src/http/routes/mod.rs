//! The handlers, one module per route group.

pub mod api;
pub mod auth;
pub mod health;
