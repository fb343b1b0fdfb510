//! The Debian package that `scripts/package` builds: its files, modes and maintainer scripts
//! (`dpkg-deb --info`, `--contents`), its systemd units (`systemd-analyze verify`), and an
//! install into a throwaway root that yields a kassa that inits, sells and verifies there.
//!
//! The .deb is `$KASSA_DEB` (scripts/test builds it once before `cargo test`), else this test
//! runs `scripts/package` itself, once. The install is `dpkg --root DIR
//! --force-script-chrootless`: dpkg unpacks into DIR and runs the maintainer scripts on this
//! machine with `DPKG_ROOT=DIR` (which they honour) instead of chrooting into DIR, since a
//! chroot would need a whole Debian system inside it. The installed binary then runs from
//! DIR with this machine's libc, as the `kassa` user the postinst made (by its uid). Needs
//! root (CI runs as root) for the owners and that uid.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use kassa::store::schema::schema_version;

fn deb() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        if let Some(p) = std::env::var_os("KASSA_DEB") {
            return PathBuf::from(p);
        }
        let out = Command::new(root.join("scripts/package"))
            .current_dir(root)
            .output()
            .expect("run scripts/package");
        assert!(
            out.status.success(),
            "scripts/package failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        root.join(text.lines().last().expect("the .deb's path").trim())
    })
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(cmd: &mut Command) -> String {
    String::from_utf8(run(cmd).stdout).unwrap()
}

fn is_root() -> bool {
    text(Command::new("id").arg("-u")).trim() == "0"
}

#[test]
fn the_package_holds_the_files_with_their_modes_and_its_maintainer_scripts() {
    let deb = deb();
    let info = text(Command::new("dpkg-deb").arg("--info").arg(deb));
    let arch = text(Command::new("dpkg").arg("--print-architecture"));
    for want in [
        "Package: kassa",
        &format!("Architecture: {}", arch.trim()),
        "Maintainer: ",
        "Description: Offline-first point-of-sale till",
    ] {
        assert!(info.contains(want), "--info lacks {want:?}:\n{info}");
    }
    let depends = info
        .lines()
        .find(|l| l.trim_start().starts_with("Depends:"))
        .expect("Depends");
    assert!(depends.contains("libc6"), "{depends}");
    assert!(depends.contains("systemd"), "systemd-sysusers: {depends}");
    for script in ["postinst", "prerm", "postrm", "conffiles"] {
        assert!(info.contains(script), "--info lacks {script}:\n{info}");
    }

    // Each file with its mode and owner (root in the archive; the postinst hands the config
    // to the kassa user).
    let contents = text(Command::new("dpkg-deb").arg("--contents").arg(deb));
    let entry = |path: &str| -> (String, String) {
        let line = contents
            .lines()
            .find(|l| l.ends_with(&format!(" .{path}")))
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{contents}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols[0].to_string(), cols[1].to_string())
    };
    for (path, mode) in [
        ("/usr/bin/kassa", "-rwxr-xr-x"),
        ("/etc/kassa/config.toml", "-rw-------"),
        ("/usr/share/kassa/catalog.csv", "-rw-r--r--"),
        ("/usr/lib/sysusers.d/kassa.conf", "-rw-r--r--"),
        ("/lib/systemd/system/kassa-sync.service", "-rw-r--r--"),
        ("/lib/systemd/system/kassa-console.service", "-rw-r--r--"),
        ("/usr/share/doc/kassa/till-box.md", "-rw-r--r--"),
    ] {
        assert_eq!(entry(path), (mode.to_string(), "0/0".to_string()), "{path}");
    }

    let control = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-e")
        .arg(deb)
        .arg(control.path()));
    let conffiles = std::fs::read_to_string(control.path().join("conffiles")).unwrap();
    assert_eq!(conffiles.trim(), "/etc/kassa/config.toml");
    for script in ["postinst", "prerm", "postrm"] {
        let p = control.path().join(script);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{script} is executable");
        run(Command::new("sh").arg("-n").arg(&p));
        let body = std::fs::read_to_string(&p).unwrap();
        assert!(body.contains("DPKG_ROOT"), "{script} honours DPKG_ROOT");
    }
    let postinst = std::fs::read_to_string(control.path().join("postinst")).unwrap();
    for want in [
        "systemd-sysusers",
        "chmod 700",
        "chmod 600",
        "try-restart kassa-sync",
    ] {
        assert!(postinst.contains(want), "postinst lacks {want:?}");
    }
}

