//! The two text formats `/metrics` speaks: OpenMetrics 1.0 (what the registry writes) and
//! the Prometheus text format 0.0.4, for scrapers that ask for `text/plain`. Which one is
//! chosen from the request's `Accept` header.

/// Content type of OpenMetrics text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of the Prometheus text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A text format of the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposition {
    /// OpenMetrics 1.0.
    OpenMetrics,
    /// Prometheus text 0.0.4.
    PrometheusText,
}

impl Exposition {
    /// The format `accept` (an `Accept` header) prefers: OpenMetrics when it ranks it at
    /// least as high as `text/plain`, else (and without a header) the Prometheus text.
    pub fn negotiate(accept: Option<&str>) -> Exposition {
        let Some(accept) = accept else {
            return Exposition::PrometheusText;
        };
        let (mut open, mut plain) = (0.0_f32, 0.0_f32);
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/openmetrics-text" => open = open.max(q),
                "text/plain" | "text/*" | "*/*" => plain = plain.max(q),
                _ => {}
            }
        }
        if open > 0.0 && open >= plain {
            Exposition::OpenMetrics
        } else {
            Exposition::PrometheusText
        }
    }

    /// Its content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::OpenMetrics => OPENMETRICS,
            Exposition::PrometheusText => PROMETHEUS_TEXT,
        }
    }
}

/// The Prometheus text 0.0.4 form of OpenMetrics `text`: a counter's family is named by its
/// `_total` series, `# UNIT` lines, `_created` series and `# EOF` go.
pub fn to_prometheus_text(text: &str) -> String {
    let counters: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => {
                let series = line.split(['{', ' ']).next().unwrap_or_default();
                if !line.starts_with('#') && series.ends_with("_created") {
                    continue;
                }
                out.push_str(line);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_the_accept_header() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let cases = [
            (None, Exposition::PrometheusText),
            (Some("*/*"), Exposition::PrometheusText),
            (Some("text/plain"), Exposition::PrometheusText),
            (Some("text/plain;version=0.0.4"), Exposition::PrometheusText),
            (
                Some("application/openmetrics-text"),
                Exposition::OpenMetrics,
            ),
            (Some(prometheus), Exposition::OpenMetrics),
            (
                Some("application/openmetrics-text;q=0.2, text/plain"),
                Exposition::PrometheusText,
            ),
            (Some("application/json"), Exposition::PrometheusText),
        ];
        for (accept, expected) in cases {
            assert_eq!(Exposition::negotiate(accept), expected, "{accept:?}");
        }
    }

    #[test]
    fn counters_are_named_by_their_total_series_in_the_prometheus_text() {
        let open = "# HELP recgate_decisions Callback decisions.\n\
            # TYPE recgate_decisions counter\n\
            recgate_decisions_total{rule=\"a\"} 3\n\
            recgate_decisions_created{rule=\"a\"} 1.7e9\n\
            # HELP recgate_rules_loaded Rules.\n\
            # TYPE recgate_rules_loaded gauge\n\
            # UNIT recgate_rules_loaded rules\n\
            recgate_rules_loaded 4\n\
            # EOF\n";
        assert_eq!(
            to_prometheus_text(open),
            "# HELP recgate_decisions_total Callback decisions.\n\
             # TYPE recgate_decisions_total counter\n\
             recgate_decisions_total{rule=\"a\"} 3\n\
             # HELP recgate_rules_loaded Rules.\n\
             # TYPE recgate_rules_loaded gauge\n\
             recgate_rules_loaded 4\n"
        );
    }
}
