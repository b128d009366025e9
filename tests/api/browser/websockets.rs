//! The employees view updates live (contract §11), in real Chromium: the
//! SPA opens the demo service's feed through the gateway with a ticket,
//! and an employee created, changed and deleted by someone else appears,
//! changes and disappears without a reload; after the session ends the
//! feed closes, and after the next login it is live again.

use portcullis::auth::Role;
use serde_json::json;

use crate::support::browser::{Is, WAIT, fixture};

#[actix_web::test]
async fn the_employees_view_shows_changes_made_elsewhere_as_they_happen() {
    let Some((browser, app)) = fixture(|_| {}).await else {
        return;
    };
    app.add_user("alice", &[Role::User]);
    let admin = app
        .logged_in("root", &[Role::User, Role::Editor, Role::Admin])
        .await;
    browser.log_in(&app, "alice").await;
    browser
        .wait_for("#employees", Is::Attr("data-live", "true"), WAIT)
        .await;
    browser.wait_for("#live-status", Is::Shown, WAIT).await;
    let loads = browser.number("#employees", "data-loaded").await;

    let employee = json!({
        "first_name": "Hedy", "last_name": "Lamarr",
        "email": "hedy@example.org", "department": "Research",
    });
    let mut res = app
        .api_json("POST", "/employees", &admin.access, &employee)
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<serde_json::Value>().await.unwrap()["id"].clone();
    let row = browser.wait_for_row("hedy@example.org").await;
    assert_eq!(row["updated_by"], "root");

    let changed = json!({
        "first_name": "Hedy", "last_name": "Lamarr",
        "email": "hedy@example.org", "department": "Engineering",
    });
    let path = format!("/employees/{id}");
    let res = app.api_json("PUT", &path, &admin.access, &changed).await;
    assert_eq!(res.status(), 200);
    browser
        .wait_for(
            &format!("#employees tbody tr[data-id=\"{id}\"] td.department"),
            Is::Text("Engineering"),
            WAIT,
        )
        .await;

    assert_eq!(app.api("DELETE", &path, &admin.access).await.status(), 204);
    browser
        .wait_for(
            &format!("#employees tbody tr[data-id=\"{id}\"]"),
            Is::Hidden,
            WAIT,
        )
        .await;
    assert_eq!(
        browser.number("#employees", "data-loaded").await,
        loads,
        "every change came over the feed, none by a reload"
    );
    assert_eq!(browser.number("#employees", "data-changes").await, 3);
    browser.assert_no_error_shown().await;

    // logging out closes the feed; the next login opens it again
    browser.log_out().await;
    browser
        .wait_for("#employees", Is::Attr("data-live", "false"), WAIT)
        .await;
    browser.log_in(&app, "alice").await;
    browser
        .wait_for("#employees", Is::Attr("data-live", "true"), WAIT)
        .await;
    let again = json!({
        "first_name": "Ada", "last_name": "Byron",
        "email": "ada.byron@example.org", "department": "Research",
    });
    let res = app
        .api_json("POST", "/employees", &admin.access, &again)
        .await;
    assert_eq!(res.status(), 201);
    browser.wait_for_row("ada.byron@example.org").await;
}
