//! The platform's lifecycle callbacks as typed values: the stream ingest callback (a
//! query string) and the recording notify callbacks (JSON bodies), read as the platform's
//! documentation lays them out.

use crate::query::Query;
use foldhash::HashMap;
use serde::Deserialize;
use std::collections::BTreeMap;

/// What a recording is keyed by: the streaming domain (lower-cased), the app, the stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct RecordingKey {
    /// The streaming domain, lower-cased.
    pub domain: String,
    /// The application name.
    pub app: String,
    /// The stream name.
    pub stream: String,
}

impl RecordingKey {
    /// The key of the stream an on-demand callback asked about (its domain is lower-cased
    /// already).
    pub fn of_query(query: &Query) -> RecordingKey {
        RecordingKey {
            domain: query.domain.to_string(),
            app: query.app.to_string(),
            stream: query.stream.to_string(),
        }
    }
}

/// `[platform] ingest_domains`: ingest domain to streaming domain. An ingest domain not
/// listed is its own streaming domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainMap(HashMap<String, String>);

impl DomainMap {
    /// A map from lower-cased pairs.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> DomainMap {
        DomainMap(
            pairs
                .into_iter()
                .map(|(ingest, streaming)| (ingest.to_lowercase(), streaming.to_lowercase()))
                .collect(),
        )
    }

    /// The streaming domain of `ingest`, lower-cased.
    pub fn streaming_domain(&self, ingest: &str) -> String {
        let ingest = ingest.to_lowercase();
        self.0.get(&ingest).cloned().unwrap_or(ingest)
    }
}

/// One lifecycle event, reduced to what the ledger needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Ingest started (`action=publish`).
    Publish,
    /// Ingest ended (`action=publish_done`): the recording, if any, ends.
    PublishDone,
    /// `record_started`.
    Started,
    /// `record_paused`.
    Paused,
    /// `record_resumed`.
    Resumed,
    /// A recording file was written.
    File(FileWritten),
    /// An operator removed the recording through the admin API: it ends.
    Removed,
    /// An `action` or `event` this version does not act on; answered 200 all the same,
    /// since any other status only makes the platform retry.
    Unknown(String),
}

impl Event {
    /// The kind, as metrics label it.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Publish => "publish",
            Event::PublishDone => "publish_done",
            Event::Started => "record_started",
            Event::Paused => "record_paused",
            Event::Resumed => "record_resumed",
            Event::File(_) => "file",
            Event::Removed => "removed",
            Event::Unknown(_) => "unknown",
        }
    }
}

/// A file event's body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FileWritten {
    /// The object's path in the user's bucket; a file is counted once by it.
    pub uri: String,
    /// Seconds of content, fractional.
    pub duration: f64,
    /// Unix seconds of its first frame.
    pub start_time: i64,
    /// Unix seconds of its last frame.
    pub stop_time: i64,
    /// The ingest URL's `callback_*` arguments.
    #[serde(default)]
    pub push_args: BTreeMap<String, String>,
}

/// A notify callback's body: a status event carries `event`, a file event `uri`.
#[derive(Debug, Deserialize)]
struct NotifyBody {
    domain: String,
    app: String,
    stream: String,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    start_time: Option<i64>,
    #[serde(default)]
    stop_time: Option<i64>,
    #[serde(default)]
    push_args: BTreeMap<String, String>,
}

/// Why a notify body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// Not JSON, or a field of the wrong type or missing.
    #[error("{0}")]
    Malformed(String),
    /// A file event without one of its fields.
    #[error("a file event needs {0}")]
    MissingField(&'static str),
}

/// Reads a notify callback's JSON body: the recording it is about and what happened.
pub fn parse_notify(body: &[u8]) -> Result<(RecordingKey, Event), NotifyError> {
    let body: NotifyBody =
        serde_json::from_slice(body).map_err(|e| NotifyError::Malformed(e.to_string()))?;
    let key = RecordingKey {
        domain: body.domain.to_lowercase(),
        app: body.app,
        stream: body.stream,
    };
    let event = match (body.event.as_deref(), body.uri) {
        (_, Some(uri)) => Event::File(FileWritten {
            uri,
            duration: body.duration.ok_or(NotifyError::MissingField("duration"))?,
            start_time: body
                .start_time
                .ok_or(NotifyError::MissingField("start_time"))?,
            stop_time: body
                .stop_time
                .ok_or(NotifyError::MissingField("stop_time"))?,
            push_args: body.push_args,
        }),
        (Some("record_started"), None) => Event::Started,
        (Some("record_paused"), None) => Event::Paused,
        (Some("record_resumed"), None) => Event::Resumed,
        (Some(other), None) => Event::Unknown(other.to_owned()),
        (None, None) => return Err(NotifyError::MissingField("event or uri")),
    };
    Ok((key, event))
}

