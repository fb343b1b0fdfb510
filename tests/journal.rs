//! Under systemd, logs go to the journal: when `JOURNAL_STREAM` names the stream on standard
//! error, kassa writes its log lines there (with `<N>` priority prefixes) instead of the log
//! file; tokens stay out either way.

mod support;

use std::os::unix::fs::MetadataExt;

use support::Till;

const SECRET: &str = "device-token-secret-4711";

/// Runs `kassa backup` with stderr to a file, and `JOURNAL_STREAM` naming that file (as
/// systemd names the journal's socket) or something else; returns what landed on stderr.
fn stderr_with_journal_stream(till: &Till, names_stderr: bool) -> String {
    let err_path = till.dir.path().join(format!("stderr-{names_stderr}"));
    let err = std::fs::File::create(&err_path).unwrap();
    let m = err.metadata().unwrap();
    let ino = if names_stderr { m.ino() } else { m.ino() + 1 };
    let backup = till.dir.path().join(format!("b-{names_stderr}.bak"));
    let status = till
        .cmd()
        .args(["backup", backup.to_str().unwrap()])
        .env("JOURNAL_STREAM", format!("{}:{ino}", m.dev()))
        .env("KASSA_DEVICE_TOKEN", SECRET)
        .env("KASSA_ANON_KEY", SECRET)
        .env("KASSA_REMOTE_URL", "http://127.0.0.1:9")
        .stderr(err)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read_to_string(&err_path).unwrap()
}

#[test]
fn logs_go_to_the_journal_when_journal_stream_names_stderr_and_tokens_stay_out() {
    let till = Till::new();
    till.json(&["sell", "--json", "1001"]);
    let journal = stderr_with_journal_stream(&till, true);
    let line = journal
        .lines()
        .find(|l| l.contains("backup written"))
        .unwrap_or_else(|| panic!("no log line on stderr: {journal:?}"));
    assert!(line.starts_with("<6>kassa::"), "{line}");
    assert!(!journal.contains(SECRET), "{journal}");

    // A JOURNAL_STREAM inherited by a process whose stderr goes elsewhere is ignored: the
    // log goes to the file as always.
    let elsewhere = stderr_with_journal_stream(&till, false);
    assert_eq!(elsewhere, "", "nothing on stderr");
    let log = std::fs::read_to_string(till.dir.path().join("state/kassa/kassa.log")).unwrap();
    assert!(log.contains("backup written"), "{log}");
    assert!(!log.contains(SECRET), "{log}");
}
