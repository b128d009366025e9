//! The SPA in a real browser: Debian's Chromium, headless, driven through
//! chromedriver, and the [`fixture`] every browser test starts from: a
//! browser and the gateway in front of the employee service. [`driver`]
//! starts and ends the browser; [`page`] is what any page offers (find,
//! click, type, wait for a state); [`spa`] is the SPA's own vocabulary (log
//! in, open a view, the employee rows); [`authenticator`] is Chromium's
//! virtual authenticator for passkeys. A missing Chromium or chromedriver
//! is a reported skip, or a failure with `PORTCULLIS_REQUIRE_BROWSER=1`.

mod authenticator;
mod driver;
mod page;
mod spa;

use std::path::Path;

use crate::support::{ServeArgs, TestApp, employee_service, spawn_with};

pub use authenticator::VirtualAuthenticator;
pub use driver::{Browser, skip_unless_required};
pub use page::{Is, WAIT};

/// The one fixture: a headless browser and the gateway (in front of the
/// bundled employee service, serving the SPA) with `adjust` applied; `None`
/// when the browser is missing and not required (the skip is reported).
pub async fn fixture(adjust: impl FnOnce(&mut ServeArgs)) -> Option<(Browser, TestApp)> {
    let browser = Browser::start().await?;
    Some((browser, spawn_gateway(adjust).await))
}

/// The gateway in front of the bundled employee service, serving the SPA.
async fn spawn_gateway(adjust: impl FnOnce(&mut ServeArgs)) -> TestApp {
    let employees = employee_service();
    spawn_with(|a| {
        a.upstream = Some(employees);
        a.static_dir = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("static"));
        adjust(a);
    })
    .await
}
