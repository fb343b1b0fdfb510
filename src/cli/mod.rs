//! Headless commands (being built).
