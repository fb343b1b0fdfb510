//! Receipt printers: where ESC/POS bytes go ([`Target`]: a file, a device file such as
//! `/dev/usb/lp0`, or a raw TCP port) and the [`PrintWorker`] that sends them on its own
//! thread, so that a printer that is off, refusing, stalling or unplugged never holds up a sale.

mod transport;
mod worker;

pub use transport::{send, PrintError, Target};
pub use worker::{PrintJob, PrintOutcome, PrintWorker};

use std::time::Duration;

use crate::config::{PrinterConfig, PrinterKind};

/// The printer `config` names, with its timeout; `None` when printing is off.
pub fn target_of(config: &PrinterConfig) -> Option<(Target, Duration)> {
    let timeout = Duration::from_millis(config.timeout_ms.max(1));
    let target = match config.kind {
        PrinterKind::None => return None,
        PrinterKind::File => Target::File(config.path.clone()?),
        PrinterKind::Device => Target::Device(config.path.clone()?),
        PrinterKind::Tcp => Target::Tcp(with_default_port(config.address.as_deref()?)),
    };
    Some((target, timeout))
}

/// `host` alone means the raw printing port, 9100.
fn with_default_port(address: &str) -> String {
    let a = address.trim();
    let has_port = a
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.ends_with(':') && port.parse::<u16>().is_ok())
        && !(a.starts_with('[') && a.ends_with(']'));
    if has_port {
        a.to_string()
    } else {
        format!("{a}:9100")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_printer_address_without_a_port_uses_9100() {
        assert_eq!(with_default_port("10.0.0.5"), "10.0.0.5:9100");
        assert_eq!(
            with_default_port("printer.local:9101"),
            "printer.local:9101"
        );
        assert_eq!(with_default_port("[::1]"), "[::1]:9100");
        assert_eq!(with_default_port("[::1]:9100"), "[::1]:9100");
    }
}
