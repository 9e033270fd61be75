//! Google Drive sign-ins through the helper and the real rclone against the fake OAuth
//! provider, rclone on its own as the baseline, session propagation (long-poll against the
//! seed's 1-second polling), and listing remotes under load.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use patchbay_testkit::oauth::FakeOAuth;
use patchbay_testkit::rigs::{Helper, browser_http, redirect_of};
use reqwest::Method;
use serde_json::{Value, json};

use crate::report::{Row, Section, mean, median, ms, ratio};
use crate::util::{self, LOAD_SECS, Result, retry};

const CLIENT_ID: &str = "patchbay-bench-client";
const CLIENT_SECRET: &str = "patchbay-bench-client-secret";
const RUNS: usize = 3;
/// Simulated dashboards of the seed's design: each polls once a second, phases spread
/// evenly over the second, so their mean is the design's mean delay.
const POLLERS: u32 = 10;

/// The fake provider and a helper whose rclone talks to it.
pub struct Rig {
    pub provider: FakeOAuth,
    pub helper: Helper,
}

impl Rig {
    pub fn start() -> Result<Rig> {
        let provider = FakeOAuth::start(CLIENT_ID, CLIENT_SECRET);
        let helper = util::helper()
            .envs(provider.helper_env())
            // What the overview and the remote list read on every request.
            .file(
                "rclone.conf",
                "[personal]\ntype = drive\n\n[work]\ntype = onedrive\n\n[archive]\ntype = drive\n",
            )
            .file(
                "mcp-tokens.json",
                r#"{"manus": {"token": "manus_bench_fake_key"}}"#,
            )
            .try_start()?;
        Ok(Rig { provider, helper })
    }
}

/// What one sign-in through the helper took.
pub(crate) struct Flow {
    id: String,
    to_awaiting: Duration,
    to_completed: Duration,
    /// Paste flows only: when the long-poll and each 1-second poller saw `completed`,
    /// counted from the moment the paste was sent.
    long_poll: Option<Duration>,
    pollers: Vec<Duration>,
    submit_round_trip: Option<Duration>,
}

/// One Drive session of the helper's API, for the tasks that watch it.
#[derive(Clone)]
struct Session {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Session {
    fn of(helper: &Helper, id: &str) -> Session {
        Session {
            http: helper.http(),
            url: helper.url(&format!("/api/connectors/gdrive/sessions/{id}")),
            token: helper.token.clone(),
        }
    }

    /// Its status now or, with `wait`, once it changes (`?wait=30`, a long-poll).
    async fn status(&self, wait: bool) -> Result<Value> {
        let url = if wait {
            format!("{}?wait=30", self.url)
        } else {
            self.url.clone()
        };
        let res = self
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        res.json().await.map_err(|e| e.to_string())
    }
}

/// Long-polls until the status leaves `from`.
async fn wait_change(session: &Session, from: &str) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = session.status(true).await?;
        if s["status"] != from {
            return Ok(s);
        }
        if Instant::now() > deadline {
            return Err(format!("session stuck in {from}"));
        }
    }
}

