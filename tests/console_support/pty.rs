//! The real `kassa` binary in a pseudo-terminal, with a vt100 screen to read what it shows.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

pub const F1: &str = "\x1bOP";
pub const F2: &str = "\x1bOQ";
pub const F3: &str = "\x1bOR";
pub const F4: &str = "\x1bOS";
pub const F5: &str = "\x1b[15~";
pub const F6: &str = "\x1b[17~";
pub const F8: &str = "\x1b[19~";
pub const F10: &str = "\x1b[21~";
pub const ENTER: &str = "\r";

pub struct PtyConsole {
    pub child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Arc<(Mutex<vt100::Parser>, Condvar)>,
    received: Arc<std::sync::atomic::AtomicUsize>,
    _master: Box<dyn MasterPty + Send>,
}

impl PtyConsole {
    /// Starts `kassa --db DB ARGS...` in an 80x24 (or given) terminal, isolated from the
    /// user's config, with `NO_COLOR=1` and `TERM=xterm`.
    pub fn start(home: &Path, db: &Path, args: &[&str], cols: u16, rows: u16) -> PtyConsole {
        PtyConsole::start_env(home, db, args, cols, rows, &[])
    }

    /// Like [`PtyConsole::start`], with extra environment (e.g. a remote's settings).
    pub fn start_env(
        home: &Path,
        db: &Path,
        args: &[&str],
        cols: u16,
        rows: u16,
        env: &[(String, String)],
    ) -> PtyConsole {
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_kassa"));
        cmd.arg("--db");
        cmd.arg(db);
        for a in args {
            cmd.arg(a);
        }
        for (k, _) in std::env::vars() {
            if k.starts_with("KASSA_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("XDG_CONFIG_HOME", home.join("config"));
        cmd.env("XDG_DATA_HOME", home.join("data"));
        cmd.env("XDG_STATE_HOME", home.join("state"));
        cmd.env("HOME", home);
        cmd.env("NO_COLOR", "1");
        cmd.env("TERM", "xterm");
        cmd.cwd(home);
        for (k, v) in env {
            cmd.env(k, v);
        }
        PtyConsole::spawn(cmd, cols, rows)
    }

    /// Runs any program in a pseudo-terminal of the given size.
    pub fn spawn(cmd: CommandBuilder, cols: u16, rows: u16) -> PtyConsole {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let child = pair.slave.spawn_command(cmd).expect("spawn kassa");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let screen = Arc::new((
            Mutex::new(vt100::Parser::new(
                std::num::NonZeroU16::new(rows).expect("rows > 0"),
                std::num::NonZeroU16::new(cols).expect("cols > 0"),
                0,
            )),
            Condvar::new(),
        ));
        let feed = Arc::clone(&screen);
        let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&received);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let (lock, changed) = &*feed;
                if let Ok(mut p) = lock.lock() {
                    p.process(&buf[..n]);
                    counter.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
                }
                changed.notify_all();
            }
        });
        PtyConsole {
            child,
            writer,
            screen,
            received,
            _master: pair.master,
        }
    }

    pub fn send(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).expect("write keys");
        self.writer.flush().expect("flush keys");
    }

    /// Sends keys one at a time, like a person (or a scanner) typing.
    pub fn type_keys(&mut self, keys: &str) {
        for c in keys.chars() {
            self.send(&c.to_string());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn contents(&self) -> String {
        self.screen
            .0
            .lock()
            .map(|p| p.screen().contents())
            .unwrap_or_default()
    }

    /// Waits until the screen shows `text`; panics with the screen after `timeout`.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> String {
        match self.try_wait_for(text, timeout) {
            Some(screen) => screen,
            None => panic!(
                "waited {timeout:?} for {text:?}; the screen shows:\n{}",
                self.contents()
            ),
        }
    }

    /// Waits until the screen shows `text` (woken by each chunk of output, so the moment it
    /// returns is within microseconds of the frame arriving).
    pub fn try_wait_for(&self, text: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let (lock, changed) = &*self.screen;
        let mut parser = lock.lock().ok()?;
        loop {
            let screen = parser.screen().contents();
            if screen.contains(text) {
                return Some(screen);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            parser = changed.wait_timeout(parser, left).ok()?.0;
        }
    }

    /// Waits until no output has arrived for `quiet` (the screen has settled).
    pub fn settle(&self, quiet: Duration) {
        let (lock, changed) = &*self.screen;
        let Ok(mut parser) = lock.lock() else {
            return;
        };
        loop {
            match changed.wait_timeout(parser, quiet) {
                Ok((p, r)) if r.timed_out() => {
                    drop(p);
                    return;
                }
                Ok((p, _)) => parser = p,
                Err(_) => return,
            }
        }
    }

    /// Bytes of output received so far.
    pub fn received(&self) -> usize {
        self.received.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until more than `seen` bytes of output have arrived.
    pub fn wait_output_after(&self, seen: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, changed) = &*self.screen;
        let Ok(mut parser) = lock.lock() else {
            return false;
        };
        while self.received() <= seen {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            match changed.wait_timeout(parser, left) {
                Ok((p, _)) => parser = p,
                Err(_) => return false,
            }
        }
        true
    }

    /// Resizes the terminal (the program gets SIGWINCH) and the screen model with it.
    pub fn resize(&self, cols: u16, rows: u16) {
        if let Ok(mut p) = self.screen.0.lock() {
            if let (Some(r), Some(c)) = (
                std::num::NonZeroU16::new(rows),
                std::num::NonZeroU16::new(cols),
            ) {
                p.set_size(r, c);
            }
        }
        self._master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize pty");
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    /// Presses `q` (the empty console's quit) and checks that kassa exits cleanly.
    pub fn quit(&mut self, timeout: Duration) {
        self.send("q");
        let status = self.wait_exit(timeout);
        assert!(status.success(), "kassa exited with {status:?}");
    }

    /// Waits for the process to exit; panics if it does not.
    pub fn wait_exit(&mut self, timeout: Duration) -> portable_pty::ExitStatus {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("kassa did not exit; the screen shows:\n{}", self.contents());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PtyConsole {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}
