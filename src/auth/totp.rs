//! Time-based one-time passwords (RFC 6238: HMAC-SHA-1, 6 digits, 30 s
//! steps), computed by `totp-rs`: a new secret, the `otpauth://` URI of
//! the Key Uri Format for authenticator apps, its QR code as SVG (the
//! `qrcode` crate), and which step a code belongs to. Accepting a code
//! once per step is the caller's: it stores the last step it accepted and
//! accepts only later ones.
//!
//! Pure: no clock (callers pass Unix seconds), no storage.

use qrcode::QrCode;
use qrcode::render::svg;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

/// Seconds per step.
pub const STEP_SECS: u64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// Bytes of a new secret: 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;

/// A TOTP seed. Its `Debug` prints nothing.
pub struct TotpSecret(SecretSlice<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

impl TotpSecret {
    /// A new random seed.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes.into())
    }

    /// The seed from its raw bytes (as unsealed from storage).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// The seed in base32 without padding, as users type it into an app.
    pub fn base32(&self) -> String {
        base32::encode(base32::Alphabet::Rfc4648 { padding: false }, self.expose())
    }

    /// The Key Uri Format URI (`otpauth://totp/ISSUER:ACCOUNT?secret=…`).
    /// `None` when the issuer or account cannot be written in one (a `:`).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Option<String> {
        self.totp(Some(issuer), account).map(|t| t.get_url())
    }

    /// Which step `code` is the code of, among the one of `unix_secs` and
    /// the one before and after (RFC 6238 §5.2's allowance for clock
    /// drift). Compared in constant time.
    pub fn matching_step(&self, code: &str, unix_secs: u64) -> Option<u64> {
        self.matching_step_of(code, unix_secs, DIGITS)
    }

    fn matching_step_of(&self, code: &str, unix_secs: u64, digits: usize) -> Option<u64> {
        let code = code.trim();
        if code.len() != digits || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp_of(None, "", digits)?;
        let now = unix_secs / STEP_SECS;
        // every candidate is computed, so the time does not tell which matched
        let mut found = None;
        for step in [now.saturating_sub(1), now, now + 1] {
            let expected = totp.generate(step * STEP_SECS);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                found = found.or(Some(step));
            }
        }
        found
    }

    /// The code of `step` (for the demo and the tests).
    pub fn code_at(&self, unix_secs: u64) -> Option<String> {
        Some(self.totp(None, "")?.generate(unix_secs))
    }

    fn totp(&self, issuer: Option<&str>, account: &str) -> Option<TOTP> {
        self.totp_of(issuer, account, DIGITS)
    }

    fn totp_of(&self, issuer: Option<&str>, account: &str, digits: usize) -> Option<TOTP> {
        // new_unchecked: a seed of the RFC's own test vectors is shorter
        // than the 128 bits `new` insists on; ours are 160
        let totp = TOTP::new_unchecked(
            Algorithm::SHA1,
            digits,
            1,
            STEP_SECS,
            self.expose().to_vec(),
            issuer.map(str::to_owned),
            account.to_owned(),
        );
        let label_ok = !account.contains(':') && issuer.is_none_or(|i| !i.contains(':'));
        label_ok.then_some(totp)
    }
}

/// `uri` as a QR code in SVG, for the enrolment screen.
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B: the SHA-1 seed and its 8-digit codes.
    const RFC_SEED: &[u8] = b"12345678901234567890";
    const RFC_VECTORS: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn the_rfc_6238_sha1_vectors_pass_through_our_check() {
        let secret = TotpSecret::from_bytes(RFC_SEED.to_vec());
        for (time, code) in RFC_VECTORS {
            let step = time / STEP_SECS;
            assert_eq!(secret.matching_step_of(code, time, 8), Some(step), "{time}");
            // a 6-digit code is the same value modulo 10^6: its last 6 digits
            assert_eq!(secret.matching_step(&code[2..], time), Some(step), "{time}");
            assert_eq!(secret.code_at(time).as_deref(), Some(&code[2..]));
        }
    }

    #[test]
    fn the_steps_beside_are_accepted_and_two_away_refused() {
        let secret = TotpSecret::generate();
        let t = 1_800_000_015;
        let code = secret.code_at(t).unwrap();
        assert_eq!(secret.matching_step(&code, t), Some(t / 30));
        assert_eq!(secret.matching_step(&code, t - 30), Some(t / 30));
        assert_eq!(secret.matching_step(&code, t + 30), Some(t / 30));
        assert_eq!(secret.matching_step(&code, t + 60), None);
        assert_eq!(secret.matching_step(&code, t - 60), None);
    }

    #[test]
    fn malformed_codes_match_nothing() {
        let secret = TotpSecret::from_bytes(RFC_SEED.to_vec());
        for code in ["", "28708", "2870822", "28708a", "２８７０８２"] {
            assert_eq!(secret.matching_step(code, 59), None, "{code}");
        }
        assert_eq!(
            secret.matching_step(" 287082 ", 59),
            Some(1),
            "spaces around are fine"
        );
    }

    #[test]
    fn the_uri_follows_the_key_uri_format_and_renders_as_a_qr_code() {
        let secret = TotpSecret::from_bytes(RFC_SEED.to_vec());
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let uri = secret.otpauth_uri("portcullis", "alice").unwrap();
        assert!(uri.starts_with("otpauth://totp/portcullis:alice?"), "{uri}");
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        assert!(uri.contains("issuer=portcullis"), "{uri}");
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
        assert!(secret.otpauth_uri("a:b", "alice").is_none());
        assert!(!format!("{secret:?}").contains("GEZ"));
    }
}
