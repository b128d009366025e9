//! The SPA's own vocabulary on a [`Browser`]: its states, logging in and
//! out (with a second factor too), its views, the employee rows, the
//! Security view with its Activity list, the Events table and the step-up
//! dialog, the refresh cookie, where tokens must never be, a second auth
//! client in the page, and the checks that a view the user may not use is
//! neither offered nor answered.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::page::POLL;
use super::{Browser, Is, WAIT};
use crate::support::{COOKIE, Enrolled, PASSWORD, TestApp};

impl Browser {
    /// `document.body.dataset.state`: loading, logged-in or logged-out.
    pub async fn state(&self) -> String {
        self.attr("body", "data-state").await.unwrap_or_default()
    }

    /// Refreshes done or adopted by this tab (`#last-refresh[data-count]`).
    pub async fn refresh_count(&self) -> u64 {
        self.number("#last-refresh", "data-count").await
    }

    /// Waits (up to [`WAIT`]) for the body's `data-state` to be `state`.
    pub async fn wait_state(&self, state: &str) {
        self.wait_state_within(state, WAIT).await;
    }

    /// Waits up to `limit` for the body's `data-state` to be `state`.
    pub async fn wait_state_within(&self, state: &str, limit: Duration) {
        self.wait_for("body", Is::Attr("data-state", state), limit)
            .await;
    }

    /// Logs `name` in through the form on a freshly loaded page and waits
    /// for the employee list.
    pub async fn log_in(&self, app: &TestApp, name: &str) {
        self.submit_password(app, name).await;
        self.wait_signed_in(name).await;
    }

    /// Loads the page and sends `name`'s username and password from the
    /// form: the first step of a login.
    pub async fn submit_password(&self, app: &TestApp, name: &str) {
        self.goto(&app.url).await;
        self.wait_state("logged-out").await;
        self.fill("#username", name).await;
        self.fill("#password", PASSWORD).await;
        self.click("#login-submit").await;
    }

    /// Waits until `name` is signed in and the employee list has loaded
    /// without an error.
    pub async fn wait_signed_in(&self, name: &str) {
        self.wait_state("logged-in").await;
        self.wait_for("#whoami", Is::Text(name), WAIT).await;
        self.wait_for("#employees", Is::AttrAtLeast("data-loaded", 1), WAIT)
            .await;
        self.assert_no_error_shown().await;
    }

    /// Logs `name` in with the password and then the code of `secret` now
    /// (by the app's clock), and waits for the employee list.
    pub async fn log_in_with_totp(&self, app: &TestApp, name: &str, secret: &str) {
        self.submit_password(app, name).await;
        self.enter_second_factor("totp", &app.code_now(secret))
            .await;
        self.wait_signed_in(name).await;
    }

    /// The login's second step: waits for it, switches to the field of
    /// `factor` (`totp` or `recovery_code`) when another one shows, types
    /// `code` and sends it.
    pub async fn enter_second_factor(&self, factor: &str, code: &str) {
        self.wait_for("#mfa-form", Is::Shown, WAIT).await;
        self.type_factor("#mfa-form", factor, code).await;
        self.click("#mfa-submit").await;
    }

    /// In `form`, shows the field of `factor` (pressing its "Use … instead"
    /// when needed) and types `value` into it.
    async fn type_factor(&self, form: &str, factor: &str, value: &str) {
        let field = format!("{form} [data-factor=\"{factor}\"] input");
        if !self.is_shown(&field).await {
            self.click(&format!("{form} [data-use=\"{factor}\"]")).await;
            self.wait_for(&field, Is::Shown, WAIT).await;
        }
        self.fill(&field, value).await;
    }

    /// The `id` of the focused element.
    pub async fn focused(&self) -> String {
        let id = self
            .js("return document.activeElement?.id ?? ''", vec![])
            .await;
        id.as_str().unwrap_or_default().to_owned()
    }

    /// Waits for the step-up dialog to be open.
    pub async fn wait_step_up(&self) {
        self.wait_for("#step-up[open]", Is::Shown, WAIT).await;
    }

