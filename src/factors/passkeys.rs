//! Passkeys, the factor (contract §9): registered after a fresh
//! authentication (resident key and user verification required), named,
//! removed, and the ceremonies that use them — the second step of a
//! login or a step-up for a known user ([`Factors::begin_assertion`]), a
//! passwordless login for anyone ([`Factors::begin_discovery`]).
//!
//! A ceremony is stored ([`ceremonies`]) and spent by its first answer,
//! right or wrong. An assertion is accepted only when the relying party
//! accepts it (origin, RP ID, user verification, signature, a counter
//! that rose unless it stays 0), the credential belongs to the user the
//! ceremony is for (or, discovered, to the user it names), that user is
//! not disabled, and the counter it started from is still the stored one:
//! one conditional update records the use.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Change, FactorError, Factors, codes_die_with_the_last_factor};
use crate::auth::passkey::{self, Asserted, Begun, RelyingParty};
use crate::db::ceremonies::{self, Kind as CeremonyKind};
use crate::db::passkeys::{self as rows, PasskeyRow};
use crate::db::{self, DbError, is_unique_violation, users};
use crate::events::{Caller, Kind};

/// A passkey as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&PasskeyRow> for PasskeyInfo {
    fn from(row: &PasskeyRow) -> Self {
        Self {
            id: row.id.clone(),
            name: row.name.clone(),
            created_at: row.created_at.and_utc(),
            last_used_at: row.last_used_at.map(|t| t.and_utc()),
        }
    }
}

/// A ceremony begun: its id, and the options for the browser.
#[derive(Debug)]
pub struct Ceremony {
    pub id: String,
    /// `publicKey` of the browser's call, in JSON form.
    pub public_key: Value,
}

/// A passkey's name: trimmed, 1 to 64 characters.
fn name_of(name: &str) -> Result<String, FactorError> {
    let name = name.trim();
    match name.chars().count() {
        1..=64 => Ok(name.to_owned()),
        _ => Err(FactorError::BadName),
    }
}

impl Factors {
    /// Whether passkeys are offered (`PORTCULLIS_PUBLIC_URL` is set).
    pub fn passkeys_offered(&self) -> bool {
        self.rp.is_some()
    }

    fn rp(&self) -> Result<&RelyingParty, FactorError> {
        self.rp.as_ref().ok_or(FactorError::PasskeysNotOffered)
    }

    /// Begins the registration of a new passkey of the user (their other
    /// passkeys excluded).
    pub async fn begin_registration(
        &self,
        user_id: &str,
        username: &str,
        now: DateTime<Utc>,
    ) -> Result<Ceremony, FactorError> {
        let rp = self.rp()?;
        let handle = uuid::Uuid::parse_str(user_id).map_err(|_| FactorError::UnknownUser)?;
        let id = user_id.to_owned();
        let existing = self.db.read(move |c| rows::of_user(c, &id)).await?;
        let existing: Vec<_> = existing.iter().map(PasskeyRow::stored).collect();
        let begun = rp
            .start_registration(handle, username, &existing)
            .ok_or(FactorError::PasskeyRefused)?;
        self.store(begun, CeremonyKind::Register, Some(user_id), now)
            .await
    }

