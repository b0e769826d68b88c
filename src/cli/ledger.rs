//! `recgate recordings`, `recgate files` and `recgate usage`: the recording ledger of a
//! running server, read through its admin API and printed for a terminal.

use super::args::{AdminArgs, FilesArgs, RecordingsArgs, StreamFilter, UsageArgs};
use super::client::Client;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use std::fmt::Write as _;

/// A page of the admin API's listings.
#[derive(Deserialize)]
struct Page {
    items: Vec<Value>,
    next: Option<String>,
}

/// Every item of the paged listing at `path`.
async fn all(
    admin: &AdminArgs,
    path: &str,
    params: Vec<(&str, String)>,
) -> Result<Vec<Value>, String> {
    let client = Client::new(&admin.admin, admin.token.as_deref(), path)?;
    client
        .all_pages(params, |page: Page| (page.items, page.next))
        .await
}

fn filter_params(filter: &StreamFilter) -> Vec<(&'static str, String)> {
    [
        ("domain", &filter.domain),
        ("app", &filter.app),
        ("stream", &filter.stream),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
    .collect()
}

fn json(value: &impl serde::Serialize) -> Result<String, String> {
    serde_json::to_string_pretty(value)
        .map(|text| text + "\n")
        .map_err(|e| e.to_string())
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// `recgate recordings`.
pub async fn recordings(args: &RecordingsArgs) -> Result<String, String> {
    let mut params = filter_params(&args.filter);
    params.extend(args.state.clone().map(|s| ("state", s)));
    let items = all(&args.admin, "/recordings", params).await?;
    if args.admin.json {
        return json(&items);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:<24} {:<20} {:>6} {:>10}  STREAM",
        "STATE", "RULE", "SINCE", "FILES", "HOURS"
    );
    for r in &items {
        let hours = r["recorded_seconds"].as_f64().unwrap_or_default() / 3600.0;
        let since = text(&r["since"]);
        let _ = writeln!(
            out,
            "{:<10} {:<24} {:<20} {:>6} {:>10.2}  {}/{}/{}",
            text(&r["state"]),
            text(&r["rule"]),
            since.get(..19).unwrap_or(&since),
            text(&r["files"]),
            hours,
            text(&r["domain"]),
            text(&r["app"]),
            text(&r["stream"]),
        );
    }
    let _ = writeln!(out, "{} recording(s) in progress", items.len());
    Ok(out)
}

/// `recgate files`.
pub async fn files(args: &FilesArgs) -> Result<String, String> {
    let mut params = filter_params(&args.filter);
    params.extend(args.from.clone().map(|v| ("from", v)));
    params.extend(args.to.clone().map(|v| ("to", v)));
    let items = all(&args.admin, "/files", params).await?;
    if args.admin.json {
        return json(&items);
    }
    let mut out = String::new();
    let mut seconds = 0.0;
    for f in &items {
        let duration = f["duration"].as_f64().unwrap_or_default();
        seconds += duration;
        let start = f["start_time"]
            .as_i64()
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
            .map_or("-".to_owned(), |t| t.to_string());
        let _ = writeln!(out, "{start}  {duration:>9.1}s  {}", text(&f["uri"]));
    }
    let _ = writeln!(
        out,
        "{} file(s), {:.2} hours",
        items.len(),
        seconds / 3600.0
    );
    Ok(out)
}

/// `recgate usage`.
pub async fn usage(args: &UsageArgs) -> Result<String, String> {
    let client = Client::new(&args.admin.admin, args.admin.token.as_deref(), "/usage")?;
    let params = [
        ("from", args.from.clone()),
        ("to", args.to.clone()),
        ("by", args.by.clone()),
        ("tz", args.tz.clone()),
    ];
    let answer: Value = client.send(client.request(Method::GET, &params)).await?;
    if args.admin.json {
        return json(&answer);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<32} {:>10} {:>8} {:>6}",
        args.by.to_uppercase(),
        "HOURS",
        "FILES",
        "PEAK"
    );
    let (mut hours, mut files) = (0.0, 0);
    for row in answer["rows"].as_array().into_iter().flatten() {
        let h = row["recorded_seconds"].as_f64().unwrap_or_default() / 3600.0;
        let f = row["files"].as_u64().unwrap_or_default();
        hours += h;
        files += f;
        let _ = writeln!(
            out,
            "{:<32} {h:>10.2} {f:>8} {:>6}",
            text(&row["key"]),
            text(&row["peak_active"])
        );
    }
    let _ = writeln!(out, "{:<32} {hours:>10.2} {files:>8}", "total");
    Ok(out)
}
