//! Dataset-layer errors as the wire carries them, worded as OpenZFS words
//! them: "cannot create 'tank/a': dataset already exists".

use basin_dmu::DmuError;

use crate::daemon::registry::RegistryError;
use crate::daemon::zpool::errors::registry_error;
use crate::protocol::{ErrorKind, WireError};

/// "cannot open 'NAME': dataset does not exist".
pub fn no_such_dataset(name: &str) -> WireError {
    WireError::new(
        ErrorKind::NotFound,
        format!("cannot open '{name}': dataset does not exist"),
        libc::ENOENT,
    )
}

/// An invalid argument with a complete message.
pub fn invalid(message: impl Into<String>) -> WireError {
    WireError::new(ErrorKind::InvalidArgument, message, libc::EINVAL)
}

/// "{context}: dataset already exists".
pub fn exists(context: &str) -> WireError {
    WireError::new(
        ErrorKind::Exists,
        format!("{context}: dataset already exists"),
        libc::EEXIST,
    )
}

/// The wire error for `e` after `context` ("cannot destroy 'tank/a'").
/// Messages the dataset layer already words in full ("cannot destroy
/// 'tank/a': filesystem has children...") pass through as they are.
pub fn dmu_error(context: &str, e: &DmuError) -> WireError {
    let errno = e.errno();
    let (kind, what) = match e {
        // Messages the dataset layer words in full.
        DmuError::NotFound(m) | DmuError::Exists(m) if m.starts_with("cannot ") => {
            let kind = if matches!(e, DmuError::NotFound(_)) {
                ErrorKind::NotFound
            } else {
                ErrorKind::Exists
            };
            return WireError::new(kind, m.clone(), errno);
        }
        DmuError::NotFound(_) => (ErrorKind::NotFound, "dataset does not exist".to_string()),
        DmuError::Exists(_) => (ErrorKind::Exists, "dataset already exists".to_string()),
        DmuError::QuotaExceeded(_) | DmuError::NoSpace(_) => {
            (ErrorKind::NoSpace, "out of space".to_string())
        }
        DmuError::Busy(m) | DmuError::Invalid(m) if m.starts_with("cannot ") => {
            let kind = if matches!(e, DmuError::Busy(_)) {
                ErrorKind::Busy
            } else {
                ErrorKind::InvalidArgument
            };
            return WireError::new(kind, m.clone(), errno);
        }
        DmuError::Busy(m) => (ErrorKind::Busy, m.clone()),
        DmuError::BadName { why, .. } => (ErrorKind::InvalidArgument, why.clone()),
        DmuError::UnknownProperty(p) => (
            ErrorKind::InvalidArgument,
            format!("invalid property '{p}'"),
        ),
        DmuError::BadPropertyValue { .. } | DmuError::ReadOnlyProperty(_) => {
            (ErrorKind::InvalidArgument, e.to_string())
        }
        DmuError::ReadOnly(_) => (ErrorKind::InvalidArgument, "dataset is read-only".into()),
        DmuError::Invalid(m) => (ErrorKind::InvalidArgument, m.clone()),
        DmuError::TooLarge(m) => (ErrorKind::InvalidArgument, m.clone()),
        other => (ErrorKind::Io, other.to_string()),
    };
    WireError::new(kind, format!("{context}: {what}"), errno)
}

/// A registry refusal about the pool of dataset `name`: a missing pool is
/// a missing dataset.
pub fn pool_refused(context: &str, name: &str, pool: &str, e: &RegistryError) -> WireError {
    match e {
        RegistryError::NoSuchPool => no_such_dataset(name),
        other => registry_error(context, pool, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording() {
        let e = dmu_error("cannot create 'tank/a'", &DmuError::Exists("x".into()));
        assert_eq!(e.message, "cannot create 'tank/a': dataset already exists");
        assert_eq!(e.kind, ErrorKind::Exists);
        let e = dmu_error(
            "cannot destroy 'tank/a'",
            &DmuError::Busy("cannot destroy 'tank/a': filesystem has children".into()),
        );
        assert_eq!(
            e.message,
            "cannot destroy 'tank/a': filesystem has children"
        );
        let e = dmu_error(
            "cannot set property for 'tank'",
            &DmuError::QuotaExceeded("t".into()),
        );
        assert_eq!(e.message, "cannot set property for 'tank': out of space");
        assert_eq!(
            no_such_dataset("tank/x").message,
            "cannot open 'tank/x': dataset does not exist"
        );
    }
}