    /// Sends `value` in the field of `factor` (`password`, `totp` or
    /// `recovery_code`) from the step-up dialog, once it is open.
    pub async fn submit_step_up(&self, factor: &str, value: &str) {
        self.wait_step_up().await;
        self.type_factor("#step-up-form", factor, value).await;
        self.click("#step-up-submit").await;
    }

    /// Answers the step-up dialog with `value` for `factor` and waits for
    /// it to close.
    pub async fn answer_step_up(&self, factor: &str, value: &str) {
        self.submit_step_up(factor, value).await;
        self.wait_for("#step-up", Is::Hidden, WAIT).await;
    }

    /// Sets up TOTP in the Security view (the view must be open and its
    /// authentication recent): reads the key shown as text, confirms with
    /// its code now (by the app's clock, moved to the middle of a step) and
    /// returns the key and the recovery codes shown. The code's step is
    /// then spent: move the clock 30 s before the next code.
    pub async fn enrol_totp(&self, app: &TestApp) -> Enrolled {
        self.wait_for("#totp-setup", Is::Shown, WAIT).await;
        self.click("#totp-setup").await;
        self.wait_for("#totp-enrol", Is::Shown, WAIT).await;
        let secret = self.totp_secret_shown().await;
        app.to_mid_step();
        self.fill("#totp-confirm-code", &app.code_now(&secret))
            .await;
        self.click("#totp-confirm").await;
        self.wait_for("#recovery-codes", Is::Shown, WAIT).await;
        let recovery_codes = self.recovery_codes_shown().await;
        self.wait_for("#mfa-state", Is::Text("On"), WAIT).await;
        Enrolled {
            secret,
            recovery_codes,
        }
    }

