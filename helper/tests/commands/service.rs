//! `patchbay service install|uninstall|status` with a systemd user unit: the unit systemd
//! itself accepts (`systemd-analyze verify`), the "systemd missing" case this machine has
//! (no user bus), a reachable manager, and a unit that is not Patchbay's.

use std::path::Path;
use std::time::Duration;

use patchbay_helper::cli::service::systemd;
use patchbay_testkit::process::Running;

use crate::home::{TempHome, mode, outcome, patchbay_exe, script};

const TOKEN_LIKE: &str = "a-pairing-token-the-unit-must-never-hold";

/// A data folder with a pairing token, as a helper that ran once leaves it.
fn with_token(home: &TempHome) {
    std::fs::create_dir_all(home.data_dir()).unwrap();
    std::fs::write(home.data_dir().join("pairing-token"), TOKEN_LIKE).unwrap();
}

/// systemd's own reading of the unit: it fails on bad syntax, bad quoting or specifiers, or
/// an ExecStart binary that does not exist.
fn systemd_accepts(home: &TempHome, unit: &Path) {
    let mut verify = std::process::Command::new("systemd-analyze");
    verify
        .args(["verify", "--user"])
        .arg(unit)
        .env("HOME", home.home())
        .env("XDG_RUNTIME_DIR", home.runtime_dir());
    let out = outcome(verify);
    assert!(
        out.success(),
        "systemd-analyze verify refused the unit:\n{}",
        out.all()
    );
}

fn check_unit(home: &TempHome, unit: &str) {
    let exec = format!(
        "ExecStart={} serve --data-dir {}\n",
        patchbay_exe().display(),
        home.data_dir().display()
    );
    assert!(unit.contains(&exec), "no {exec:?} in:\n{unit}");
    assert!(unit.contains(&format!(
        "\nEnvironmentFile=-{}/service.env\n",
        home.data_dir().display()
    )));
    assert!(unit.contains("\nStandardOutput=null\n"), "{unit}");
    assert!(unit.contains("\nWantedBy=default.target\n"), "{unit}");
    assert!(
        !unit.contains(TOKEN_LIKE),
        "the pairing token is in the unit"
    );
}

#[test]
fn dry_run_prints_the_unit_and_writes_nothing() {
    let home = TempHome::new();
    with_token(&home);
    let out = home.run(["service", "install", "--dry-run"]);
    assert!(out.success(), "{}", out.all());
    check_unit(&home, &out.stdout);
    assert!(out.stderr.contains("nothing was written"), "{}", out.all());
    assert!(
        !home.home().join(".config").exists(),
        "a dry run wrote files"
    );

    let written = home.home().join("patchbay.service");
    std::fs::write(&written, &out.stdout).unwrap();
    systemd_accepts(&home, &written);
}

