//! Local SQLite store (being built).
