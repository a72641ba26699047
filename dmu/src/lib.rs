//! Basin's data management unit: objects (dnodes with trees of indirect
//! blocks) gathered in object sets, key-value objects (ZAP), and on top the
//! dataset layer (DSL): the tree of filesystems and volumes, properties,
//! snapshots by birth time with deadlists, clones, space accounting, quotas
//! and reservations.

pub mod accounting;
pub mod cache;
pub mod dnode;
pub mod dsl;
pub mod error;
pub mod objset;
pub mod objset_phys;
pub mod types;
pub mod zap;
pub mod zil;

pub use dsl::DslPool;
pub use error::{DmuError, Result};
pub use objset::Objset;
pub use types::ObjectType;