#[test]
fn without_systemd_the_unit_is_written_and_the_commands_printed() {
    let home = TempHome::new();
    with_token(&home);
    let out = home.run(["service", "install"]);
    assert!(out.success(), "{}", out.all());
    for needle in [
        "systemd cannot be reached here",
        "nothing was started",
        "  systemctl --user daemon-reload",
        "  systemctl --user enable patchbay.service",
        "  systemctl --user restart patchbay.service",
        "loginctl enable-linger",
        // Run from target/debug: the unit would break with the next build.
        "cargo xtask install",
    ] {
        assert!(out.stdout.contains(needle), "no {needle:?}:\n{}", out.all());
    }
    let unit = std::fs::read_to_string(home.unit_file()).unwrap();
    check_unit(&home, &unit);
    assert_eq!(mode(&home.unit_file()), 0o600);
    assert_eq!(mode(&home.data_dir()), 0o700);
    systemd_accepts(&home, &home.unit_file());

    // Installing again (an upgrade) replaces Patchbay's own unit.
    let out = home.run([
        "service",
        "install",
        "--",
        "--allow-origin",
        "https://pb.example.com",
    ]);
    assert!(out.success(), "{}", out.all());
    let unit = std::fs::read_to_string(home.unit_file()).unwrap();
    assert!(
        unit.contains(" --allow-origin https://pb.example.com\n"),
        "{unit}"
    );

    let out = home.run(["service", "status"]);
    assert!(!out.success(), "status says a helper runs:\n{}", out.all());
    assert!(out.stdout.contains(&format!(
        "Service: systemd unit {}",
        home.unit_file().display()
    )));
    assert!(
        out.stdout.contains("systemd: cannot be reached here"),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("Helper: not running"), "{}", out.all());
    assert!(
        out.stderr
            .contains("systemctl --user start patchbay.service"),
        "{}",
        out.all()
    );

    // The unit's own command line starts a helper that status then finds.
    let argv = systemd::program(&unit).unwrap();
    let mut cmd = home.patchbay(&argv[1..]);
    cmd.args(["--listen", "127.0.0.1:0"]);
    let mut helper = Running::start("the unit's ExecStart", cmd);
    helper.wait_for_output("#helper=", Duration::from_secs(30));
    let out = home.run(["service", "status"]);
    assert!(out.success(), "{}", out.all());
    assert!(
        out.stdout.contains("Helper: running at http://127.0.0.1:"),
        "{}",
        out.all()
    );
    drop(helper);

    let out = home.run(["service", "uninstall"]);
    assert!(out.success(), "{}", out.all());
    assert!(!home.unit_file().exists(), "uninstall left the unit");
    assert!(
        out.stdout
            .contains("systemctl --user disable --now patchbay.service")
    );
    let out = home.run(["service", "uninstall"]);
    assert!(out.success() && out.stdout.contains("No Patchbay service is installed"));
}

#[test]
fn a_unit_that_is_not_patchbays_is_never_overwritten_or_removed() {
    let home = TempHome::new();
    let unit = home.unit_file();
    std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
    let foreign = "[Unit]\nDescription=someone else's patchbay\n\n[Service]\nExecStart=/bin/true\n";
    std::fs::write(&unit, foreign).unwrap();
    for args in [&["service", "install"][..], &["service", "uninstall"]] {
        let out = home.run(args);
        assert!(!out.success(), "{args:?} went ahead:\n{}", out.all());
        assert!(
            out.stderr.contains("was not written by Patchbay"),
            "{}",
            out.all()
        );
        assert!(out.stderr.contains("Move it aside"), "{}", out.all());
        assert_eq!(std::fs::read_to_string(&unit).unwrap(), foreign);
    }
    // A dry run still shows what would be written.
    assert!(home.run(["service", "install", "--dry-run"]).success());
}

#[test]
fn with_a_user_manager_the_unit_is_enabled_started_and_stopped() {
    let mut home = TempHome::new();
    // A stand-in for `systemctl` (this machine has no user manager to talk to): it records
    // each call and answers as systemd does.
    let log = home.home().join("systemctl.log");
    script(
        &home.bin_dir().join("systemctl"),
        &format!(
            "echo \"$*\" >> '{}'\ncase \"$*\" in\n  *is-active*) echo active ;;\n  \
             *is-enabled*) echo enabled ;;\nesac\nexit 0",
            log.display()
        ),
    );
    let path = format!("{}:{}", home.bin_dir().display(), home.path());
    home.set_path(&path);

    // What systemctl was asked since the last look.
    let calls = || {
        let calls = std::fs::read_to_string(&log).unwrap();
        std::fs::remove_file(&log).unwrap();
        calls.lines().map(str::to_owned).collect::<Vec<_>>()
    };

    let out = home.run(["service", "install"]);
    assert!(out.success(), "{}", out.all());
    assert!(out.stdout.contains("Started with systemd"), "{}", out.all());
    assert_eq!(
        calls(),
        [
            "--user show-environment",
            "--user daemon-reload",
            "--user enable patchbay.service",
            "--user restart patchbay.service",
        ]
    );

    let out = home.run(["service", "status"]);
    assert!(
        out.stdout.contains("systemd: active, enabled"),
        "{}",
        out.all()
    );
    calls();

    let out = home.run(["service", "uninstall"]);
    assert!(out.success(), "{}", out.all());
    assert!(!home.unit_file().exists());
    assert_eq!(
        calls(),
        [
            "--user show-environment",
            "--user disable --now patchbay.service",
            "--user daemon-reload",
        ]
    );
}
