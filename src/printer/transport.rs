//! Sending bytes to one printer, within a timeout, with a one-line error when it fails.

use std::io::Write;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

/// Where a receipt's bytes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Appended to a file (a spool, or a test).
    File(PathBuf),
    /// Written to a device file that must exist (`/dev/usb/lp0`): an unplugged printer fails.
    Device(PathBuf),
    /// A raw TCP printer port, `host:port`.
    Tcp(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::File(p) => write!(f, "file {}", p.display()),
            Target::Device(p) => write!(f, "device {}", p.display()),
            Target::Tcp(a) => write!(f, "printer {a}"),
        }
    }
}

/// Why a print failed, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PrintError(pub String);

/// Sends `bytes` to `target`: connect and write each within `timeout`.
pub fn send(target: &Target, bytes: &[u8], timeout: Duration) -> Result<(), PrintError> {
    let fail = |what: &str, e: std::io::Error| PrintError(format!("{target}: {what}: {e}"));
    match target {
        Target::File(path) => {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| fail("cannot open", e))?;
            f.write_all(bytes).map_err(|e| fail("cannot write", e))?;
            f.flush().map_err(|e| fail("cannot write", e))
        }
        Target::Device(path) => {
            // No create: a device file that is not there is an unplugged printer.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| fail("cannot open", e))?;
            f.write_all(bytes).map_err(|e| fail("cannot write", e))?;
            f.flush().map_err(|e| fail("cannot write", e))
        }
        Target::Tcp(address) => {
            let addrs: Vec<_> = address
                .to_socket_addrs()
                .map_err(|e| fail("bad address", e))?
                .collect();
            let mut last = None;
            for addr in addrs {
                match TcpStream::connect_timeout(&addr, timeout) {
                    Ok(mut s) => {
                        s.set_write_timeout(Some(timeout))
                            .map_err(|e| fail("cannot set a timeout", e))?;
                        s.write_all(bytes).map_err(|e| fail("cannot write", e))?;
                        s.flush().map_err(|e| fail("cannot write", e))?;
                        let _ = s.shutdown(Shutdown::Write);
                        return Ok(());
                    }
                    Err(e) => last = Some(e),
                }
            }
            Err(match last {
                Some(e) => fail("cannot connect", e),
                None => PrintError(format!("{target}: the address resolves to nothing")),
            })
        }
    }
}
