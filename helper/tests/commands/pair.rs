//! `patchbay pair` against a running `patchbay serve`: the same link, found from the data
//! folder alone, and a clear sentence when there is nothing to pair with.

use std::time::Duration;

use patchbay_proto::pairing::Pairing;

use crate::home::TempHome;

/// `pair` failed, saying `says`, and printed no link.
fn refused(out: &crate::home::Outcome, says: &str) {
    assert!(!out.success(), "{}", out.all());
    assert!(out.stderr.contains(says), "no {says:?}: {}", out.all());
    assert!(!out.stdout.contains("#helper="), "{}", out.all());
}

/// The link line `pair` printed.
fn printed_link(stdout: &str) -> String {
    stdout
        .lines()
        .find(|l| l.contains("#helper="))
        .unwrap_or_else(|| panic!("no link in:\n{stdout}"))
        .trim()
        .to_owned()
}

#[test]
fn pair_prints_the_link_serve_printed() {
    let home = TempHome::new();
    let (_helper, link) = home.serve(&["--dashboard-url", "https://dash.example.com"]);
    assert!(link.starts_with("https://dash.example.com/#helper=http%3A%2F%2F127.0.0.1%3A"));
    let out = home.run(["pair"]);
    assert!(out.success(), "{}", out.all());
    assert_eq!(printed_link(&out.stdout), link);
    assert!(
        out.stdout
            .starts_with("Patchbay helper listening on http://127.0.0.1:")
    );
    let pairing = Pairing::from_fragment(link.split_once('#').unwrap().1).unwrap();
    let kept = std::fs::read_to_string(home.data_dir().join("pairing-token")).unwrap();
    assert!(pairing.token.matches(kept.trim()));
}

#[test]
fn a_helper_with_its_token_from_the_environment_pairs_with_the_same_environment() {
    let mut home = TempHome::new();
    home.set_env("PATCHBAY_TOKEN", "an-environment-token-0123456789");
    let (_helper, link) = home.serve(&[]);
    let with_env = home.run(["pair"]);
    assert!(with_env.success(), "{}", with_env.all());
    assert_eq!(printed_link(&with_env.stdout), link);

    let mut without = home.patchbay(["pair"]);
    without.env_remove("PATCHBAY_TOKEN");
    refused(
        &crate::home::outcome(without),
        "set PATCHBAY_TOKEN as the helper has it",
    );
}

#[test]
fn a_token_the_helper_does_not_accept_gets_no_link() {
    let home = TempHome::new();
    let (_helper, _link) = home.serve(&[]);
    std::fs::write(
        home.data_dir().join("pairing-token"),
        "a-token-nobody-accepts-0123",
    )
    .unwrap();
    refused(&home.run(["pair"]), "refuses the pairing token");
}

#[test]
fn without_a_running_helper_pair_says_how_to_start_one() {
    let home = TempHome::new();
    let out = home.run(["pair"]);
    refused(&out, "No helper is running with the data folder");
    assert!(out.stderr.contains("patchbay serve"), "{}", out.all());

    // Stopped cleanly: its record goes with it.
    let (mut helper, _) = home.serve(&[]);
    assert!(home.data_dir().join("helper.json").exists());
    assert!(helper.signal_group(libc::SIGTERM, Duration::from_secs(10)));
    assert!(
        !home.data_dir().join("helper.json").exists(),
        "the record outlived the helper"
    );
    refused(&home.run(["pair"]), "No helper is running");

    // Killed: the record stays, and pair sees that its process is gone.
    let (mut helper, _) = home.serve(&[]);
    assert!(helper.signal_group(libc::SIGKILL, Duration::from_secs(10)));
    refused(&home.run(["pair"]), "has stopped");
}
