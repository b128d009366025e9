//! Recovery codes: the way back in when the second factor is lost. Ten at
//! a time, each 16 symbols of Crockford's base32 (no `I`, `L`, `O`, `U`:
//! nothing reads as another symbol aloud or on paper), in groups of four:
//! `7KQ4-MN2X-9HPD-3TAW`, 80 random bits. What a user types is read
//! leniently (any case, any dashes or spaces, `O` for `0`, `I`/`L` for
//! `1`), then hashed: only the SHA-256 of the normal form is stored. At 80
//! bits a hash without a key is enough: nobody tries 2^80 candidates.

use rand::Rng;
use sha2::{Digest, Sha256};

/// How many codes a user holds at once.
pub const COUNT: usize = 10;
const SYMBOLS: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LENGTH: usize = 16;
const GROUP: usize = 4;

/// Ten new codes, formatted for reading.
pub fn generate() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..COUNT)
        .map(|_| {
            let symbols: Vec<char> = (0..LENGTH)
                .map(|_| char::from(SYMBOLS[rng.gen_range(0..SYMBOLS.len())]))
                .collect();
            symbols
                .chunks(GROUP)
                .map(|g| g.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// The normal form of what a user typed, if it can be a code.
pub fn normalize(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(LENGTH);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !SYMBOLS.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == LENGTH).then_some(out)
}

/// What is stored of a code: the SHA-256 of its normal form, in hex.
pub fn hash(normal: &str) -> String {
    Sha256::digest(normal.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_codes_of_80_bits_in_groups_of_four_without_look_alikes() {
        let codes = generate();
        assert_eq!(codes.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            assert_eq!(code.matches('-').count(), 3, "{code}");
            assert!(!code.contains(['I', 'L', 'O', 'U']), "{code}");
            assert_eq!(normalize(code).unwrap().len(), 16);
        }
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        // 16 symbols of 32: 80 bits, over the 50 the contract asks for
        assert!(LENGTH as f64 * (SYMBOLS.len() as f64).log2() >= 80.0);
    }

    #[test]
    fn codes_are_read_as_people_type_them() {
        let code = "7KQ4-MN2X-9HPD-3TA0";
        let normal = normalize(code).unwrap();
        assert_eq!(
            normalize("7kq4 mn2x 9hpd 3tao").as_deref(),
            Some(normal.as_str())
        );
        assert_eq!(
            normalize("7KQ4MN2X9HPD3TA0").as_deref(),
            Some(normal.as_str())
        );
        assert_eq!(
            normalize("IL00-0000-0000-0000").as_deref(),
            Some("1100000000000000")
        );
        assert_eq!(normalize("7KQ4-MN2X-9HPD-3TA"), None, "too short");
        assert_eq!(normalize("7KQ4-MN2X-9HPD-3TAU"), None, "U is no symbol");
        assert_eq!(normalize("7KQ4-MN2X-9HPD-3TÄ0"), None);
        assert_eq!(hash(&normal).len(), 64);
        assert_ne!(hash(&normal), normal);
    }
}
