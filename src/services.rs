//! The services the HTTP routes and the command line share, assembled once
//! from their parts: the sessions service, the second factors on top of
//! it, the login flow on top of both, and the account use cases on top.
//! `serve` builds them with its configuration ([`Services::new`]); the command line and the demo's
//! seeding with defaults and one hashing thread ([`Services::standalone`]).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::accounts::Accounts;
use crate::auth::hash_pool::HashGate;
use crate::auth::passkey::RelyingParty;
use crate::auth::password::HashError;
use crate::auth::revocation::RevocationList;
use crate::auth::seal::SealKey;
use crate::db::ledger::SessionPolicy;
use crate::db::throttle::{Limits, Throttle};
use crate::db::{self, Db, DbError, secrets};
use crate::factors::Factors;
use crate::login::Login;
use crate::metrics::Metrics;
use crate::oidc::{Fetch, Oidc, ProviderConfig};
use crate::sessions::Sessions;

/// Why the services could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// The hashing pool could not make its dummy hash.
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// What the services are made of.
pub struct Parts {
    pub db: Db,
    pub hashing: HashGate,
    pub throttle: Limits,
    pub revoked: Arc<RevocationList>,
    pub session: SessionPolicy,
    pub metrics: Arc<Metrics>,
    /// What seals TOTP seeds; without it TOTP is not offered.
    pub seal: Option<SealKey>,
    /// What checks passkeys; without it passkeys are not offered.
    pub passkeys: Option<RelyingParty>,
    /// The name authenticator apps show for this gateway.
    pub issuer: String,
    /// How long security events are kept.
    pub event_retention: Duration,
    /// The OpenID Providers, and the HTTP client they are reached with
    /// (`None`: none is reached).
    pub providers: Vec<ProviderConfig>,
    pub fetch: Option<Fetch>,
}

/// How long security events are kept when nothing else is configured.
pub const DEFAULT_EVENT_RETENTION_DAYS: i64 = 90;

/// How long after its end a session is kept for the record.
pub const KEEP_ENDED_DAYS: i64 = 7;

/// What [`Services::purge`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub sessions: usize,
    pub events: usize,
}

/// The name authenticator apps show when none is configured.
pub const DEFAULT_ISSUER: &str = "portcullis";

/// The services; cloning any of them shares it.
#[derive(Clone)]
pub struct Services {
    pub sessions: Sessions,
    pub factors: Factors,
    pub login: Login,
    pub accounts: Accounts,
    pub oidc: Oidc,
    event_retention: Duration,
}

impl Services {
    /// Assembles the services; the ledger's successor key is read from the
    /// database (made there on first start).
    pub fn new(parts: Parts, now: DateTime<Utc>) -> Result<Self, ServicesError> {
        let Parts {
            db,
            hashing,
            throttle,
            revoked,
            session,
            metrics,
            seal,
            passkeys,
            issuer,
            event_retention,
            providers,
            fetch,
        } = parts;
        let successor = db.with_conn(|c| secrets::successor_key(c, now))?;
        let devices = db.with_conn(|c| secrets::device_key(c, now))?;
        let sessions = Sessions::new(db.clone(), revoked, session, successor, metrics.clone());
        let factors = Factors::new(db.clone(), seal, issuer, passkeys, sessions.clone());
        let throttle = Arc::new(Throttle::new(throttle));
        let login = Login::new(
            db.clone(),
            hashing.clone(),
            throttle,
            sessions.clone(),
            factors.clone(),
            devices,
            metrics,
        );
        let oidc = Oidc::new(
            providers,
            fetch,
            db.clone(),
            login.clone(),
            sessions.clone(),
        );
        let accounts = Accounts::new(db, hashing, login.clone(), sessions.clone());
        Ok(Self {
            sessions,
            factors,
            login,
            accounts,
            oidc,
            event_retention,
        })
    }

    /// Forgets what can no longer matter at `now`: sessions ended more
    /// than [`KEEP_ENDED_DAYS`] days ago, stale login counts, pending logins
    /// and WebSocket tickets,
    /// security events past their retention. Each part is tried; the
    /// first failure is returned.
    pub async fn purge(&self, now: DateTime<Utc>) -> Result<Purged, DbError> {
        let before = now - Duration::days(KEEP_ENDED_DAYS);
        let sessions = self.sessions.purge_ended(before).await;
        let logins = self.login.purge(now).await;
        let before = now - self.event_retention;
        let db = self.sessions.db();
        let events = db.run(move |c| db::events::purge(c, before)).await;
        let flows = db.run(move |c| db::oidc::purge(c, now)).await;
        let tickets = db.run(move |c| db::tickets::purge(c, now)).await;
        let purged = Purged {
            sessions: sessions?,
            events: events?,
        };
        logins?;
        flows?;
        tickets?;
        Ok(purged)
    }

    /// The services for work outside a running gateway (the command line,
    /// the demo's seeding): one hashing thread, the default limits, and a
    /// revocation list of this process alone (the gateways find what ends
    /// here by their poll and, on PostgreSQL, by `NOTIFY`). `seal` is the
    /// gateway's, for work on TOTP seeds.
    pub fn standalone(
        db: &Db,
        seal: Option<SealKey>,
        now: DateTime<Utc>,
    ) -> Result<Self, ServicesError> {
        let parts = Parts {
            db: db.clone(),
            hashing: HashGate::single()?,
            throttle: Limits::default(),
            revoked: Arc::new(RevocationList::new(Duration::zero())),
            session: SessionPolicy::default(),
            metrics: Arc::new(Metrics::new()),
            seal,
            passkeys: None,
            issuer: DEFAULT_ISSUER.to_owned(),
            event_retention: Duration::days(DEFAULT_EVENT_RETENTION_DAYS),
            providers: Vec::new(),
            fetch: None,
        };
        Self::new(parts, now)
    }
}