/// Unpacks the package into a fresh directory with this machine's own units beside it, so
/// that `systemd-analyze verify --root` finds both the targets and `/usr/bin/kassa`.
#[test]
fn systemd_analyze_verify_accepts_the_units() {
    let root = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb())
        .arg(root.path()));
    let units = root.path().join("usr/lib/systemd");
    std::fs::create_dir_all(&units).unwrap();
    run(Command::new("cp")
        .arg("-a")
        .arg("/usr/lib/systemd/system")
        .arg(&units));
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", root.path().display()))
        .arg("/lib/systemd/system/kassa-sync.service")
        .arg("/lib/systemd/system/kassa-console.service")
        .output()
        .expect("systemd-analyze (Debian's systemd package)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert_eq!(said.trim(), "", "systemd-analyze verify has remarks");

    // The same check rejects a unit with a typo, so a clean run means something.
    let bad = root.path().join("lib/systemd/system/kassa-typo.service");
    let sync =
        std::fs::read_to_string(root.path().join("lib/systemd/system/kassa-sync.service")).unwrap();
    std::fs::write(
        &bad,
        sync.replace("ProtectSystem=strict", "ProtectSystem=sometimes"),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", root.path().display()))
        .arg("/lib/systemd/system/kassa-typo.service")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty());

    for (unit, wants) in [
        (
            "kassa-sync.service",
            &[
                "ExecStart=/usr/bin/kassa sync",
                "Restart=on-failure",
                "User=kassa",
            ][..],
        ),
        (
            "kassa-console.service",
            &[
                "ExecStart=/usr/bin/kassa console",
                "TTYPath=/dev/tty1",
                "Conflicts=getty@tty1.service",
                "StandardError=journal",
                "User=kassa",
            ][..],
        ),
    ] {
        let body =
            std::fs::read_to_string(root.path().join("lib/systemd/system").join(unit)).unwrap();
        let hardening = [
            "ProtectSystem=strict",
            "ReadWritePaths=/var/lib/kassa",
            "NoNewPrivileges=yes",
            "PrivateTmp=yes",
        ];
        for want in wants.iter().chain(hardening.iter()) {
            assert!(
                body.lines().any(|l| l.trim() == *want),
                "{unit} lacks {want}"
            );
        }
        let rw: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with("ReadWritePaths="))
            .collect();
        assert_eq!(
            rw,
            ["ReadWritePaths=/var/lib/kassa"],
            "{unit}: one writable path"
        );
    }
}

/// `(uid, gid)` of `name` in `root`'s passwd.
fn user_in(root: &Path, name: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).expect("passwd in the root");
    let line = passwd
        .lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} user in the root:\n{passwd}"));
    let f: Vec<&str> = line.split(':').collect();
    assert_eq!(f[5], "/var/lib/kassa", "home");
    assert_eq!(f[6], "/usr/sbin/nologin", "no login shell");
    (f[2].parse().unwrap(), f[3].parse().unwrap())
}

fn owner_and_mode(p: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.uid(), m.mode() & 0o777)
}

fn dpkg(root: &Path) -> Command {
    let mut c = Command::new("dpkg");
    c.arg(format!("--root={}", root.display()))
        .arg("--force-script-chrootless")
        .arg("--force-depends")
        .arg("--log=/dev/null");
    c
}

