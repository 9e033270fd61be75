//! `patchbay pair`: the dashboard link of the helper running with this data folder, the same
//! link `serve` printed at start-up, for a person who lost it. Nothing is restarted.
//!
//! The helper is found through `helper.json` ([`super::runtime`]); the token is the one in
//! `pairing-token` (or `PATCHBAY_TOKEN`, when the helper took it from there). The link is
//! printed only after the helper has accepted that token, so it never points at a stale
//! address or carries a token nobody accepts.

use std::path::{Path, PathBuf};

use patchbay_proto::Secret;
use patchbay_proto::pairing::Pairing;

use super::runtime::{self, Answer, RunningHelper};
use crate::pairing::{self, TOKEN_FILE};

#[derive(Debug, clap::Args)]
pub struct PairArgs {
    /// The data folder of the helper to pair with (the same as `patchbay serve`'s).
    /// Default: $XDG_DATA_HOME/patchbay, else ~/.local/share/patchbay.
    #[arg(long, env = "PATCHBAY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// What `serve` and `pair` print: where the helper listens and the link that pairs a browser.
/// It goes to stdout only, never through the logger: the link carries the token.
pub fn announcement(origin: &str, link: &str) -> String {
    format!(
        "Patchbay helper listening on {origin}\n\
         Open the dashboard with this link (it pairs your browser; keep it private):\n  {link}"
    )
}

pub async fn run(args: PairArgs) -> Result<(), String> {
    let data_dir = crate::config::resolve_data_dir(args.data_dir).map_err(|e| e.to_string())?;
    let helper = find(&data_dir)?;
    let token = token_for(&data_dir, &helper, std::env::var("PATCHBAY_TOKEN").ok())?;
    let answer = runtime::ask(&helper, Some(&token)).await;
    check_answer(&data_dir, &helper, answer)?;
    let link = Pairing {
        helper: helper.origin(),
        token,
    }
    .dashboard_link(&helper.dashboard_url);
    println!("{}", announcement(&helper.origin(), &link));
    Ok(())
}

/// The helper recorded in `data_dir`, if its process still runs.
pub fn find(data_dir: &Path) -> Result<RunningHelper, String> {
    let start = "start it with `patchbay serve` (or run it at login with `patchbay service \
                 install`), then run `patchbay pair` again";
    match runtime::read(data_dir)? {
        None => Err(format!(
            "No helper is running with the data folder {}: {start}. (If it runs with another \
             folder, give that one with --data-dir.)",
            data_dir.display()
        )),
        Some(h) if !h.alive() => Err(format!(
            "The helper that ran with {} (pid {}, {}) has stopped: {start}.",
            data_dir.display(),
            h.pid,
            h.origin()
        )),
        Some(h) => Ok(h),
    }
}

/// The token `helper` accepts: the kept one, or `PATCHBAY_TOKEN` (`from_env`) when the
/// helper was started with it.
fn token_for(
    data_dir: &Path,
    helper: &RunningHelper,
    from_env: Option<String>,
) -> Result<Secret, String> {
    if helper.token_from_env {
        return from_env
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .ok_or_else(|| {
                format!(
                    "The helper at {} was started with its pairing token in PATCHBAY_TOKEN, \
                     which this shell does not set: set PATCHBAY_TOKEN as the helper has it, \
                     then run `patchbay pair` again.",
                    helper.origin()
                )
            });
    }
    let file = data_dir.join(TOKEN_FILE);
    match pairing::read_kept(data_dir) {
        Ok(Some(token)) => Ok(token),
        Ok(None) => Err(format!(
            "{} is missing or empty, so no dashboard link can be made: restart the helper \
             (it creates a new token), then run `patchbay pair` again.",
            file.display()
        )),
        Err(e) => Err(format!("cannot read {}: {e}", file.display())),
    }
}

/// Whether the link may be printed, given how the helper answered.
fn check_answer(data_dir: &Path, helper: &RunningHelper, answer: Answer) -> Result<(), String> {
    let origin = helper.origin();
    match answer {
        Answer::Serving => Ok(()),
        Answer::WrongToken => Err(format!(
            "The helper at {origin} refuses the pairing token in {}: it was started with \
             another one (PATCHBAY_TOKEN?). Restart it without PATCHBAY_TOKEN, or run `patchbay \
             pair` with the same PATCHBAY_TOKEN.",
            data_dir.join(TOKEN_FILE).display()
        )),
        Answer::Other(status) => Err(format!(
            "Something at {origin} answered with HTTP {status}, not as a Patchbay helper \
             would: stop whatever listens there and restart the helper."
        )),
        Answer::Silent => Err(format!(
            "The helper (pid {}) does not answer at {origin}: restart it (`patchbay serve`, or \
             `systemctl --user restart patchbay` when it runs as a service).",
            helper.pid
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper(token_from_env: bool) -> RunningHelper {
        RunningHelper {
            token_from_env,
            ..RunningHelper::this_process(
                "127.0.0.1:7878".parse().unwrap(),
                "http://127.0.0.1:8080",
                false,
            )
        }
    }

    #[test]
    fn the_token_comes_from_where_the_helper_took_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = token_for(dir.path(), &helper(false), None).unwrap_err();
        assert!(err.contains("restart the helper"), "{err}");
        std::fs::write(dir.path().join(TOKEN_FILE), "kept-token-0123456789\n").unwrap();
        let t = token_for(dir.path(), &helper(false), Some("env-token".into())).unwrap();
        assert!(t.matches("kept-token-0123456789"), "the file, not the env");

        let err = token_for(dir.path(), &helper(true), None).unwrap_err();
        assert!(err.contains("set PATCHBAY_TOKEN"), "{err}");
        let t = token_for(dir.path(), &helper(true), Some("env-token".into())).unwrap();
        assert!(t.matches("env-token"));
    }

    #[test]
    fn only_a_helper_that_accepts_the_token_gets_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let h = helper(false);
        assert!(check_answer(dir.path(), &h, Answer::Serving).is_ok());
        for (answer, says) in [
            (Answer::WrongToken, "PATCHBAY_TOKEN"),
            (Answer::Other(404), "HTTP 404"),
            (Answer::Silent, "does not answer"),
        ] {
            let err = check_answer(dir.path(), &h, answer).unwrap_err();
            assert!(err.contains(says), "{answer:?}: {err}");
        }
    }

    #[test]
    fn no_record_or_a_dead_process_says_how_to_start_one() {
        let dir = tempfile::tempdir().unwrap();
        let err = find(dir.path()).unwrap_err();
        assert!(
            err.contains("patchbay serve") && err.contains("--data-dir"),
            "{err}"
        );
        let dead = RunningHelper {
            pid: u32::MAX - 1,
            ..helper(false)
        };
        runtime::record(dir.path(), &dead).unwrap();
        let err = find(dir.path()).unwrap_err();
        assert!(err.contains("has stopped"), "{err}");
    }

    #[test]
    fn the_announcement_carries_the_link_on_its_own_line() {
        let text = announcement("http://127.0.0.1:7878", "http://dash/#helper=x&token=y");
        assert_eq!(text.lines().count(), 3);
        assert_eq!(text.lines().last(), Some("  http://dash/#helper=x&token=y"));
    }
}
