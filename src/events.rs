//! Security events (contract §12): what happened to an account, said once
//! and in one shape by the service that made it happen (the login flow,
//! the sessions service, the factors, the account use cases), never by a
//! handler. An event is stored ([`Event::write`], in the transaction of the
//! change it records, so the two commit together or not at all) and, once
//! that committed, logged ([`Event::log`]: one record under the target
//! [`TARGET`], its fields as key-values, the same in the text and JSON log
//! formats).
//!
//! An event has no field that could hold a password, a code or a token: a
//! username that matches no user is not kept as typed (it may be a
//! password typed into the wrong field) but as [`Kind::LoginFailed`]'s
//! `username_unknown`, with a short keyed hash.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use log::Level;

use crate::auth::User;
use crate::db::events::{self, EventRow};
use crate::db::ledger::{ClientInfo, EndReason};
use crate::db::{Conn, DbError};

/// The log target of security events.
pub const TARGET: &str = "portcullis::auth";

/// Where a request came from, as the HTTP edge resolved it: the client's
/// address (by the trusted-proxy rule), its `User-Agent`, and the request's
/// id for the log. The command line is a caller with none of them.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub addr: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Caller {
    /// What a session records about the client that opened or used it.
    pub fn client(&self) -> ClientInfo {
        ClientInfo {
            user_agent: self.user_agent.clone(),
            client_addr: self.addr.map(|a| a.to_string()),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LoginOk,
    LoginFailed,
    LoginThrottled,
    /// The second step of a login, or a step-up, with a right code.
    SecondFactorOk,
    /// A wrong code at the second step of a login or a step-up.
    SecondFactorFailed,
    /// A session re-authenticated (a step-up).
    SteppedUp,
    /// A spent refresh token within the grace period got its successor again.
    RefreshReplayed,
    /// A spent refresh token after the grace period: its session ended.
    RefreshTokenReused,
    /// A session's own logout, or the user's logout everywhere.
    Logout,
    /// A session ended for any other reason (its `reason` says which).
    SessionEnded,
    PasswordChanged,
    FactorAdded,
    FactorRemoved,
    RolesChanged,
    UserCreated,
    UserDisabled,
    UserEnabled,
    /// A login through an OpenID Provider.
    OidcLogin,
    /// An OpenID Provider's back-channel logout, whatever it ended.
    BackchannelLogout,
}

impl Kind {
    pub const ALL: [Kind; 19] = [
        Kind::LoginOk,
        Kind::LoginFailed,
        Kind::LoginThrottled,
        Kind::SecondFactorOk,
        Kind::SecondFactorFailed,
        Kind::SteppedUp,
        Kind::RefreshReplayed,
        Kind::RefreshTokenReused,
        Kind::Logout,
        Kind::SessionEnded,
        Kind::PasswordChanged,
        Kind::FactorAdded,
        Kind::FactorRemoved,
        Kind::RolesChanged,
        Kind::UserCreated,
        Kind::UserDisabled,
        Kind::UserEnabled,
        Kind::OidcLogin,
        Kind::BackchannelLogout,
    ];

    /// The stored name, and the `kind` of the API and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LoginOk => "login_ok",
            Kind::LoginFailed => "login_failed",
            Kind::LoginThrottled => "login_throttled",
            Kind::SecondFactorOk => "second_factor_ok",
            Kind::SecondFactorFailed => "second_factor_failed",
            Kind::SteppedUp => "stepped_up",
            Kind::RefreshReplayed => "refresh_replayed",
            Kind::RefreshTokenReused => "refresh_token_reused",
            Kind::Logout => "logout",
            Kind::SessionEnded => "session_ended",
            Kind::PasswordChanged => "password_changed",
            Kind::FactorAdded => "factor_added",
            Kind::FactorRemoved => "factor_removed",
            Kind::RolesChanged => "roles_changed",
            Kind::UserCreated => "user_created",
            Kind::UserDisabled => "user_disabled",
            Kind::UserEnabled => "user_enabled",
            Kind::OidcLogin => "oidc_login",
            Kind::BackchannelLogout => "backchannel_logout",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The log record's message, stable for log searches.
    fn message(self) -> &'static str {
        match self {
            Kind::LoginOk => "login ok",
            Kind::LoginFailed => "login failed",
            Kind::LoginThrottled => "login throttled",
            Kind::SecondFactorOk => "second factor ok",
            Kind::SecondFactorFailed => "second factor failed",
            Kind::SteppedUp => "stepped up",
            Kind::RefreshReplayed => "refresh token replayed within the grace period",
            Kind::RefreshTokenReused => "refresh token reuse detected: session revoked",
            Kind::Logout | Kind::SessionEnded => "session revoked",
            Kind::PasswordChanged => "password changed",
            Kind::FactorAdded => "second factor added",
            Kind::FactorRemoved => "second factor removed",
            Kind::RolesChanged => "roles changed",
            Kind::UserCreated => "user created",
            Kind::UserDisabled => "user disabled",
            Kind::UserEnabled => "user enabled",
            Kind::OidcLogin => "login ok through an OpenID Provider",
            Kind::BackchannelLogout => "back-channel logout",
        }
    }

    fn level(self) -> Level {
        match self {
            Kind::LoginFailed
            | Kind::LoginThrottled
            | Kind::SecondFactorFailed
            | Kind::RefreshTokenReused => Level::Warn,
            _ => Level::Info,
        }
    }

    /// The kind of the event a session's end is, for `reason`.
    pub fn of_end(reason: EndReason) -> Self {
        match reason {
            EndReason::Logout | EndReason::LogoutAll => Kind::Logout,
            EndReason::ReuseDetected => Kind::RefreshTokenReused,
            _ => Kind::SessionEnded,
        }
    }
}

