//! How a session authenticated, as access tokens say it (contract §9):
//! `amr` (RFC 8176 method names), `acr` (`"mfa"` for two factors or a
//! passkey, else `"pwd"`) and `auth_time`. Built from the methods a login
//! or a step-up used; a refresh keeps them, a step-up only adds.

use chrono::{DateTime, Utc};

/// An authentication method, by its RFC 8176 name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A password.
    Pwd,
    /// A one-time password: a TOTP code or a recovery code.
    Otp,
    /// A hardware-bound key: a passkey.
    Hwk,
    /// User presence and verification (a passkey's PIN or biometrics).
    User,
    /// An external identity provider, which said nothing more.
    Fed,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Pwd => "pwd",
            Method::Otp => "otp",
            Method::Hwk => "hwk",
            Method::User => "user",
            Method::Fed => "fed",
        }
    }
}

/// `acr` of a session that used two factors (or a passkey).
pub const ACR_MFA: &str = "mfa";
/// `acr` of any other session.
pub const ACR_PWD: &str = "pwd";
/// `amr`'s word for "two factors were used".
const AMR_MFA: &str = "mfa";

/// How, and when, a session last authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub auth_time: DateTime<Utc>,
    /// RFC 8176 values, `mfa` last when it applies.
    pub amr: Vec<String>,
    /// [`ACR_MFA`] or [`ACR_PWD`].
    pub acr: &'static str,
}

impl Authentication {
    /// An authentication at `at` by `methods`.
    pub fn by(methods: &[Method], at: DateTime<Utc>) -> Self {
        Self::from_names(methods.iter().map(|m| m.as_str().to_owned()).collect(), at)
    }

    /// A step-up at `at` by `methods`, on top of how the session had
    /// authenticated: the methods add up, and `acr` never drops.
    pub fn raised(&self, methods: &[Method], at: DateTime<Utc>) -> Self {
        let mut names: Vec<String> = self.amr.iter().filter(|m| *m != AMR_MFA).cloned().collect();
        for m in methods {
            if !names.iter().any(|n| n == m.as_str()) {
                names.push(m.as_str().to_owned());
            }
        }
        let mut raised = Self::from_names(names, at);
        if self.acr == ACR_MFA {
            raised.acr = ACR_MFA;
        }
        raised
    }

    /// A login through an OpenID Provider at `at`: the provider's `amr`
    /// when it is trusted and sent (`acr` `"mfa"` when it says `mfa` or
    /// names two factors), else `["fed"]`.
    pub fn federated(amr: Option<Vec<String>>, at: DateTime<Utc>) -> Self {
        let Some(names) = amr.filter(|a| !a.is_empty()) else {
            return Self::by(&[Method::Fed], at);
        };
        let said_mfa = names.iter().any(|n| n == AMR_MFA);
        let mut auth = Self::from_names(names.into_iter().filter(|n| n != AMR_MFA).collect(), at);
        if said_mfa && auth.acr != ACR_MFA {
            auth.amr.push(AMR_MFA.to_owned());
            auth.acr = ACR_MFA;
        }
        auth
    }

    /// As stored with a session: `amr` comma-separated, `acr` as is.
    pub fn from_stored(amr: &str, acr: &str, auth_time: DateTime<Utc>) -> Self {
        Self {
            auth_time,
            amr: amr
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect(),
            acr: if acr == ACR_MFA { ACR_MFA } else { ACR_PWD },
        }
    }

    /// `amr` as stored: comma-separated.
    pub fn stored_amr(&self) -> String {
        self.amr.join(",")
    }

    fn from_names(mut amr: Vec<String>, at: DateTime<Utc>) -> Self {
        let has = |m: Method| amr.iter().any(|n| n == m.as_str());
        let knows = has(Method::Pwd) || has(Method::Fed);
        let holds = has(Method::Otp) || has(Method::Hwk);
        // a passkey is possession and verification in one
        let passkey = has(Method::Hwk) && has(Method::User);
        let two_factors = knows && holds;
        if two_factors {
            amr.push(AMR_MFA.to_owned());
        }
        Self {
            auth_time: at,
            amr,
            acr: if two_factors || passkey {
                ACR_MFA
            } else {
                ACR_PWD
            },
        }
    }
}

/// What a route asks of how its caller authenticated (RFC 9470): a
/// second factor (`acr` `"mfa"`), an authentication at most `max_age`
/// seconds old, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requirement {
    pub mfa: bool,
    pub max_age: Option<i64>,
}

impl Requirement {
    /// A second factor.
    pub const MFA: Self = Self {
        mfa: true,
        max_age: None,
    };

    /// An authentication at most `secs` seconds old.
    pub const fn recent(secs: i64) -> Self {
        Self {
            mfa: false,
            max_age: Some(secs),
        }
    }

    /// What of this a token with `acr` and `auth_time` (Unix seconds)
    /// falls short of at `now`, as the challenge names it; `None` when it
    /// passes.
    pub fn unmet(&self, acr: &str, auth_time: i64, now: i64) -> Option<Requirement> {
        let mfa = self.mfa && acr != ACR_MFA;
        let max_age = self.max_age.filter(|max| now - auth_time > *max);
        (mfa || max_age.is_some()).then_some(Requirement { mfa, max_age })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn acr_and_amr_follow_the_methods_used() {
        let pwd = Authentication::by(&[Method::Pwd], at(1));
        assert_eq!(
            (pwd.amr.clone(), pwd.acr),
            (vec!["pwd".to_owned()], ACR_PWD)
        );
        let two = Authentication::by(&[Method::Pwd, Method::Otp], at(1));
        assert_eq!(two.amr, ["pwd", "otp", "mfa"]);
        assert_eq!(two.acr, ACR_MFA);
        let passkey = Authentication::by(&[Method::Hwk, Method::User], at(1));
        assert_eq!(passkey.amr, ["hwk", "user"]);
        assert_eq!(passkey.acr, ACR_MFA, "a passkey alone is multi-factor");
        assert_eq!(Authentication::by(&[Method::Otp], at(1)).acr, ACR_PWD);
    }

    #[test]
    fn a_requirement_names_only_what_the_token_falls_short_of() {
        let both = Requirement {
            mfa: true,
            max_age: Some(300),
        };
        assert_eq!(both.unmet(ACR_MFA, 1000, 1300), None, "mfa and 300 s old");
        assert_eq!(
            both.unmet(ACR_MFA, 1000, 1301),
            Some(Requirement::recent(300))
        );
        assert_eq!(both.unmet(ACR_PWD, 1000, 1001), Some(Requirement::MFA));
        assert_eq!(both.unmet(ACR_PWD, 0, 1001), Some(both));
        assert_eq!(Requirement::default().unmet(ACR_PWD, 0, 1 << 40), None);
    }

    #[test]
    fn a_step_up_adds_methods_moves_auth_time_and_never_lowers_acr() {
        let pwd = Authentication::by(&[Method::Pwd], at(1));
        let up = pwd.raised(&[Method::Otp], at(50));
        assert_eq!(up.amr, ["pwd", "otp", "mfa"]);
        assert_eq!((up.acr, up.auth_time), (ACR_MFA, at(50)));
        let again = up.raised(&[Method::Pwd], at(90));
        assert_eq!(again.amr, ["pwd", "otp", "mfa"]);
        assert_eq!((again.acr, again.auth_time), (ACR_MFA, at(90)));
        let stored = Authentication::from_stored(&again.stored_amr(), again.acr, at(90));
        assert_eq!(stored, again);
    }
}
