//! The services the HTTP routes and the command line share, assembled once
//! from their parts: the sessions service, the login flow on top of it,
//! and the account use cases on top of both. `serve` builds them with its
//! configuration ([`Services::new`]); the command line and the demo's
//! seeding with defaults and one hashing thread ([`Services::standalone`]).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::accounts::Accounts;
use crate::auth::hash_pool::HashGate;
use crate::auth::password::HashError;
use crate::auth::revocation::RevocationList;
use crate::db::ledger::SessionPolicy;
use crate::db::throttle::{Limits, Throttle};
use crate::db::{Db, DbError, secrets};
use crate::login::Login;
use crate::metrics::Metrics;
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
}

/// The services; cloning any of them shares it.
#[derive(Clone)]
pub struct Services {
    pub sessions: Sessions,
    pub login: Login,
    pub accounts: Accounts,
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
        } = parts;
        let successor = db.with_conn(|c| secrets::successor_key(c, now))?;
        let sessions = Sessions::new(db.clone(), revoked, session, successor, metrics.clone());
        let throttle = Arc::new(Throttle::new(throttle));
        let login = Login::new(
            db.clone(),
            hashing.clone(),
            throttle,
            sessions.clone(),
            metrics,
        );
        let accounts = Accounts::new(db, hashing, login.clone(), sessions.clone());
        Ok(Self {
            sessions,
            login,
            accounts,
        })
    }

    /// The services for work outside a running gateway (the command line,
    /// the demo's seeding): one hashing thread, the default limits, and a
    /// revocation list of this process alone (the gateways find what ends
    /// here by their poll and, on PostgreSQL, by `NOTIFY`).
    pub fn standalone(db: &Db, now: DateTime<Utc>) -> Result<Self, ServicesError> {
        let parts = Parts {
            db: db.clone(),
            hashing: HashGate::single()?,
            throttle: Limits::default(),
            revoked: Arc::new(RevocationList::new(Duration::zero())),
            session: SessionPolicy::default(),
            metrics: Arc::new(Metrics::new()),
        };
        Self::new(parts, now)
    }
}
