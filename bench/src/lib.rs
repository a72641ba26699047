//! Basin benchmark suite (library part shared by the bench binaries).
