//! The bundled employee service.

use crate::cli::Failure;

pub fn run(_bind: &str) -> Result<(), Failure> {
    Err(Failure::Other("not yet".into()))
}
