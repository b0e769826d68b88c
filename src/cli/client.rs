//! `recgate override set|list|delete`: the operators' client of a running server's admin
//! API, so nobody has to hand-write JSON for curl.

use crate::cli::args::{OverrideAction, OverrideArgs, OverrideKeyArgs, OverrideSetArgs};
use crate::decision::IntervalSpec;
use crate::overrides::{MAX_LIST_LIMIT, OverrideRequest, OverrideView};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use std::fmt::Write as _;
use std::time::Duration;

/// SECURITY: how long the client waits for the admin API before giving up.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs one `recgate override` action and returns what to print.
pub async fn run(args: &OverrideArgs) -> Result<String, String> {
    let client = Client::new(&args.admin, args.token.as_deref(), "/overrides")?;
    match &args.action {
        OverrideAction::Set(set) => {
            let body = set_request(set)?;
            let stored: OverrideView = client
                .send(client.request(Method::PUT, &[]).json(&body))
                .await?;
            Ok(format!("set {}\n", line(&stored)))
        }
        OverrideAction::Delete(key) => {
            let deleted: OverrideView = client
                .send(client.request(Method::DELETE, &key_params(key)))
                .await?;
            Ok(format!("deleted {}\n", line(&deleted)))
        }
        OverrideAction::List(list) => {
            let mut params = Vec::new();
            for (name, value) in [
                ("domain", &list.domain),
                ("app", &list.app),
                ("stream", &list.stream),
            ] {
                if let Some(value) = value {
                    params.push((name, value.clone()));
                }
            }
            let overrides = client
                .all_pages(params, |page: Listed| (page.overrides, page.next))
                .await?;
            if list.json {
                return serde_json::to_string_pretty(&overrides)
                    .map(|text| text + "\n")
                    .map_err(|e| e.to_string());
            }
            let mut out = String::new();
            for item in &overrides {
                let _ = writeln!(out, "{}", line(item));
            }
            let _ = writeln!(out, "{} override(s)", overrides.len());
            Ok(out)
        }
    }
}

#[derive(Deserialize)]
struct Listed {
    overrides: Vec<OverrideView>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
}

/// A client of one endpoint of the admin API.
pub(super) struct Client {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
}

impl Client {
    /// A client of `path` on the admin listener at `admin`.
    pub(super) fn new(admin: &str, token: Option<&str>, path: &str) -> Result<Client, String> {
        let base = if admin.starts_with("http://") || admin.starts_with("https://") {
            admin.trim_end_matches('/').to_owned()
        } else {
            format!("http://{admin}")
        };
        let http = reqwest::Client::builder()
            .timeout(CLIENT_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Client {
            http,
            url: format!("{base}{path}"),
            token: token.map(str::to_owned),
        })
    }

    /// A request with the token and `params`.
    pub(super) fn request(&self, method: Method, params: &[(&str, String)]) -> RequestBuilder {
        let request = self.http.request(method, &self.url).query(params);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Every item of a paged listing, the largest pages the server allows, following
    /// `next`; `split` takes a page apart into its items and the next page's `after`.
    pub(super) async fn all_pages<P, T>(
        &self,
        mut params: Vec<(&str, String)>,
        split: impl Fn(P) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>, String>
    where
        P: for<'de> Deserialize<'de>,
    {
        params.push(("limit", MAX_LIST_LIMIT.to_string()));
        let mut items = Vec::new();
        loop {
            let (page, next) = split(self.send(self.request(Method::GET, &params)).await?);
            items.extend(page);
            match next {
                Some(next) => {
                    params.retain(|(name, _)| *name != "after");
                    params.push(("after", next));
                }
                None => return Ok(items),
            }
        }
    }

    /// Sends `request`; the answer read as `T`, or the API's error as text.
    pub(super) async fn send<T: for<'de> Deserialize<'de>>(
        &self,
        request: RequestBuilder,
    ) -> Result<T, String> {
        let response = request
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {e}", self.url))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if status != StatusCode::OK {
            return Err(match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(error) => format!("{status}: {} ({})", error.message, error.error),
                Err(_) => format!("{status}: {}", String::from_utf8_lossy(&body).trim()),
            });
        }
        serde_json::from_slice(&body).map_err(|e| format!("unexpected answer: {e}"))
    }
}

