//! Callback signing as the platform does it: `ALI-LIVE-SIGNATURE` is the lower-case hex MD5
//! of `"<host>|<timestamp>|<key>"`, `ALI-LIVE-TIMESTAMP` the Unix time in seconds.
//!
//! Pure: the caller passes the headers and the clock.

use md5::{Digest, Md5};
use std::fmt;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "ali-live-timestamp";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "ali-live-signature";
/// Default of `[auth] max_skew`: how far a timestamp may be from the server's clock.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(300);
/// Key length the platform allows, in letters and digits.
pub const KEY_LEN: std::ops::RangeInclusive<usize> = 16..=32;

/// What to do with callbacks whose signature does not verify.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Do not look at signatures.
    #[default]
    Off,
    /// Answer normally, but log and count failures.
    Log,
    /// Refuse failures with 403.
    Enforce,
}

impl Mode {
    /// Reads `off`, `log` or `enforce`.
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "off" => Some(Mode::Off),
            "log" => Some(Mode::Log),
            "enforce" => Some(Mode::Enforce),
            _ => None,
        }
    }

    /// The name as the config writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Log => "log",
            Mode::Enforce => "enforce",
        }
    }
}

/// A signing key; never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    /// Accepts 16 to 32 ASCII letters and digits, as the platform requires.
    pub fn new(text: &str) -> Option<Key> {
        let text = text.trim();
        (KEY_LEN.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Key(text.to_owned()))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// Why a signature did not verify; also the `reason` label of its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A header is absent.
    Missing,
    /// The timestamp is not an integer or the signature not 32 hex digits.
    Malformed,
    /// The timestamp is further from now than `max_skew`.
    Stale,
    /// The signature is not the expected one.
    Wrong,
}

impl Failure {
    /// A stable code: `signature_missing`, `signature_malformed`, ...
    pub fn code(self) -> &'static str {
        match self {
            Failure::Missing => "signature_missing",
            Failure::Malformed => "signature_malformed",
            Failure::Stale => "signature_stale",
            Failure::Wrong => "signature_wrong",
        }
    }
}

/// Checks callback signatures against one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    /// What failures lead to.
    pub mode: Mode,
    key: Key,
    /// The host of the registered callback URL; `None` takes the request's `Host`.
    pub host: Option<String>,
    /// Largest accepted distance between the timestamp and now.
    pub max_skew: Duration,
}

/// The lower-case hex MD5 of `"<host>|<timestamp>|<key>"`.
pub fn sign(host: &str, timestamp: &str, key: &Key) -> String {
    let digest = Md5::digest(format!("{host}|{timestamp}|{}", key.0).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Verifier {
    /// A verifier in `mode` for `key`.
    pub fn new(mode: Mode, key: Key, host: Option<String>, max_skew: Duration) -> Verifier {
        Verifier {
            mode,
            key,
            host,
            max_skew,
        }
    }

    /// Verifies one request's headers at Unix time `now`; `host_header` is the request's
    /// `Host`, used when no host is configured (its port, if any, is not signed).
    pub fn verify(
        &self,
        host_header: Option<&[u8]>,
        timestamp: Option<&[u8]>,
        signature: Option<&[u8]>,
        now: i64,
    ) -> Result<(), Failure> {
        let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
            return Err(Failure::Missing);
        };
        let timestamp = std::str::from_utf8(timestamp).map_err(|_| Failure::Malformed)?;
        let seconds: i64 = timestamp.trim().parse().map_err(|_| Failure::Malformed)?;
        if signature.len() != 32 || !signature.iter().all(u8::is_ascii_hexdigit) {
            return Err(Failure::Malformed);
        }
        if seconds.abs_diff(now) > self.max_skew.as_secs() {
            return Err(Failure::Stale);
        }
        let host = match (&self.host, host_header) {
            (Some(host), _) => host.as_str(),
            (None, Some(header)) => {
                let header = std::str::from_utf8(header).map_err(|_| Failure::Malformed)?;
                strip_port(header)
            }
            (None, None) => return Err(Failure::Missing),
        };
        let expected = sign(host, timestamp.trim(), &self.key);
        let given = signature.to_ascii_lowercase();
        if bool::from(expected.as_bytes().ct_eq(&given)) {
            Ok(())
        } else {
            Err(Failure::Wrong)
        }
    }
}

/// `host:port` -> `host`; `[v6]:port` -> `[v6]`.
fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    /// Host header, timestamp, signature, clock, expected outcome.
    type Case<'a> = (
        Option<&'a [u8]>,
        Option<&'a [u8]>,
        Option<&'a [u8]>,
        i64,
        Result<(), Failure>,
    );

    fn key() -> Key {
        Key::new("abcdefghijklmnop1234").expect("valid key")
    }

    fn verifier(host: Option<&str>) -> Verifier {
        Verifier::new(
            Mode::Enforce,
            key(),
            host.map(str::to_owned),
            DEFAULT_MAX_SKEW,
        )
    }

    #[test]
    fn the_signature_is_md5_of_host_timestamp_and_key() {
        // Computed independently: md5("live.example.com|1700000000|abcdefghijklmnop1234").
        assert_eq!(
            sign("live.example.com", "1700000000", &key()),
            "bc60cf4e95aa38f1cf43e5d191097437"
        );
    }

    #[test]
    fn every_outcome_of_verification() {
        let good = b"bc60cf4e95aa38f1cf43e5d191097437".as_slice();
        let upper = b"BC60CF4E95AA38F1CF43E5D191097437".as_slice();
        let host = Some(b"live.example.com:8080".as_slice());
        let ts = Some(b"1700000000".as_slice());
        let v = verifier(None);
        let cases: [Case; 9] = [
            (host, ts, Some(good), NOW, Ok(())),
            (host, ts, Some(upper), NOW + 299, Ok(())),
            (host, None, Some(good), NOW, Err(Failure::Missing)),
            (host, ts, None, NOW, Err(Failure::Missing)),
            (
                host,
                Some(b"soon".as_slice()),
                Some(good),
                NOW,
                Err(Failure::Malformed),
            ),
            (
                host,
                ts,
                Some(b"xyz".as_slice()),
                NOW,
                Err(Failure::Malformed),
            ),
            (host, ts, Some(good), NOW + 301, Err(Failure::Stale)),
            (host, ts, Some(good), NOW - 301, Err(Failure::Stale)),
            (
                Some(b"other.example.com".as_slice()),
                ts,
                Some(good),
                NOW,
                Err(Failure::Wrong),
            ),
        ];
        for (host, ts, sig, now, expected) in cases {
            assert_eq!(
                v.verify(host, ts, sig, now),
                expected,
                "{host:?} {ts:?} {sig:?} {now}"
            );
        }
    }

    #[test]
    fn a_configured_host_wins_over_the_host_header() {
        let v = verifier(Some("live.example.com"));
        let outcome = v.verify(
            Some(b"10.0.0.7:8080"),
            Some(b"1700000000"),
            Some(b"bc60cf4e95aa38f1cf43e5d191097437"),
            NOW,
        );
        assert_eq!(outcome, Ok(()));
    }

    #[test]
    fn keys_are_16_to_32_letters_and_digits_and_never_printed() {
        assert!(Key::new("short").is_none());
        assert!(Key::new("has-a-dash-in-it-here").is_none());
        assert!(Key::new(&"a".repeat(33)).is_none());
        let key = key();
        assert!(
            !format!("{key:?}").contains("abcdefgh"),
            "Debug redacts the key"
        );
        assert!(!format!("{:?}", verifier(None)).contains("abcdefgh"));
    }
}
