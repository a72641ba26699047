//! Basin's offline checker and dumper, `basin-zdb`: it opens a pool's vdevs
//! read-only (refusing a pool that a live process imported), never writes
//! a byte, and
//!
//! - walks every block from the chosen uberblock with its own traversal
//!   ([`walk`]), reads every copy of every block on every leaf that holds
//!   one and verifies its checksum, compares the space maps with the blocks
//!   reached, recomputes the dataset accounting and decodes every ZAP
//!   ([`check`]), then prints a summary in the shape of `zdb -b`
//!   ([`summary`]);
//! - dumps labels, uberblocks, datasets, objects and block pointers
//!   ([`dump`]).
//!
//! The library is what the command runs ([`cli`]); tests and the pool image
//! fuzzer call [`check::check`] on pools they opened in process.

pub mod check;
pub mod cli;
pub mod dump;
pub mod error;
pub mod open;
pub mod summary;
pub mod walk;

pub use check::{check, CheckOptions, Problem, ProblemKind, Report};
pub use error::{FsckError, Result};
