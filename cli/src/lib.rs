//! Basin's daemon and operator commands.
//!
//! `basind` ([`daemon`]) is the only process that opens pools; `zpool`
//! ([`zpool`]), `zfs` ([`zfs`]) and the commands to come (`vmadm`,
//! `imgadm`) are thin clients ([`client`]) that send requests of the
//! versioned JSON [`protocol`] over a Unix socket and print the answers with
//! the shared [`format`](mod@format) helpers, failing with OpenZFS-worded
//! [`errors`].

pub mod client;
pub mod daemon;
pub mod dsprops;
pub mod errors;
pub mod format;
pub mod protocol;
pub mod zfs;
pub mod zinject;
pub mod zpool;