/// Reads an ingest callback's query string: `app` is the ingest domain, mapped to the
/// streaming domain by `domains`; `appname` is the app and `id` the stream.
pub fn parse_ingest(raw: &str, domains: &DomainMap) -> (RecordingKey, Event) {
    let mut action = String::new();
    let (mut ingest, mut app, mut stream) = (String::new(), String::new(), String::new());
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        let slot = match &*name {
            "action" => &mut action,
            "app" => &mut ingest,
            "appname" => &mut app,
            "id" => &mut stream,
            _ => continue,
        };
        if slot.is_empty() {
            *slot = value.into_owned();
        }
    }
    let key = RecordingKey {
        domain: domains.streaming_domain(&ingest),
        app,
        stream,
    };
    let event = match action.as_str() {
        "publish" => Event::Publish,
        "publish_done" => Event::PublishDone,
        other => Event::Unknown(other.to_owned()),
    };
    (key, event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_file_body_reads_as_a_file_event() {
        let body = br#"{"domain":"Live.Example.com","app":"live","stream":"room42","uri":"live/room42/0_2017-03-08-23:09:46_2017-03-08-23:10:40.flv","duration":69.403,"start_time":1488985786,"stop_time":1488985840,"push_args":{"callback_myid":"123"}}"#;
        let (key, event) = parse_notify(body).expect("the documented sample reads");
        assert_eq!(
            key.domain, "live.example.com",
            "domains compare lower-cased"
        );
        let Event::File(file) = event else {
            panic!("a file event: {event:?}")
        };
        assert_eq!(file.duration, 69.403);
        assert_eq!(
            file.push_args.get("callback_myid").map(String::as_str),
            Some("123")
        );
    }

    #[test]
    fn status_events_read_by_name_and_unknown_ones_are_kept_as_unknown() {
        let cases = [
            ("record_started", Event::Started),
            ("record_paused", Event::Paused),
            ("record_resumed", Event::Resumed),
            ("record_error", Event::Unknown("record_error".into())),
        ];
        for (name, expected) in cases {
            let body = format!(r#"{{"domain":"d","app":"a","stream":"s","event":"{name}"}}"#);
            let (_, event) = parse_notify(body.as_bytes()).expect("reads");
            assert_eq!(event, expected, "{name}");
        }
    }

    #[test]
    fn bad_notify_bodies_are_refused_with_a_reason() {
        let cases: [(&[u8], &str); 4] = [
            (b"not json", "expected"),
            (
                br#"{"domain":"d","app":"a","stream":1,"event":"record_started"}"#,
                "invalid type",
            ),
            (br#"{"domain":"d","app":"a","stream":"s"}"#, "event or uri"),
            (
                br#"{"domain":"d","app":"a","stream":"s","uri":"x"}"#,
                "duration",
            ),
        ];
        for (body, why) in cases {
            let error = parse_notify(body).expect_err("refused");
            assert!(error.to_string().contains(why), "{error} for {body:?}");
        }
    }

    #[test]
    fn an_ingest_event_names_the_streaming_domain_through_the_map() {
        let map = DomainMap::new([("push.example.com".into(), "live.example.com".into())]);
        let (key, event) = parse_ingest(
            "action=publish_done&ip=1.2.3.4&id=room42&app=PUSH.example.com&appname=live&time=1",
            &map,
        );
        assert_eq!(event, Event::PublishDone);
        assert_eq!(
            key,
            RecordingKey {
                domain: "live.example.com".into(),
                app: "live".into(),
                stream: "room42".into()
            }
        );
        let (key, event) = parse_ingest("action=publish&app=other.example.com&id=s", &map);
        assert_eq!(event, Event::Publish);
        assert_eq!(
            key.domain, "other.example.com",
            "an unmapped domain is its own"
        );
        let (_, event) = parse_ingest("action=rewind", &map);
        assert_eq!(event, Event::Unknown("rewind".into()));
    }
}
