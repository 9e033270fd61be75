//! The dashboard: release wasm size, and navigation → seven cards in headless Chromium.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use patchbay_testkit::rigs::{Browser, dist_dir};
use serde_json::{Value, json};

use crate::report::{Row, Section, kib, median, ms, ratio};
use crate::util::{self, Result};

const WARM_RUNS: usize = 3;

fn wasm_file() -> Result<PathBuf> {
    let dist = dist_dir()?;
    std::fs::read_dir(&dist)
        .map_err(|e| format!("{}: {e} (run `cargo xtask build`)", dist.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .max_by_key(|p| p.metadata().map(|m| m.len()).unwrap_or(0))
        .ok_or_else(|| "no .wasm in dist/ (run `cargo xtask build`)".into())
}

/// The dashboard's wasm budget, gzip: what a first visit downloads before any card shows.
const WASM_GZIP_BUDGET_KIB: u64 = 150;

pub fn size(section: &mut Section) {
    let budget = format!("≤ {WASM_GZIP_BUDGET_KIB} KiB");
    match wasm_file().and_then(|p| {
        let raw = p.metadata().map_err(|e| e.to_string())?.len();
        Ok((raw, util::gzip_size(&p)?, util::brotli_size(&p)?, p))
    }) {
        Ok((raw, gz, br, path)) => {
            section.row(Row::new(
                format!(
                    "release wasm, raw (`dist/{}`)",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ),
                kib(raw),
            ));
            section.row(
                Row::new("release wasm, gzip -9", kib(gz))
                    .vs(format!("raw: {}", kib(raw)), gz as f64 / raw as f64)
                    .budget(budget, gz <= WASM_GZIP_BUDGET_KIB * 1024),
            );
            section.row(
                Row::new(
                    "release wasm, brotli -q 11 (as Cloudflare serves it)",
                    kib(br),
                )
                .vs(format!("gzip: {}", kib(gz)), br as f64 / gz as f64),
            );
        }
        Err(e) => {
            section.failed("release wasm size", &e);
            section.row(Row::not_measured("release wasm, gzip", "no build").budget(budget, false));
        }
    }
}

/// Installs (once per document) a MutationObserver that notes `performance.now()` when the
/// seventh card appears; returns [cards_at, observer_was_late, domContentLoaded, load].
const WATCH: &str = r#"
var origin = arguments[0];
if (document.URL.indexOf(origin) !== 0) { return null; }
var n = function () { return document.querySelectorAll('article.card').length; };
if (!window.__bench) {
  var early = n() >= 7;
  window.__bench = { at: early ? performance.now() : 0, late: early };
  new MutationObserver(function () {
    if (!window.__bench.at && n() >= 7) { window.__bench.at = performance.now(); }
  }).observe(document, { childList: true, subtree: true });
}
var nav = performance.getEntriesByType('navigation')[0];
return [window.__bench.at, window.__bench.late,
        nav ? nav.domContentLoadedEventEnd : 0, nav ? nav.loadEventEnd : 0];
"#;

struct Nav {
    cards: Duration,
    dom_ready: Duration,
    late: bool,
}

async fn navigate(b: &Browser, link: &str, origin: &str) -> Result<Nav> {
    b.client
        .goto("about:blank")
        .await
        .map_err(|e| e.to_string())?;
    b.client.goto(link).await.map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = b
            .client
            .execute(WATCH, vec![json!(origin)])
            .await
            .unwrap_or(Value::Null);
        if let Some(a) = v.as_array()
            && a[0].as_f64().unwrap_or(0.0) > 0.0
            && a[2].as_f64().unwrap_or(0.0) > 0.0
        {
            let d = |x: &Value| Duration::from_secs_f64(x.as_f64().unwrap_or(0.0) / 1000.0);
            return Ok(Nav {
                cards: d(&a[0]),
                dom_ready: d(&a[2]),
                late: a[1].as_bool().unwrap_or(false),
            });
        }
        if Instant::now() > deadline {
            let html = b.client.source().await.unwrap_or_default();
            return Err(format!("seven cards never appeared; page:\n{html}"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn render(section: &mut Section) {
    match render_inner().await {
        Ok((cold, warm)) => {
            let late = cold.late || warm.iter().any(|w| w.late);
            section.row(
                Row::new(
                    "navigation → seven cards, first visit (cold cache)",
                    ms(cold.cards),
                )
                .vs(
                    format!("DOMContentLoaded: {}", ms(cold.dom_ready)),
                    ratio(cold.cards, cold.dom_ready),
                ),
            );
            let cards = median(warm.iter().map(|w| w.cards).collect());
            let ready = median(warm.iter().map(|w| w.dom_ready).collect());
            section.row(
                Row::new(
                    format!(
                        "navigation → seven cards, repeat visit (median of {})",
                        warm.len()
                    ),
                    ms(cards),
                )
                .vs(
                    format!("DOMContentLoaded: {}", ms(ready)),
                    ratio(cards, ready),
                ),
            );
            section.note(format!(
                "Headless Debian Chromium through chromedriver, the dashboard served by the \
                 helper itself (`--dashboard-dir dist`) and paired by the link it prints. Times \
                 are the page's own `performance.now()` (from navigation start) when a \
                 MutationObserver sees the seventh `article.card`; the cards need the wasm loaded \
                 and `GET /api/connectors` answered.{}",
                if late {
                    " In at least one run the observer was installed after the cards appeared, \
                     so that time is an upper bound."
                } else {
                    ""
                }
            ));
        }
        Err(e) => section.failed("navigation → seven cards", &e),
    }
}

async fn render_inner() -> Result<(Nav, Vec<Nav>)> {
    let helper = util::helper()
        .dashboard()?
        .file("rclone.conf", "[personal]\ntype = drive\n")
        .try_start()?;
    let link = helper.pairing_link(&helper.origin());
    // Navigation returns at once; the page is then watched from inside.
    let b = Browser::builder("bench-dashboard")
        .no_wait_for_load()
        .try_start()
        .await?;
    let result = async {
        let cold = navigate(&b, &link, &helper.origin()).await?;
        let mut warm = Vec::new();
        for _ in 0..WARM_RUNS {
            warm.push(navigate(&b, &link, &helper.origin()).await?);
        }
        Ok((cold, warm))
    }
    .await;
    // A page that threw or logged an error did not render what was timed.
    let closed = b.try_close().await;
    result.and_then(|r| closed.map(|()| r))
}