    /// Finishes a registration with the browser's answer: the passkey is
    /// the user's, named `name`, and every session of theirs but `keep`
    /// ends.
    #[expect(clippy::too_many_arguments, reason = "one use case, each part named")]
    pub async fn register_passkey(
        &self,
        user_id: &str,
        ceremony: &str,
        credential: &Value,
        name: &str,
        keep: &str,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<PasskeyInfo, FactorError> {
        let rp = self.rp()?;
        let name = name_of(name)?;
        let state = self
            .claim(ceremony, CeremonyKind::Register, Some(user_id), now)
            .await?
            .ok_or(FactorError::PasskeyRefused)?;
        let passkey = rp
            .finish_registration(&state, credential)
            .ok_or(FactorError::PasskeyRefused)?;
        let id = user_id.to_owned();
        let change = Change::new(Kind::FactorAdded, "passkey", caller);
        let row = self
            .change(user_id, change, Some(keep.to_owned()), now, move |c| {
                rows::add(c, &id, &name, &passkey, now).map_err(|e| {
                    if is_unique_violation(&e) {
                        FactorError::PasskeyRefused
                    } else {
                        e.into()
                    }
                })
            })
            .await?;
        Ok(PasskeyInfo::from(&row))
    }

    /// Renames the user's passkey `id`.
    pub async fn rename_passkey(
        &self,
        user_id: &str,
        id: &str,
        name: &str,
    ) -> Result<PasskeyInfo, FactorError> {
        let name = name_of(name)?;
        let (user, id) = (user_id.to_owned(), id.to_owned());
        let row = self
            .db
            .run(move |c| {
                db::write_tx(c, |c| {
                    if !rows::rename(c, &user, &id, &name)? {
                        return Ok(None);
                    }
                    let row = rows::of_user(c, &user)?.into_iter().find(|r| r.id == id);
                    Ok::<_, DbError>(row)
                })
            })
            .await?;
        row.map(|r| PasskeyInfo::from(&r))
            .ok_or(FactorError::NoPasskey)
    }

    /// Removes the user's passkey `id` (and, when it was their last second
    /// factor, their recovery codes); every session but `keep` ends.
    pub async fn remove_passkey(
        &self,
        user_id: &str,
        id: &str,
        keep: &str,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<(), FactorError> {
        let (user, id) = (user_id.to_owned(), id.to_owned());
        let change = Change::new(Kind::FactorRemoved, "passkey", caller);
        self.change(user_id, change, Some(keep.to_owned()), now, move |c| {
            if !rows::remove(c, &user, &id)? {
                return Err(FactorError::NoPasskey);
            }
            codes_die_with_the_last_factor(c, &user)
        })
        .await
    }

    /// Begins an assertion by one of the user's passkeys (the second step
    /// of a login, a step-up). Not offered to a user without one.
    pub async fn begin_assertion(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Ceremony, FactorError> {
        let rp = self.rp()?;
        let id = user_id.to_owned();
        let keys = self.db.read(move |c| rows::of_user(c, &id)).await?;
        let keys: Vec<_> = keys.iter().map(PasskeyRow::stored).collect();
        let begun = rp.start_assertion(&keys).ok_or(FactorError::NoPasskey)?;
        self.store(begun, CeremonyKind::Assert, Some(user_id), now)
            .await
    }

    /// Begins a passwordless login: any discoverable passkey may answer.
    pub async fn begin_discovery(&self, now: DateTime<Utc>) -> Result<Ceremony, FactorError> {
        let begun = self
            .rp()?
            .start_discovery()
            .ok_or(FactorError::PasskeyRefused)?;
        self.store(begun, CeremonyKind::Discover, None, now).await
    }

    /// Finishes a passwordless login: the user the passkey belongs to, or
    /// `None` when anything is wrong.
    pub async fn discovered(
        &self,
        ceremony: &str,
        credential: &Value,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, FactorError> {
        self.finish_assertion(None, ceremony, credential, now).await
    }

    /// Finishes an assertion for a ceremony of `user_id` (or, for `None`,
    /// a discoverable one): spends the ceremony, checks the answer, and
    /// records the use; the passkey's owner when all went well.
    pub(super) async fn finish_assertion(
        &self,
        user_id: Option<&str>,
        ceremony: &str,
        credential: &Value,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, FactorError> {
        let Ok(rp) = self.rp() else {
            return Ok(None);
        };
        let kind = match user_id {
            Some(_) => CeremonyKind::Assert,
            None => CeremonyKind::Discover,
        };
        let Some(state) = self.claim(ceremony, kind, user_id, now).await? else {
            return Ok(None);
        };
        let Some((credential_id, handle)) = passkey::claimed_by(credential) else {
            return Ok(None);
        };
        let Some(row) = self
            .db
            .read(move |c| rows::by_credential(c, &credential_id))
            .await?
        else {
            return Ok(None);
        };
        let owner_named = match user_id {
            Some(user) => row.user_id == user,
            // a discovered passkey names its user, who must own it
            None => handle.is_some_and(|h| h.to_string() == row.user_id),
        };
        if !owner_named {
            return Ok(None);
        }
        let discovered = user_id.is_none();
        let Some(asserted) = rp.finish_assertion(discovered, &state, credential, &row.stored())
        else {
            return Ok(None);
        };
        let recorded = self.record(&row.user_id, asserted, now).await?;
        Ok(recorded.then_some(row.user_id))
    }

    /// Records an accepted assertion if its user may still log in and its
    /// counter is still the one the check began from.
    async fn record(
        &self,
        user_id: &str,
        asserted: Asserted,
        now: DateTime<Utc>,
    ) -> Result<bool, FactorError> {
        let user = user_id.to_owned();
        Ok(self
            .db
            .run(move |c| {
                db::write_tx(c, |c| {
                    let live = users::find_by_id(c, &user)?.is_some_and(|u| !u.disabled);
                    if !live {
                        return Ok::<_, DbError>(false);
                    }
                    let Asserted {
                        passkey,
                        previous_count,
                    } = asserted;
                    rows::record_use(c, &passkey, previous_count, now)
                })
            })
            .await?)
    }

    /// Stores a ceremony begun; its id (256 random bits) and the options.
    async fn store(
        &self,
        begun: Begun,
        kind: CeremonyKind,
        user_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Ceremony, FactorError> {
        let id = ceremonies::new_id();
        let (ceremony, user) = (id.clone(), user_id.map(str::to_owned));
        let state = begun.state;
        self.db
            .run(move |c| ceremonies::begin(c, &ceremony, kind, user.as_deref(), &state, now))
            .await?;
        Ok(Ceremony {
            id,
            public_key: begun.public_key,
        })
    }

    async fn claim(
        &self,
        ceremony: &str,
        kind: CeremonyKind,
        user_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, FactorError> {
        let (id, user) = (ceremony.to_owned(), user_id.map(str::to_owned));
        Ok(self
            .db
            .run(move |c| ceremonies::claim(c, &id, kind, user.as_deref(), now))
            .await?)
    }
}