/// One event: its kind, when, who asked, and what it concerns. Build it
/// with [`Event::new`] and the setters, [`Event::write`] it in the
/// change's transaction, [`Event::log`] it once that committed.
#[derive(Debug, Clone)]
pub struct Event {
    kind: Kind,
    at: DateTime<Utc>,
    request_id: Option<String>,
    client_addr: Option<String>,
    user_agent: Option<String>,
    user_id: Option<String>,
    username: Option<String>,
    session_id: Option<String>,
    reason: Option<String>,
    actor: Option<String>,
    /// More of what happened: stored as a JSON object, logged as fields.
    detail: BTreeMap<&'static str, String>,
}

impl Event {
    pub fn new(kind: Kind, caller: &Caller, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            at,
            request_id: caller.request_id.clone(),
            client_addr: caller.addr.map(|a| a.to_string()),
            user_agent: caller.user_agent.clone(),
            user_id: None,
            username: None,
            session_id: None,
            reason: None,
            actor: None,
            detail: BTreeMap::new(),
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The same event as another kind (a failed login that was throttled).
    pub fn retyped(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    /// The user by name only, as a login attempt names them.
    pub fn username(mut self, username: &str) -> Self {
        self.username = Some(username.to_owned());
        self
    }

    pub fn user(mut self, user: &User) -> Self {
        self.username = Some(user.username.clone());
        self.user_id = Some(user.id.clone());
        self
    }

    pub fn user_id(mut self, id: &str) -> Self {
        self.user_id = Some(id.to_owned());
        self
    }

    pub fn session(mut self, id: &str) -> Self {
        self.session_id = Some(id.to_owned());
        self
    }

    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_owned());
        self
    }

    /// The admin who acted on someone else's account, if one did.
    pub fn actor(mut self, actor: Option<&str>) -> Self {
        self.actor = actor.map(str::to_owned);
        self
    }

    /// One more fact (`roles`, `factor`, `amr`, …). Never a secret.
    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.detail.insert(key, value.into());
        self
    }

    /// Stores the event, in the caller's transaction.
    pub fn write(&self, conn: &mut Conn) -> Result<(), DbError> {
        let detail = (!self.detail.is_empty())
            .then(|| serde_json::to_string(&self.detail).ok())
            .flatten();
        events::insert(
            conn,
            &EventRow {
                id: 0,
                at: self.at.naive_utc(),
                kind: self.kind.as_str().to_owned(),
                user_id: self.user_id.clone(),
                username: self.username.clone(),
                session_id: self.session_id.clone(),
                client_addr: self.client_addr.clone(),
                user_agent: self.user_agent.clone(),
                reason: self.reason.clone(),
                actor: self.actor.clone(),
                detail,
            },
        )
    }

    /// Writes the event's log record (when the filter lets it through).
    pub fn log(&self) {
        let level = self.kind.level();
        if !log::log_enabled!(target: TARGET, level) {
            return;
        }
        let mut fields: Vec<(&str, &str)> = [
            ("request_id", self.request_id.as_deref()),
            ("username", self.username.as_deref()),
            ("user_id", self.user_id.as_deref()),
            ("session_id", self.session_id.as_deref()),
            ("reason", self.reason.as_deref()),
            ("by", self.actor.as_deref()),
            ("client_addr", self.client_addr.as_deref()),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect();
        fields.extend(self.detail.iter().map(|(k, v)| (*k, v.as_str())));
        log::logger().log(
            &log::Record::builder()
                .args(format_args!("{}", self.kind.message()))
                .level(level)
                .target(TARGET)
                .module_path_static(Some(module_path!()))
                .key_values(&fields)
                .build(),
        );
    }
}

/// Stores `events` in the caller's transaction.
pub fn write_all(conn: &mut Conn, events: &[Event]) -> Result<(), DbError> {
    events.iter().try_for_each(|e| e.write(conn))
}

/// Logs `events`, once what they record committed.
pub fn log_all(events: &[Event]) {
    events.iter().for_each(Event::log);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_as_stored() {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind as usize, i, "ALL is in declaration order");
        }
        assert_eq!(Kind::of_end(EndReason::LogoutAll), Kind::Logout);
        assert_eq!(Kind::of_end(EndReason::Admin), Kind::SessionEnded);
    }

    #[test]
    fn an_event_is_stored_with_its_detail_as_json() {
        let (db, _dir) = crate::db::temp_db();
        let caller = Caller {
            addr: Some("192.0.2.7".parse().unwrap()),
            user_agent: Some("UA".into()),
            request_id: Some("r1".into()),
        };
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let event = Event::new(Kind::RolesChanged, &caller, at)
            .user_id("u1")
            .actor(Some("root"))
            .with("roles", "user,admin");
        db.with_conn(|c| event.write(c)).unwrap();
        let rows = db
            .with_conn(|c| events::list(c, &events::Filter::default(), 10))
            .unwrap();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.kind, "roles_changed");
        assert_eq!(row.client_addr.as_deref(), Some("192.0.2.7"));
        assert_eq!(row.user_agent.as_deref(), Some("UA"));
        assert_eq!(row.actor.as_deref(), Some("root"));
        assert_eq!(row.detail.as_deref(), Some(r#"{"roles":"user,admin"}"#));
        assert_eq!(row.at, at.naive_utc());
    }
}
