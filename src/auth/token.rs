//! The admin API's bearer token, kept only as a digest and compared in constant time.

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// SECURITY: shortest accepted admin token.
pub const MIN_TOKEN_LEN: usize = 16;

/// A bearer token; only its SHA-256 is kept, so it never shows in a dump or a log.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken([u8; 32]);

impl AdminToken {
    /// Accepts at least `MIN_TOKEN_LEN` visible ASCII characters (surrounding white space
    /// is dropped, as a token file usually ends with a newline).
    pub fn new(text: &str) -> Option<AdminToken> {
        let text = text.trim();
        (text.len() >= MIN_TOKEN_LEN && text.bytes().all(|b| b.is_ascii_graphic()))
            .then(|| AdminToken(Sha256::digest(text.as_bytes()).into()))
    }

    /// Whether an `Authorization` header value is `Bearer <this token>`. Digests of equal
    /// length are compared in constant time, so neither content nor length leaks.
    pub fn verify(&self, authorization: Option<&[u8]>) -> bool {
        let Some(presented) = authorization.and_then(|value| value.strip_prefix(b"Bearer ")) else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(presented).into();
        digest.ct_eq(&self.0).into()
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_verifies() {
        let token = AdminToken::new("correct-horse-battery\n");
        let Some(token) = token else {
            panic!("a 21-character token is accepted")
        };
        assert!(token.verify(Some(b"Bearer correct-horse-battery")));
        for wrong in [
            &b"Bearer correct-horse-batter"[..],
            b"Bearer correct-horse-battery ",
            b"bearer correct-horse-battery",
            b"correct-horse-battery",
            b"Basic Y29ycmVjdA==",
            b"",
        ] {
            assert!(
                !token.verify(Some(wrong)),
                "{:?}",
                String::from_utf8_lossy(wrong)
            );
        }
        assert!(!token.verify(None));
        assert!(AdminToken::new("short").is_none());
        assert!(AdminToken::new("has a space in the middle").is_none());
        assert_eq!(format!("{token:?}"), "AdminToken(<redacted>)");
    }
}