fn key_params(key: &OverrideKeyArgs) -> Vec<(&'static str, String)> {
    let mut params = vec![("stream", key.stream.clone())];
    if let Some(domain) = &key.domain {
        params.push(("domain", domain.clone()));
    }
    if let Some(app) = &key.app {
        params.push(("app", app.clone()));
    }
    params
}

/// The request body `set` sends; the server validates it (and names any bad field).
fn set_request(set: &OverrideSetArgs) -> Result<OverrideRequest, String> {
    let mut interval: Option<IntervalSpec> = None;
    for entry in &set.intervals {
        let (format, secs) = entry.split_once('=').ok_or(format!(
            "--interval {entry:?}: expected FORMAT=SECONDS, e.g. mp4=600"
        ))?;
        let secs: i64 = secs
            .parse()
            .map_err(|_| format!("--interval {entry:?}: {secs:?} is not a number of seconds"))?;
        let slot = interval.get_or_insert_default();
        match format {
            "mp4" => slot.mp4 = Some(secs),
            "flv" => slot.flv = Some(secs),
            "m3u8" => slot.m3u8 = Some(secs),
            other => {
                return Err(format!(
                    "--interval: unknown format {other:?}; expected mp4, flv or m3u8"
                ));
            }
        }
    }
    let ttl = set.ttl.as_deref().map(parse_ttl).transpose()?;
    Ok(OverrideRequest {
        domain: set.key.domain.clone(),
        app: set.key.app.clone(),
        stream: set.key.stream.clone(),
        record: set.record,
        formats: (!set.formats.is_empty()).then(|| set.formats.clone()),
        interval,
        ttl,
        expires_at: set.expires_at.clone(),
        reason: set.reason.clone(),
    })
}

/// `3600`, `90m`, `8h`, `1h30m` as seconds.
fn parse_ttl(text: &str) -> Result<i64, String> {
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    text.parse::<jiff::SignedDuration>()
        .map(|d| d.as_secs())
        .map_err(|_| format!("--ttl {text:?}: expected seconds or a duration such as 90m or 8h"))
}

/// One override on one line: key, decision, expiry, reason.
fn line(item: &OverrideView) -> String {
    let any = |s: &Option<String>| s.clone().unwrap_or_else(|| "*".to_owned());
    let mut out = format!(
        "{}/{}/{}  {}",
        any(&item.domain),
        any(&item.app),
        item.stream,
        if item.record { "record" } else { "skip" }
    );
    if let Some(formats) = &item.formats {
        let names: Vec<&str> = formats.iter().map(|f| f.as_str()).collect();
        let _ = write!(out, " as {}", names.join(","));
    }
    if let Some(interval) = &item.interval {
        for (name, secs) in [
            ("mp4", interval.mp4),
            ("flv", interval.flv),
            ("m3u8", interval.m3u8),
        ] {
            if let Some(secs) = secs {
                let _ = write!(out, " {name}={secs}s");
            }
        }
    }
    match &item.expires_at {
        Some(end) => {
            let _ = write!(out, "  until {end}");
        }
        None => out.push_str("  no expiry"),
    }
    if let Some(reason) = &item.reason {
        let _ = write!(out, "  ({reason})");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_read_as_seconds_or_durations() {
        assert_eq!(parse_ttl("3600"), Ok(3600));
        assert_eq!(parse_ttl("90m"), Ok(5400));
        assert_eq!(parse_ttl("1h30m"), Ok(5400));
        assert!(parse_ttl("soon").is_err());
    }
}
