//! Reading a large config on every core: the text is cut before `[[rule]]` header lines,
//! the pieces are parsed in parallel, and the results joined in file order.
//!
//! Cutting before a table header never changes what a valid file means: every piece after
//! the first starts with a header, so it parses exactly as it does inside the whole file.
//! A cut inside a multi-line string leaves the piece before it with an unterminated string,
//! which fails to parse. Any failure, or a section found in two pieces, returns `None`,
//! and the caller reads the file in one pass, which stays the reference.

use super::file::{
    RawAdmin, RawAuth, RawConfig, RawDecision, RawLifecycle, RawOverrides, RawPlatform, RawQuota,
    RawRule, RawServer,
};
use rayon::prelude::*;
use serde::Deserialize;

/// Files smaller than this are read in one pass: splitting pays only for thousands of rules.
pub const PARALLEL_PARSE_MIN_BYTES: usize = 1 << 20;

/// Pieces per worker thread, so that uneven pieces still keep every core busy.
const PIECES_PER_THREAD: usize = 4;

/// What one piece of the file holds: any section, and rules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Piece {
    server: Option<RawServer>,
    admin: Option<RawAdmin>,
    auth: Option<RawAuth>,
    platform: Option<RawPlatform>,
    overrides: Option<RawOverrides>,
    lifecycle: Option<RawLifecycle>,
    default: Option<RawDecision>,
    #[serde(default)]
    rule: Vec<RawRule>,
    #[serde(default)]
    quota: Vec<RawQuota>,
}

/// Reads a valid file in parallel; `None` when the file is small, or anything is off.
pub fn parse(text: &str) -> Option<RawConfig> {
    if text.len() < PARALLEL_PARSE_MIN_BYTES {
        return None;
    }
    parse_in(text, rayon::current_num_threads() * PIECES_PER_THREAD)
}

/// Reads `text` cut into about `count` runs of rules.
fn parse_in(text: &str, count: usize) -> Option<RawConfig> {
    let pieces = cut(text, count);
    let parsed: Vec<Option<Piece>> = pieces
        .par_iter()
        .map(|piece| {
            let de = toml::Deserializer::parse(piece).ok()?;
            Piece::deserialize(de).ok()
        })
        .collect();
    let mut parsed = parsed.into_iter();
    // The part before the first cut holds the sections; rules there would be written
    // another way (an inline array), which only the one-pass parse judges correctly.
    let mut whole = parsed.next()??;
    if !whole.rule.is_empty() {
        return None;
    }
    for piece in parsed {
        join(&mut whole, piece?)?;
    }
    Some(RawConfig {
        server: whole.server.unwrap_or_default(),
        admin: whole.admin.unwrap_or_default(),
        auth: whole.auth.unwrap_or_default(),
        platform: whole.platform.unwrap_or_default(),
        overrides: whole.overrides.unwrap_or_default(),
        lifecycle: whole.lifecycle.unwrap_or_default(),
        default: whole.default?,
        rule: whole.rule,
        quota: whole.quota,
    })
}

/// Adds `piece` to `whole`; `None` when both hold the same section.
fn join(whole: &mut Piece, piece: Piece) -> Option<()> {
    fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
        match (slot.is_some(), value) {
            (true, Some(_)) => None,
            (_, None) => Some(()),
            (false, value) => {
                *slot = value;
                Some(())
            }
        }
    }
    once(&mut whole.server, piece.server)?;
    once(&mut whole.admin, piece.admin)?;
    once(&mut whole.auth, piece.auth)?;
    once(&mut whole.platform, piece.platform)?;
    once(&mut whole.overrides, piece.overrides)?;
    once(&mut whole.lifecycle, piece.lifecycle)?;
    once(&mut whole.default, piece.default)?;
    whole.rule.extend(piece.rule);
    whole.quota.extend(piece.quota);
    Some(())
}

/// Whether `line` is a `[[rule]]` header, possibly indented or followed by a comment.
fn is_rule_header(line: &str) -> bool {
    line.trim_start()
        .strip_prefix("[[rule]]")
        .is_some_and(|rest| {
            let rest = rest.trim_start();
            rest.is_empty() || rest.starts_with('#')
        })
}

/// Cuts `text` before the first `[[rule]]` header, then into about `count` runs of rules,
/// each starting at a header.
fn cut(text: &str, count: usize) -> Vec<&str> {
    let mut headers = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if is_rule_header(line) {
            headers.push(offset);
        }
        offset += line.len();
    }
    let Some(&first) = headers.first() else {
        return vec![text];
    };
    let per_piece = headers.len().div_ceil(count.max(1));
    let mut starts: Vec<usize> = headers.iter().step_by(per_piece).copied().collect();
    if starts.first() != Some(&first) {
        starts.insert(0, first);
    }
    let mut pieces = vec![&text[..first]];
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        pieces.push(&text[start..end]);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(n: usize) -> String {
        let mut text = String::from("[server]\nlisten = \"127.0.0.1:1\"\n\n");
        for i in 0..n {
            text.push_str(&format!(
                "[[rule]]  # number {i}\nname = \"r{i}\"\nstream = \"s{i}-*\"\nrecord = true\n\n"
            ));
        }
        text.push_str("[default]\nrecord = false\n");
        // Pad past the threshold with comments.
        while text.len() < PARALLEL_PARSE_MIN_BYTES {
            text.push_str("# padding padding padding padding padding padding padding\n");
        }
        text
    }

    #[test]
    fn pieces_join_into_what_one_pass_reads() {
        let text = rules(5000);
        let whole: RawConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let joined = parse(&text).unwrap_or_else(|| panic!("parsed in pieces"));
        let names = |c: &RawConfig| c.rule.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&joined), names(&whole));
        assert_eq!(joined.server.listen, whole.server.listen);
        assert!(!joined.default.record);
    }

    #[test]
    fn cuts_fall_only_before_rule_headers() {
        let text = "a = 1\n[[rule]]\nx = 1\n  [[rule]] # c\ny = 2\n[[rule]]\n";
        let pieces = cut(text, 2);
        assert_eq!(pieces.concat(), text, "nothing lost or repeated");
        assert_eq!(pieces[0], "a = 1\n");
        assert!(
            pieces[1..]
                .iter()
                .all(|p| is_rule_header(p.lines().next().unwrap_or("")))
        );
        assert!(!is_rule_header("[[rules]]"));
        assert!(!is_rule_header("[[rule]] x"));
    }

    #[test]
    fn anything_unusual_falls_back_to_one_pass() {
        // A header inside a multi-line string is not a cut that parses (with a cut before
        // every header, it is surely cut).
        let text = rules(100);
        let tricky = text.replacen(
            "stream = \"s50-*\"",
            "stream = \"\"\"\n[[rule]]\nname = \"x\"\n\"\"\"",
            1,
        );
        assert!(
            toml::from_str::<RawConfig>(&tricky).is_ok(),
            "valid as a whole"
        );
        assert!(parse_in(&tricky, usize::MAX).is_none());
        // A section twice, in two pieces: the one-pass parse must refuse it.
        let twice = format!(
            "{text}\n[[rule]]\nname = \"late\"\nrecord = false\n[default]\nrecord = true\n"
        );
        assert!(parse(&twice).is_none());
        // Rules as an inline array before the headers.
        let inline = text.replacen(
            "[server]",
            "rule = [{ name = \"i\", record = true }]\n[server]",
            1,
        );
        assert!(parse(&inline).is_none());
    }
}
