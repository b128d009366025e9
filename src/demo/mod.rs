//! `portcullis demo`: the employee service and the gateway in one process.

pub mod employees;

use crate::cli::Failure;

pub fn run(_bind: &str) -> Result<(), Failure> {
    Err(Failure::Other("not yet".into()))
}
