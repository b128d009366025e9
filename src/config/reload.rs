//! What a reload (SIGHUP) reads again: the listener's certificate and key,
//! the token keys and the policy file, by the same section builders and
//! from the same flags `serve` started with, so a reload checks exactly
//! what start-up did. All three load, or none is used: a reload that finds
//! a problem changes nothing and says why. Nothing else of the
//! configuration changes under a running gateway.

use rustls::sign::CertifiedKey;

use super::{Problems, ServeArgs, sections};
use crate::auth::tokens::Tokens;
use crate::proxy::policy::Policy;

/// What a reload loaded, to be swapped in.
pub struct Reloaded {
    /// `None` when the listener is plain HTTP.
    pub certificate: Option<CertifiedKey>,
    pub tokens: Tokens,
    pub policy: Policy,
}

/// Loads the files `args` names again; `Err` holds one line per problem,
/// naming the variable, as start-up reports them.
pub fn reload(args: &ServeArgs) -> Result<Reloaded, Vec<String>> {
    let mut p = Problems::default();
    let certificate = sections::listener_tls(args, &mut p);
    let access = sections::access_tokens(args, &mut p);
    let policy = sections::policy(args, &mut p);
    match (certificate, access, policy) {
        (Some(certificate), Some(access), Some(policy)) if p.0.is_empty() => Ok(Reloaded {
            certificate,
            tokens: access.tokens,
            policy,
        }),
        _ => Err(p.0),
    }
}
