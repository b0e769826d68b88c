//! Plays the platform against a running recgate: for each of N streams, the on-demand
//! callback, the ingest `publish`, `record_started`, a file per cycle, `publish_done`,
//! with optional signatures, retries and out-of-order delivery. Prints what was sent, what
//! recgate answered, and the events per second.
//!
//! ```sh
//! cargo run --release --example replay -- --target http://127.0.0.1:8080 \
//!     --ingest-path /ingest --notify-path /notify --streams 1000 --files 5
//! ```
//!
//! Check a deployment: run it against the servers, then `recgate recordings` and
//! `recgate usage` should show what it sent.
#![allow(clippy::expect_used)]

use clap::Parser;
use recgate::auth::signature::{Key, sign};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Parser)]
struct Args {
    /// Base URL of the public listener.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    target: String,
    /// `[server] callback_path`.
    #[arg(long, default_value = "/")]
    callback_path: String,
    /// `[lifecycle] ingest_path`.
    #[arg(long, default_value = "/ingest")]
    ingest_path: String,
    /// `[lifecycle] notify_path`.
    #[arg(long, default_value = "/notify")]
    notify_path: String,
    /// The streaming domain of the streams.
    #[arg(long, default_value = "live.example.com")]
    domain: String,
    /// The ingest domain the ingest events name (mapped by `[platform] ingest_domains`).
    #[arg(long, default_value = "live.example.com")]
    ingest_domain: String,
    /// The app of the streams.
    #[arg(long, default_value = "edu")]
    app: String,
    /// Stream names are this prefix and a number.
    #[arg(long, default_value = "course-")]
    prefix: String,
    /// How many streams.
    #[arg(long, default_value_t = 100)]
    streams: usize,
    /// Files per stream.
    #[arg(long, default_value_t = 3)]
    files: usize,
    /// Seconds of content per file.
    #[arg(long, default_value_t = 300.0)]
    file_seconds: f64,
    /// Streams played at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Send every lifecycle event this many times (the platform's retries).
    #[arg(long, default_value_t = 1)]
    copies: usize,
    /// Deliver out of order: the first file before `record_started`, `publish_done`
    /// before the last file.
    #[arg(long)]
    shuffle: bool,
    /// Sign with this key (16-32 letters and digits), as the platform does.
    #[arg(long)]
    key: Option<String>,
    /// Leave the streams recording (no `publish_done`).
    #[arg(long)]
    keep: bool,
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    failed: AtomicU64,
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .expect("an HTTP client");
    let counts = Arc::new(Counts::default());
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (args, client, counts, next) = (
                Arc::clone(&args),
                client.clone(),
                Arc::clone(&counts),
                Arc::clone(&next),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= args.streams {
                        return;
                    }
                    play(&args, &client, &counts, i).await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a worker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let sent = counts.sent.load(Ordering::Relaxed);
    let failed = counts.failed.load(Ordering::Relaxed);
    println!(
        "streams {} events {sent} failed {failed} seconds {elapsed:.2} events/s {:.0}",
        args.streams,
        sent as f64 / elapsed
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

/// Everything the platform sends about stream `i`.
async fn play(args: &Args, client: &reqwest::Client, counts: &Counts, i: usize) {
    let stream = format!("{}{i}", args.prefix);
    let callback = format!(
        "{}{}?domain={}&app={}&stream={stream}&codec=h265&vbitrate=2500",
        args.target, args.callback_path, args.domain, args.app
    );
    send(args, counts, client.get(callback), &args.domain).await;
    let ingest = |action: &str| {
        format!(
            "{}{}?action={action}&app={}&appname={}&id={stream}&ip=127.0.0.1&node=replay&time={}",
            args.target,
            args.ingest_path,
            args.ingest_domain,
            args.app,
            jiff::Timestamp::now().as_second()
        )
    };
    let notify = format!("{}{}", args.target, args.notify_path);
    let status = serde_json::json!({"domain": args.domain, "app": args.app, "stream": stream, "event": "record_started"});
    // The files' content lies in the past, as a recording's files do when they arrive.
    let start = jiff::Timestamp::now().as_second() - (args.files as f64 * args.file_seconds) as i64;
    let files: Vec<serde_json::Value> = (0..args.files)
        .map(|n| {
            let from = start + (n as f64 * args.file_seconds) as i64;
            serde_json::json!({
                "domain": args.domain, "app": args.app, "stream": stream,
                "uri": format!("{}/{stream}/{start}-{n}.mp4", args.app),
                "duration": args.file_seconds, "start_time": from,
                "stop_time": from + args.file_seconds as i64,
                "push_args": {"callback_replay": "1"}
            })
        })
        .collect();
    let mut events: Vec<Event> = vec![Event::Get(ingest("publish")), Event::Post(status)];
    events.extend(files.into_iter().map(Event::Post));
    if !args.keep {
        events.push(Event::Get(ingest("publish_done")));
    }
    if args.shuffle && events.len() >= 4 {
        events.swap(1, 2); // the first file before record_started
        let last = events.len() - 1;
        events.swap(last - 1, last); // publish_done before the last file
    }
    for event in events {
        for _ in 0..args.copies {
            let (request, signed) = match &event {
                Event::Get(url) => (client.get(url), &args.ingest_domain),
                Event::Post(body) => (client.post(&notify).json(body), &host(&args.target)),
            };
            send(args, counts, request, signed).await;
        }
    }
}

enum Event {
    Get(String),
    Post(serde_json::Value),
}

/// Sends one request, signed for `signed_domain` when a key is given; counts the outcome.
async fn send(
    args: &Args,
    counts: &Counts,
    mut request: reqwest::RequestBuilder,
    signed_domain: &str,
) {
    if let Some(key) = args.key.as_deref().and_then(Key::new) {
        let now = jiff::Timestamp::now().as_second().to_string();
        request = request
            .header("ALI-LIVE-TIMESTAMP", &now)
            .header("ALI-LIVE-SIGNATURE", sign(signed_domain, &now, &key));
    }
    counts.sent.fetch_add(1, Ordering::Relaxed);
    match request.send().await {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => {
            counts.failed.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "{} {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        Err(error) => {
            counts.failed.fetch_add(1, Ordering::Relaxed);
            eprintln!("{error}");
        }
    }
}

/// The host of `url`, as notify events are signed.
fn host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
        .to_owned()
}