    /// The TOTP key of the enrolment on show, without the spaces that
    /// group it for reading.
    pub async fn totp_secret_shown(&self) -> String {
        let shown = self.text("#totp-secret").await;
        let secret: String = shown.split_whitespace().collect();
        assert!(
            secret.len() >= 16
                && secret
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)),
            "a base32 key: {shown:?}"
        );
        secret
    }

    /// The recovery codes on show.
    pub async fn recovery_codes_shown(&self) -> Vec<String> {
        let codes = self
            .js(
                "return [...document.querySelectorAll('#recovery-list li')].map((li) => li.textContent)",
                vec![],
            )
            .await;
        serde_json::from_value(codes).unwrap()
    }

    pub async fn log_out(&self) {
        self.click("#logout").await;
        self.wait_state("logged-out").await;
    }

    /// Opens a view from the navigation and waits for its path.
    pub async fn open_view(&self, link: &str, path: &str) {
        self.click(link).await;
        self.wait_js(
            "return location.pathname === arguments[0]",
            vec![json!(path)],
            WAIT,
            &format!("the path {path}"),
        )
        .await;
    }

    /// Clicks Reload and waits until the employee list has loaded again.
    pub async fn reload_list(&self) {
        self.click_and_wait_for_load("#reload", "#employees").await;
    }

    /// Waits until the sessions list shows `n` sessions after a load.
    pub async fn wait_for_sessions(&self, n: usize) {
        self.wait_for_listed("#session-list", ".session-item", n)
            .await;
    }

    /// Waits until the Activity list shows `n` events after a load.
    pub async fn wait_for_activity(&self, n: usize) {
        self.wait_for_listed("#activity-list", ".activity-item", n)
            .await;
    }

    /// Waits until `list` has loaded and holds `n` of `item`.
    async fn wait_for_listed(&self, list: &str, item: &str, n: usize) {
        self.wait_js(
            "return Number(document.querySelector(arguments[0]).dataset.loaded) > 0
                 && document.querySelectorAll(`${arguments[0]} ${arguments[1]}`).length === arguments[2]",
            vec![json!(list), json!(item), json!(n)],
            WAIT,
            &format!("{n} of {item} in {list}"),
        )
        .await;
    }

    /// Waits until the Events view's table has loaded `n` times.
    pub async fn wait_for_events_load(&self, n: u64) {
        self.wait_for("#events", Is::AttrAtLeast("data-loaded", n), WAIT)
            .await;
    }

    /// The rendered text of every element matching `css`, in order.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let texts = self
            .js(
                "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText)",
                vec![json!(css)],
            )
            .await;
        serde_json::from_value(texts).unwrap()
    }

    /// Picks the option with `value` in the `<select>` at `css`, as a user would.
    pub async fn choose(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("{css} = {value}: {e}"));
    }

    /// The refresh cookie this browser holds (read at `/auth/me`, where it
    /// is sent: the page is left).
    pub async fn refresh_cookie(&self, app: &TestApp) -> String {
        self.goto(&format!("{}/auth/me", app.url)).await;
        let cookies = self.client.get_all_cookies().await.unwrap();
        cookies
            .iter()
            .find(|c| c.name() == COOKIE)
            .unwrap_or_else(|| panic!("no refresh cookie: {cookies:?}"))
            .value()
            .to_owned()
    }

    /// Clicks the open view's Reload and checks it loads without an error.
    pub async fn reload_list_in_view(&self) {
        self.click_and_wait_for_load("#reload-sessions", "#session-list")
            .await;
        self.assert_no_error_shown().await;
    }

    /// Clicks `button` and waits until `list` counts one more load
    /// (`data-loaded`): the rows a test finds next are the new ones.
    pub async fn click_and_wait_for_load(&self, button: &str, list: &str) {
        let loaded = self.number(list, "data-loaded").await;
        self.click(button).await;
        self.wait_for(list, Is::AttrAtLeast("data-loaded", loaded + 1), WAIT)
            .await;
    }

    /// The status line shows no error.
    pub async fn assert_no_error_shown(&self) {
        assert!(
            !self.has_class("#status", "error").await,
            "{}",
            self.describe().await
        );
    }

    /// The cells of the employee row with this email, or null.
    pub async fn row(&self, email: &str) -> Value {
        self.js(
            r#"const rows = [...document.querySelectorAll('#employees tbody tr[data-id]')]
                   .filter((tr) => tr.querySelector('td.email')?.textContent === arguments[0]);
               if (rows.length > 1) throw new Error(`${rows.length} rows for ${arguments[0]}`);
               const tr = rows[0];
               if (!tr) return null;
               const cell = (c) => tr.querySelector(`td.${c}`).textContent;
               return { id: tr.dataset.id, first: cell('first-name'), last: cell('last-name'),
                        email: cell('email'), department: cell('department'),
                        updated_by: cell('updated-by') };"#,
            vec![json!(email)],
        )
        .await
    }

    /// Waits for the employee row with this email; returns its cells.
    pub async fn wait_for_row(&self, email: &str) -> Value {
        let start = Instant::now();
        loop {
            let row = self.row(email).await;
            if !row.is_null() {
                return row;
            }
            if start.elapsed() > WAIT {
                panic!(
                    "no row for {email} after {WAIT:?}; {}",
                    self.describe().await
                );
            }
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// Fails unless local and session storage, IndexedDB, the Cache API and
    /// `document.cookie` are empty of tokens, and no raw JWT is in the page.
    pub async fn assert_no_token_stored(&self) {
        let found = self
            .js(
                r#"return (async () => {
                    const dump = (s) => Object.fromEntries(
                        Array.from({ length: s.length }, (_, i) => [s.key(i), s.getItem(s.key(i))]));
                    return {
                        local: dump(localStorage),
                        session: dump(sessionStorage),
                        cookie: document.cookie,
                        indexedDb: (await indexedDB.databases()).map((d) => d.name),
                        caches: await caches.keys(),
                        html: document.documentElement.outerHTML,
                        claims: document.querySelector('#token-claims').textContent,
                    };
                })()"#,
                vec![],
            )
            .await;
        // The page knows a token: its decoded claims are on show.
        assert!(
            found["claims"].as_str().unwrap().contains("\"jti\""),
            "{found}"
        );
        assert_eq!(found["local"], json!({}), "localStorage");
        assert_eq!(found["session"], json!({}), "sessionStorage");
        assert_eq!(found["indexedDb"], json!([]), "IndexedDB");
        assert_eq!(found["caches"], json!([]), "Cache API");
        let cookie = found["cookie"].as_str().unwrap();
        assert!(!cookie.contains(COOKIE), "document.cookie: {cookie}");
        // A JWT's first segment is base64url of `{"`, i.e. starts with eyJ.
        assert!(!cookie.contains("eyJ"), "document.cookie: {cookie}");
        assert!(
            !found["html"].as_str().unwrap().contains("eyJ"),
            "a raw token is in the page"
        );
    }

    /// Where the page is, for failure messages.
    pub async fn describe(&self) -> String {
        let script = r#"
            const text = (css) => document.querySelector(css)?.textContent ?? null;
            return { url: location.href, state: document.body.dataset.state,
                     status: text('#status'), loginError: text('#login-error'),
                     loginMessage: text('#login-message'), formError: text('#form-error'),
                     mfaError: text('#mfa-error'), stepUpError: text('#step-up-error'),
                     stepUpOpen: document.querySelector('#step-up')?.open ?? null,
                     securityNotice: text('#security-notice'), mfaState: text('#mfa-state'),
                     refreshes: document.querySelector('#last-refresh')?.dataset.count ?? null };
        "#;
        match self.client.execute(script, vec![]).await {
            Ok(page) => format!("page: {page}"),
            Err(e) => format!("page unreadable: {e}"),
        }
    }

    /// Asks for `path` by URL as the logged-in user and waits for the SPA
    /// to fall back to `/`: a view the user may not use is not offered.
    pub async fn assert_route_falls_back(&self, app: &TestApp, path: &str) {
        self.goto(&format!("{}{path}", app.url)).await;
        self.wait_state("logged-in").await;
        self.wait_js(
            "return location.pathname === '/'",
            vec![],
            WAIT,
            &format!("{path} to fall back to / for this user"),
        )
        .await;
    }

    /// An admin's view (`view`: its `data-view`) that this logged-in
    /// user may not use is not offered, falls back when asked for by URL
    /// (`path`), and its route (`/auth{path}`), called from the page
    /// anyway, is refused.
    pub async fn assert_admin_view_closed(&self, app: &TestApp, view: &str, path: &str) {
        let link = format!("#nav-{view}");
        assert!(!self.is_shown(&link).await, "{link} offered");
        self.assert_route_falls_back(app, path).await;
        assert!(!self.is_shown(&format!("#{view}-view")).await);
        assert!(!self.is_shown(&link).await, "{link} offered");
        self.assert_page_fetch_refused(&format!("/auth{path}"), Value::Null)
            .await;
    }

    /// Runs `body` (the body of an async function of `auth`, a second
    /// AuthClient of the page started from the cookie, and `args`) in the
    /// page, as another script of this browser would; its result.
    pub async fn with_page_client(&self, body: &str, args: Vec<Value>) -> Value {
        let script = format!(
            "return (async (args) => {{
                const {{ AuthClient }} = await import('/js/auth-client.js');
                const auth = new AuthClient({{ watchInterval: 0 }});
                try {{
                    await auth.init();
                    {body}
                }} finally {{
                    auth.destroy();
                }}
            }})([...arguments]);"
        );
        self.js(&script, args).await
    }

    /// Calls `route` from the page anyway, through the SPA's own auth
    /// client with the logged-in session (`init`: fetch's options, or
    /// null), and checks that the gateway refuses it: 403 `forbidden`.
    pub async fn assert_page_fetch_refused(&self, route: &str, init: Value) {
        let answer = self
            .with_page_client(
                "const res = await auth.fetchApi(args[0], args[1] ?? undefined);
                 return { status: res.status, body: await res.json() };",
                vec![json!(route), init],
            )
            .await;
        assert_eq!(answer["status"], 403, "{route}: {answer}");
        assert_eq!(answer["body"]["error"], "forbidden", "{route}: {answer}");
    }
}