pub(crate) async fn one_flow(rig: &Rig, n: usize, paste: bool) -> Result<Flow> {
    let t0 = Instant::now();
    let res = rig
        .helper
        .api(Method::POST, "/api/connectors/gdrive/remotes")
        .json(&json!({"name": format!("bench{n}"), "force": true}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if res.status() != 202 {
        return Err(format!(
            "POST remotes: {} {}",
            res.status(),
            res.text().await.unwrap_or_default()
        ));
    }
    let started: Value = res.json().await.map_err(|e| e.to_string())?;
    let id = started["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let session = Session::of(&rig.helper, &id);
    let s = wait_change(&session, "pending").await?;
    let to_awaiting = t0.elapsed();
    if s["status"] != "awaiting_oauth" {
        return Err(format!("expected awaiting_oauth: {s}"));
    }
    // The person approves at the provider, which sends the browser back to rclone.
    let (_, redirect) = redirect_of(s["auth_url"].as_str().unwrap_or_default()).await?;

    if !paste {
        // The browser reaches rclone's listener; the dashboard long-polls.
        let watcher = {
            let session = session.clone();
            tokio::spawn(async move { long_poll_until_done(&session).await })
        };
        let browser = browser_http();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t1 = Instant::now();
        // rclone closes its connections once it has the code, often before its own answer
        // is out (see connectors::rclone::api::submit): the session, not this answer, says
        // whether the flow completed.
        let _ = browser.get(&redirect).send().await;
        let seen = watcher.await.map_err(|e| e.to_string())??;
        return Ok(Flow {
            id,
            to_awaiting,
            to_completed: seen - t1,
            long_poll: None,
            pollers: Vec::new(),
            submit_round_trip: None,
        });
    }

    // Paste: one long-polling client and POLLERS one-second pollers watch the session.
    let long = {
        let session = session.clone();
        tokio::spawn(async move { long_poll_until_done(&session).await })
    };
    let phase0 = Instant::now();
    let mut pollers = Vec::new();
    for i in 0..POLLERS {
        let session = session.clone();
        let first = phase0 + Duration::from_millis(u64::from(i) * 1000 / u64::from(POLLERS));
        pollers.push(tokio::spawn(async move {
            one_second_poller(&session, first).await
        }));
    }
    // Every poller has polled at least once before the paste.
    tokio::time::sleep_until((phase0 + Duration::from_millis(1050)).into()).await;
    let t1 = Instant::now();
    let res = rig
        .helper
        .api(
            Method::POST,
            &format!("/api/connectors/gdrive/sessions/{id}/submit"),
        )
        .json(&json!({"code": redirect}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let submit_round_trip = t1.elapsed();
    if res.status() != 200 {
        return Err(format!(
            "submit: {} {}",
            res.status(),
            res.text().await.unwrap_or_default()
        ));
    }
    let seen_long = long.await.map_err(|e| e.to_string())??;
    let mut seen = Vec::new();
    for p in pollers {
        seen.push(p.await.map_err(|e| e.to_string())?? - t1);
    }
    let done = session.status(false).await?;
    if done["status"] != "completed" {
        return Err(format!("expected completed: {done}"));
    }
    Ok(Flow {
        id,
        to_awaiting,
        to_completed: submit_round_trip,
        long_poll: Some(seen_long - t1),
        pollers: seen,
        submit_round_trip: Some(submit_round_trip),
    })
}

async fn long_poll_until_done(session: &Session) -> Result<Instant> {
    loop {
        let s = session.status(true).await?;
        match s["status"].as_str() {
            Some("completed") => return Ok(Instant::now()),
            Some("awaiting_oauth") | Some("pending") => continue,
            _ => return Err(format!("the sign-in ended otherwise: {s}")),
        }
    }
}

/// The seed's dashboard: a plain GET every second from `first` on.
async fn one_second_poller(session: &Session, first: Instant) -> Result<Instant> {
    let mut tick = first;
    let deadline = first + Duration::from_secs(30);
    loop {
        tokio::time::sleep_until(tick.into()).await;
        let s = session.status(false).await?;
        if s["status"] == "completed" {
            return Ok(Instant::now());
        }
        tick += Duration::from_secs(1);
        if tick > deadline {
            return Err("a poller never saw completed".into());
        }
    }
}

/// rclone alone (no helper): spawn → link printed, and browser at the listener → exit.
fn rclone_alone(p: &FakeOAuth) -> Result<(Duration, Duration)> {
    let mut cmd = Command::new("rclone");
    cmd.args([
        "authorize",
        "drive",
        "--auth-no-open-browser",
        "--config",
        "/dev/null",
    ])
    .envs(p.rclone_env())
    .env("RCLONE_DRIVE_CLIENT_ID", CLIENT_ID)
    .env("RCLONE_DRIVE_CLIENT_SECRET", CLIENT_SECRET)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let t0 = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("rclone: {e}"))?;
    let _stdout = child.stdout.take();
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
            let _ = tx.send(line);
        }
    });
    let link = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| "rclone printed no link")?;
        if let Some(i) = line.find("http://127.0.0.1:53682/auth") {
            break line[i..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    let to_link = t0.elapsed();
    let provider = util::raw_get(&link)?
        .1
        .ok_or("rclone's /auth did not redirect")?;
    let back = util::raw_get(&provider)?
        .1
        .ok_or("the provider did not redirect")?;
    let t1 = Instant::now();
    util::raw_get(&back)?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("rclone authorize failed ({status})"));
    }
    let out = t1.elapsed();
    Ok((to_link, out))
}