#[test]
fn installed_into_a_throwaway_root_kassa_inits_sells_and_verifies_there() {
    assert!(
        is_root(),
        "this test installs a package and switches to its user: run it as root (CI does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for d in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), b"").unwrap();
    run(dpkg(root).arg("-i").arg(deb()));

    let (uid, gid) = user_in(root, "kassa");
    assert_ne!(uid, 0);
    assert_eq!(owner_and_mode(&root.join("var/lib/kassa")), (uid, 0o700));
    assert_eq!(
        owner_and_mode(&root.join("etc/kassa/config.toml")),
        (uid, 0o600)
    );
    assert_eq!(owner_and_mode(&root.join("usr/bin/kassa")), (0, 0o755));

    // The installed binary, as the kassa user, on the root's config and database.
    let db = root.join("var/lib/kassa/till.db");
    let kassa_on = |db: &Path, args: &[&str], env: &[(&str, String)]| -> Output {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .arg("--clear-groups")
            .arg(root.join("usr/bin/kassa"))
            .arg("--config")
            .arg(root.join("etc/kassa/config.toml"))
            .arg("--db")
            .arg(db)
            .args(args)
            .env_clear()
            .env("HOME", root.join("var/lib/kassa"))
            .env("PATH", "/usr/bin:/bin")
            .env("NO_COLOR", "1");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run the installed kassa")
    };
    let kassa = |args: &[&str], env: &[(&str, String)]| kassa_on(&db, args, env);
    let ok = |out: Output, what: &str| -> String {
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let init = ok(kassa(&["init"], &[]), "init");
    assert!(init.contains("(66 products)"), "{init}");
    assert!(
        init.contains("exists, left as it is"),
        "the packaged config is used: {init}"
    );
    let sale: serde_json::Value = serde_json::from_str(&ok(
        kassa(&["sell", "--json", "--pay", "card", "1001", "1002*2"], &[]),
        "sell",
    ))
    .unwrap();
    assert_eq!(sale["seq"], 1);
    let verify: serde_json::Value =
        serde_json::from_str(&ok(kassa(&["verify", "--json"], &[]), "verify")).unwrap();
    assert_eq!(verify["sales_checked"], 1);
    assert_eq!(verify["chain_ok"], true);
    assert_eq!(owner_and_mode(&db), (uid, 0o600));

    // Installing the package again (an upgrade: postinst configure with the old version)
    // keeps the database and its owner and mode.
    run(dpkg(root).arg("-i").arg(deb()));
    assert_eq!(owner_and_mode(&db), (uid, 0o600));
    assert_eq!(owner_and_mode(&root.join("var/lib/kassa")), (uid, 0o700));
    let verify: serde_json::Value =
        serde_json::from_str(&ok(kassa(&["verify", "--json"], &[]), "verify")).unwrap();
    assert_eq!(verify["sales_checked"], 1);

    // An older database on first start: backed up beside itself, then migrated. The release
    // build ignores the tests' fault injection.
    let old = root.join("var/lib/kassa/old.db");
    support::old_database(&old, 2);
    run(Command::new("chown").arg(format!("{uid}:{gid}")).arg(&old));
    let known = schema_version();
    let out = kassa_on(
        &old,
        &["doctor", "--json"],
        &[("KASSA_TEST_FAIL_MIGRATION", known.to_string())],
    );
    let doctor: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let backups = doctor
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "backups")
        .unwrap();
    assert_eq!(backups["backups"].as_array().unwrap().len(), 1, "{doctor}");
    let database = doctor
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "database")
        .unwrap();
    assert_eq!(database["verdict"], "ok", "{database}");
    assert!(
        database["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("(schema {known})")),
        "{database}"
    );

    // Removing and purging the package keeps the database (the only copy of unsynced sales).
    run(dpkg(root).arg("--purge").arg("kassa"));
    assert!(!root.join("usr/bin/kassa").exists());
    assert!(!root.join("etc/kassa/config.toml").exists());
    assert_eq!(owner_and_mode(&db), (uid, 0o600));
}
