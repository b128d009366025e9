//! Security events: reading them (stored, and through the two routes),
//! logins that carry a device cookie or come from another address, and a
//! trigger that makes storing one kind fail, for the tests that a change
//! and its event commit together.

use diesel::RunQueryDsl;
use portcullis::db::Db;
use portcullis::db::events::{self, EventRow, Filter};
use serde_json::{Value, json};

use super::*;

/// The device cookie's name.
pub const DEVICE: &str = "portcullis_device";

/// Every stored event, oldest first.
pub fn stored_events(db: &Db) -> Vec<EventRow> {
    let mut rows = db
        .with_conn(|c| events::list(c, &Filter::default(), 10_000))
        .unwrap();
    rows.reverse();
    rows
}

/// The stored events of `kind`, oldest first.
pub fn stored_of_kind(db: &Db, kind: &str) -> Vec<EventRow> {
    stored_events(db)
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

impl TestApp {
    /// From now on, storing an event of `kind` fails (a trigger raises), so
    /// the transaction of the change it records fails too.
    pub fn fail_storing(&self, kind: &str) {
        assert!(kind.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        let statements = if !self.postgres {
            vec![format!(
                "CREATE TRIGGER fail_{kind} BEFORE INSERT ON security_events \
                 WHEN NEW.kind = '{kind}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )]
        } else {
            vec![
                format!(
                    "CREATE FUNCTION fail_{kind}() RETURNS trigger AS $$ BEGIN \
                     IF NEW.kind = '{kind}' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
                     RETURN NEW; END $$ LANGUAGE plpgsql"
                ),
                format!(
                    "CREATE TRIGGER fail_{kind} BEFORE INSERT ON security_events \
                     FOR EACH ROW EXECUTE FUNCTION fail_{kind}()"
                ),
            ]
        };
        self.db
            .with_conn(|c| {
                for statement in &statements {
                    diesel::sql_query(statement).execute(c)?;
                }
                Ok(())
            })
            .unwrap();
    }

    /// `GET /auth/activity`'s events.
    pub async fn activity(&self, access: &str) -> Vec<Value> {
        let mut res = self.call("GET", "/auth/activity", access).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        body["events"].as_array().unwrap().clone()
    }

    /// `GET /auth/admin/events?{query}`: the answer.
    pub async fn admin_events(&self, access: &str, query: &str) -> Response {
        self.call("GET", &format!("/auth/admin/events?{query}"), access)
            .await
    }

    /// A login as `name` from the address `addr` (the gateway must trust
    /// loopback as a proxy), carrying the device cookie `device` if given.
    pub async fn login_from(
        &self,
        name: &str,
        password: &str,
        addr: &str,
        device: Option<&str>,
    ) -> Response {
        let mut req = self
            .client
            .post(format!("{}/auth/login", self.url))
            .insert_header(("X-Forwarded-For", addr));
        if let Some(device) = device {
            req = req.insert_header(("Cookie", format!("{DEVICE}={device}")));
        }
        req.send_json(&json!({ "username": name, "password": password }))
            .await
            .unwrap()
    }

    /// Logs `name` in from `addr` with [`PASSWORD`]; returns the device
    /// cookie the login set.
    pub async fn device_of(&self, name: &str, addr: &str) -> String {
        let res = self.login_from(name, PASSWORD, addr, None).await;
        assert_eq!(res.status(), 200);
        set_cookie(&res, DEVICE).unwrap().value().to_owned()
    }
}