/// `rclone listremotes` spawned per request, as a listing that shells out would: requests/s
/// with two at a time (the machine has two cores).
fn rclone_listremotes_rate(conf: &std::path::Path) -> Result<f64> {
    let t0 = Instant::now();
    let window = Duration::from_secs(2);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let conf = conf.to_owned();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while t0.elapsed() < window {
                    let ok = Command::new("rclone")
                        .args(["listremotes", "--config"])
                        .arg(&conf)
                        .output()
                        .map(|o| o.status.success())
                        .unwrap_or(false);
                    if ok {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let n: u64 = workers.into_iter().map(|w| w.join().unwrap_or(0)).sum();
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

/// The rclone area and the propagation area. Returns a finished session id for the helper's
/// session-poll load run.
pub async fn run(rig: &Rig, rclone: &mut Section, propagation: &mut Section) -> Option<String> {
    let mut paste = Vec::new();
    let mut listener = Vec::new();
    for n in 0..RUNS {
        match retry(3, || one_flow(rig, n, true)).await {
            Ok(f) => paste.push(f),
            Err(e) => rclone.failed("sign-in with a pasted redirect", &e),
        }
        match retry(3, || one_flow(rig, RUNS + n, false)).await {
            Ok(f) => listener.push(f),
            Err(e) => rclone.failed("sign-in through rclone's listener", &e),
        }
    }
    let mut alone = Vec::new();
    for _ in 0..RUNS {
        let provider = &rig.provider;
        match retry(3, || async { rclone_alone(provider) }).await {
            Ok(t) => alone.push(t),
            Err(e) => rclone.failed("rclone authorize alone", &e),
        }
    }
    let alone_link = median(alone.iter().map(|a| a.0).collect());
    let alone_done = median(alone.iter().map(|a| a.1).collect());
    let have_alone = !alone.is_empty();
    let base = |what: &str, d: Duration| {
        if have_alone {
            format!("rclone alone: {what} {}", ms(d))
        } else {
            "—".into()
        }
    };

    let all: Vec<&Flow> = paste.iter().chain(listener.iter()).collect();
    if !all.is_empty() {
        let awaiting = median(all.iter().map(|f| f.to_awaiting).collect());
        rclone.row(
            Row::new(
                format!("POST …/remotes → awaiting_oauth (median of {})", all.len()),
                ms(awaiting),
            )
            .vs(
                base("spawn → link printed", alone_link),
                ratio(awaiting, alone_link),
            ),
        );
    }
    if !paste.is_empty() {
        let done = median(paste.iter().map(|f| f.to_completed).collect());
        rclone.row(
            Row::new(
                format!(
                    "pasted redirect (submit) → completed (median of {})",
                    paste.len()
                ),
                ms(done),
            )
            .vs(
                base("listener hit → token", alone_done),
                ratio(done, alone_done),
            )
            .budget("≤ 500 ms", done <= Duration::from_millis(500)),
        );
    } else {
        rclone.row(
            Row::not_measured(
                "pasted redirect (submit) → completed",
                "no paste flow finished",
            )
            .budget("≤ 500 ms", false),
        );
    }
    if !listener.is_empty() {
        let done = median(listener.iter().map(|f| f.to_completed).collect());
        rclone.row(
            Row::new(
                format!(
                    "browser at rclone's listener → completed, seen by long-poll (median of {})",
                    listener.len()
                ),
                ms(done),
            )
            .vs(
                base("listener hit → token", alone_done),
                ratio(done, alone_done),
            ),
        );
    }
    rclone.note(
        "A flow is `POST /api/connectors/gdrive/remotes`, then the session long-polled \
         (`?wait=30`); the fake provider approves at once. \"rclone alone\" runs `rclone \
         authorize drive` against the same fake with no helper: its own start-up and token \
         exchange, the floor for the helper's times.",
    );

    // Listing remotes: the helper reads rclone.conf; the alternative spawns rclone.
    let conf = rig.helper.data_dir().join("rclone.conf");
    let alt = rclone_listremotes_rate(&conf);
    match util::wrk(
        &rig.helper.url("/api/connectors/gdrive/remotes"),
        Some(&rig.helper.token),
        LOAD_SECS,
    ) {
        Ok(load) => {
            let mut row = Row::new(
                format!("GET …/gdrive/remotes, {} connections", util::CONNECTIONS),
                load.summary(),
            );
            if let Ok(alt) = alt {
                row = row.vs(
                    format!("`rclone listremotes` per request: {alt:.0} req/s"),
                    load.rps / alt,
                );
            }
            rclone.row(row.budget("≥ 1,000 req/s", load.rps >= 1000.0 && load.clean()));
        }
        Err(e) => rclone.failed("GET …/remotes under load", &e),
    }

    // Propagation.
    let long: Vec<Duration> = paste.iter().filter_map(|f| f.long_poll).collect();
    let polls: Vec<Duration> = paste.iter().flat_map(|f| f.pollers.clone()).collect();
    let submits: Vec<Duration> = paste.iter().filter_map(|f| f.submit_round_trip).collect();
    if !long.is_empty() {
        let lp = median(long.clone());
        let poll = mean(&polls);
        propagation.row(
            Row::new(
                format!(
                    "paste → dashboard sees completed, long-poll (median of {})",
                    long.len()
                ),
                ms(lp),
            )
            .vs(
                format!(
                    "1-second polling: mean {} over {} clients",
                    ms(poll),
                    polls.len()
                ),
                ratio(lp, poll),
            ),
        );
        let worst = polls.iter().max().copied().unwrap_or_default();
        propagation.row(Row::new("1-second polling, worst client", ms(worst)));
        propagation.row(Row::new(
            "the submit request's own round trip (median)",
            ms(median(submits)),
        ));
        propagation.note(format!(
            "Per paste flow, one client long-polls `GET …/sessions/{{id}}?wait=30` and {POLLERS} \
             clients poll it once a second (the seed's design), their phases spread evenly over \
             the second. Times run from the moment the pasted redirect is sent (the helper then \
             runs rclone's token exchange, so both include it); the difference is what the \
             design costs. Expect ≈ 500 ms more for 1-second polling."
        ));
    } else {
        propagation.row(Row::not_measured(
            "paste → dashboard sees completed",
            "no paste flow finished",
        ));
    }
    paste.first().or(listener.first()).map(|f| f.id.clone())
}
