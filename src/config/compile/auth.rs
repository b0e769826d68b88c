//! `[auth]`, `[lifecycle.ingest_auth]` and `[lifecycle.notify_auth]`: signature checks.

use super::Problems;
use super::values::{DurationSetting, compile_duration, read_secret};
use crate::auth::signature::{DEFAULT_MAX_SKEW, Key, Mode, Verifier};
use crate::config::defaults::MAX_SIGNATURE_SKEW;
use crate::config::file::RawAuth;
use std::time::Duration;

/// `[auth]`: `Some(None)` when off, `Some(Some(verifier))` when on, `None` on errors.
/// Messages name the key's source, never the key.
pub(super) fn compile_auth(
    place: &str,
    raw: &RawAuth,
    problems: &mut Problems,
) -> Option<Option<Verifier>> {
    let before = problems.list.len();
    let mode = match raw.mode.as_deref().map(Mode::parse) {
        None => Mode::Off,
        Some(Some(mode)) => mode,
        Some(None) => {
            problems.add(
                place,
                Some("mode"),
                "expected \"off\", \"log\" or \"enforce\"",
            );
            return None;
        }
    };
    let max_skew = compile_duration(
        place,
        "max_skew",
        raw.max_skew.as_deref(),
        DurationSetting {
            default: DEFAULT_MAX_SKEW,
            min: Duration::ZERO,
            max: MAX_SIGNATURE_SKEW,
        },
        problems,
    );
    let sources = [
        raw.key_env.is_some(),
        raw.key_file.is_some(),
        raw.key.is_some(),
    ];
    let key_text = match sources.iter().filter(|s| **s).count() {
        0 if mode == Mode::Off => return (problems.list.len() == before).then_some(None),
        0 => {
            problems.add(
                place,
                None,
                "needs one of key_env, key_file or key unless mode = \"off\"",
            );
            None
        }
        1 => read_key(place, raw, problems),
        _ => {
            problems.add(place, None, "give only one of key_env, key_file and key");
            None
        }
    };
    let key = key_text.and_then(|(field, text)| {
        let key = Key::new(&text);
        if key.is_none() {
            problems.add(
                place,
                Some(field),
                "the key must be 16 to 32 letters and digits",
            );
        }
        key
    });
    if problems.list.len() > before {
        return None;
    }
    let (key, max_skew) = (key?, max_skew?);
    Some((mode != Mode::Off).then(|| Verifier::new(mode, key, raw.host.clone(), max_skew)))
}

/// The key's text and the field it came from.
fn read_key(place: &str, raw: &RawAuth, problems: &mut Problems) -> Option<(&'static str, String)> {
    if raw.key_env.is_some() || raw.key_file.is_some() {
        return read_secret(
            place,
            ("key_env", raw.key_env.as_deref()),
            ("key_file", raw.key_file.as_deref()),
            problems,
        );
    }
    raw.key.clone().map(|text| ("key", text))
}
