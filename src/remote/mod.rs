//! remote layer (being built).
