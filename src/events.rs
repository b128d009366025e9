//! Security events: what happened to an account, said once and in one
//! shape by the service that made it happen (the login flow, the sessions
//! service, the account use cases), never by a handler. Each event is one
//! log record under the target [`TARGET`], its fields as key-values, so
//! the text and JSON log formats show the same fields and an operator can
//! filter on `portcullis::auth`.
//!
//! An event has no field that could hold a password, a code or a token.

use std::net::IpAddr;

use log::Level;

use crate::db::ledger::{ClientInfo, EndReason};

/// The log target of security events.
pub(crate) const TARGET: &str = "portcullis::auth";

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
    /// What a session records about the client that opened it.
    pub fn client(&self) -> ClientInfo {
        ClientInfo {
            user_agent: self.user_agent.clone(),
            client_addr: self.addr.map(|a| a.to_string()),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    LoginOk,
    LoginFailed,
    LoginThrottled,
    /// A wrong code at the second step of a login.
    SecondFactorFailed,
    /// A session re-authenticated (a step-up).
    SteppedUp,
    /// A spent refresh token within the grace period got its successor again.
    RefreshReplayed,
    /// A spent refresh token after the grace period: its session ended.
    ReuseDetected,
    SessionEnded,
    PasswordChanged,
    /// A second factor was added, replaced or removed.
    FactorsChanged,
    RolesChanged,
    UserCreated,
    UserDisabled,
    UserEnabled,
}

impl Kind {
    /// The record's message, stable for log searches.
    fn message(self) -> &'static str {
        match self {
            Kind::LoginOk => "login ok",
            Kind::LoginFailed => "login failed",
            Kind::LoginThrottled => "login throttled",
            Kind::SecondFactorFailed => "second factor failed",
            Kind::SteppedUp => "stepped up",
            Kind::RefreshReplayed => "refresh token replayed within the grace period",
            Kind::ReuseDetected => "refresh token reuse detected: session revoked",
            Kind::SessionEnded => "session revoked",
            Kind::PasswordChanged => "password changed",
            Kind::FactorsChanged => "second factors changed",
            Kind::RolesChanged => "roles changed",
            Kind::UserCreated => "user created",
            Kind::UserDisabled => "user disabled",
            Kind::UserEnabled => "user enabled",
        }
    }

    fn level(self) -> Level {
        match self {
            Kind::LoginFailed
            | Kind::LoginThrottled
            | Kind::SecondFactorFailed
            | Kind::ReuseDetected => Level::Warn,
            _ => Level::Info,
        }
    }
}

/// One event: its kind, who asked, and what it concerns. Build it with
/// [`Event::new`] and the `with_*` setters, then [`Event::record`] it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Event<'a> {
    kind: Kind,
    caller: &'a Caller,
    username: Option<&'a str>,
    user_id: Option<&'a str>,
    session_id: Option<&'a str>,
    reason: Option<EndReason>,
    /// The admin who acted on someone else's account.
    actor: Option<&'a str>,
    roles: Option<&'a str>,
    factor: Option<&'a str>,
}

impl<'a> Event<'a> {
    pub fn new(kind: Kind, caller: &'a Caller) -> Self {
        Self {
            kind,
            caller,
            username: None,
            user_id: None,
            session_id: None,
            reason: None,
            actor: None,
            roles: None,
            factor: None,
        }
    }

    pub fn username(self, username: &'a str) -> Self {
        Self {
            username: Some(username),
            ..self
        }
    }

    pub fn user(self, user: &'a crate::auth::User) -> Self {
        Self {
            username: Some(&user.username),
            user_id: Some(&user.id),
            ..self
        }
    }

    pub fn user_id(self, id: &'a str) -> Self {
        Self {
            user_id: Some(id),
            ..self
        }
    }

    pub fn session(self, id: &'a str) -> Self {
        Self {
            session_id: Some(id),
            ..self
        }
    }

    pub fn reason(self, reason: EndReason) -> Self {
        Self {
            reason: Some(reason),
            ..self
        }
    }

    pub(crate) fn actor(self, actor: Option<&'a str>) -> Self {
        Self { actor, ..self }
    }

    pub fn roles(self, roles: &'a str) -> Self {
        Self {
            roles: Some(roles),
            ..self
        }
    }

    pub fn factor(self, factor: &'a str) -> Self {
        Self {
            factor: Some(factor),
            ..self
        }
    }

    /// Writes the event's log record (when the filter lets it through).
    pub(crate) fn record(&self) {
        let level = self.kind.level();
        if !log::log_enabled!(target: TARGET, level) {
            return;
        }
        let addr = self.caller.addr.map(|a| a.to_string());
        let fields: Vec<(&str, &str)> = [
            ("request_id", self.caller.request_id.as_deref()),
            ("username", self.username),
            ("user_id", self.user_id),
            ("session_id", self.session_id),
            ("reason", self.reason.map(EndReason::as_str)),
            ("by", self.actor),
            ("roles", self.roles),
            ("factor", self.factor),
            ("client_addr", addr.as_deref()),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect();
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
