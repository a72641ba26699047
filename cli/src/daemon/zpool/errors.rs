//! Pool-layer and registry errors as the wire carries them, worded as
//! OpenZFS words them: "cannot create 'tank': pool already exists".

use basin_pool::PoolError;

use crate::daemon::registry::RegistryError;
use crate::protocol::{ErrorKind, WireError};

/// The wire error for `e`, after `context` ("cannot create 'tank'").
pub fn pool_error(context: &str, e: &PoolError) -> WireError {
    let kind = match e {
        PoolError::NoSuchPool(_) => ErrorKind::NoSuchPool,
        PoolError::MissingVdev(_) => ErrorKind::NotFound,
        PoolError::VdevInUse { .. }
        | PoolError::VdevLocked(_)
        | PoolError::PoolActive { .. }
        | PoolError::PoolForeign { .. } => ErrorKind::InUse,
        PoolError::BadPoolName { .. }
        | PoolError::BadVdevSpec(_)
        | PoolError::UnknownProperty(_)
        | PoolError::BadPropertyValue { .. }
        | PoolError::ReadOnlyProperty(_)
        | PoolError::VdevTooSmall { .. }
        | PoolError::DuplicateVdev(_) => ErrorKind::InvalidArgument,
        PoolError::Unsupported(_) => ErrorKind::Unsupported,
        _ => ErrorKind::Io,
    };
    let what = match e {
        // OpenZFS says only why: "cannot create '1x': name must begin
        // with a letter".
        PoolError::BadPoolName { why, .. } => why.to_string(),
        other => other.to_string(),
    };
    WireError::new(kind, format!("{context}: {what}"), e.errno())
}

/// The wire error for a registry refusal about pool `name`, after
/// `context`; a missing pool is always "cannot open 'NAME': no such pool".
pub fn registry_error(context: &str, name: &str, e: &RegistryError) -> WireError {
    match e {
        RegistryError::NoSuchPool => no_such_pool(name),
        RegistryError::Exists => WireError::new(
            ErrorKind::Exists,
            format!("{context}: pool already exists"),
            libc::EEXIST,
        ),
        RegistryError::Busy(why) => WireError::new(
            ErrorKind::Busy,
            format!("{context}: pool '{name}' is busy ({why}); try again"),
            libc::EBUSY,
        ),
        RegistryError::ShuttingDown => WireError::new(
            ErrorKind::ShuttingDown,
            format!("{context}: basind is shutting down"),
            libc::ESHUTDOWN,
        ),
    }
}

/// "cannot open 'NAME': no such pool".
pub fn no_such_pool(name: &str) -> WireError {
    WireError::new(
        ErrorKind::NoSuchPool,
        format!("cannot open '{name}': no such pool"),
        libc::ENOENT,
    )
}

/// An invalid argument, with a complete message.
pub fn invalid(message: impl Into<String>) -> WireError {
    WireError::new(ErrorKind::InvalidArgument, message, libc::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording() {
        let e = pool_error(
            "cannot create '1x'",
            &PoolError::BadPoolName {
                name: "1x".into(),
                why: "name must begin with a letter",
            },
        );
        assert_eq!(
            e.message,
            "cannot create '1x': name must begin with a letter"
        );
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        let e = registry_error("cannot create 'tank'", "tank", &RegistryError::Exists);
        assert_eq!(e.message, "cannot create 'tank': pool already exists");
        let e = registry_error("cannot export 'nope'", "nope", &RegistryError::NoSuchPool);
        assert_eq!(e.message, "cannot open 'nope': no such pool");
        assert_eq!(e.errno, libc::ENOENT);
    }
}
