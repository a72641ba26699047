//! `zfs mount` and `zfs unmount` (alias `umount`), as OpenZFS 2.3 has
//! them: with no argument `zfs mount` lists what is mounted; `-a` mounts
//! (or unmounts) every filesystem that mounts automatically and reports
//! each failure, exiting 1 if there was one.

use clap::Args;
use serde_json::{json, Map};

use super::Connect;
use crate::errors::{print_err, print_out, CliError, CliResult, EXIT_ERROR, EXIT_OK};
use crate::format::json;
use crate::protocol::zfs::{MountEntry, MountRequest, MountResult, UnmountRequest, UnmountResult};
use crate::protocol::Request;

/// `zfs mount [-j] | [-Oflv] [-o options] -a | filesystem`.
#[derive(Debug, Args)]
pub struct MountArgs {
    /// Mount every filesystem with canmount=on.
    #[arg(short = 'a')]
    pub all: bool,
    /// Overlay mount (accepted: FUSE mounts always overlay).
    #[arg(short = 'O')]
    pub overlay: bool,
    /// The listing as JSON.
    #[arg(short = 'j', long = "json")]
    pub json: bool,
    /// The filesystem to mount.
    pub names: Vec<String>,
}

/// `zfs unmount [-fu] -a | filesystem | mountpoint`.
#[derive(Debug, Args)]
pub struct UnmountArgs {
    /// Unmount every mounted filesystem.
    #[arg(short = 'a')]
    pub all: bool,
    /// Even when busy (files in use get errors from then on).
    #[arg(short = 'f')]
    pub force: bool,
    /// Unload encryption keys (accepted: there are none).
    #[arg(short = 'u')]
    pub unload: bool,
    /// A filesystem or its mountpoint.
    pub targets: Vec<String>,
}

/// The listing of `zfs mount` with no argument.
pub fn render(mounted: &[MountEntry]) -> String {
    mounted
        .iter()
        .filter(|m| !m.name.contains('@'))
        .map(|m| format!("{:<30}  {}\n", m.name, m.mountpoint))
        .collect()
}

/// The listing as `zfs mount -j` prints it (nothing when nothing is
/// mounted, as OpenZFS).
pub fn render_json(mounted: &[MountEntry]) -> String {
    let mut datasets = Map::new();
    for m in mounted.iter().filter(|m| !m.name.contains('@')) {
        datasets.insert(
            m.name.clone(),
            json!({"filesystem": m.name, "mountpoint": m.mountpoint}),
        );
    }
    if datasets.is_empty() {
        return String::new();
    }
    json::render(&json::document("zfs mount", "datasets", datasets))
}

/// Prints the errors of `-a`; the exit code.
fn report(errors: &[crate::protocol::WireError]) -> u8 {
    for e in errors {
        print_err(&format!("{}\n", e.message));
    }
    if errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_ERROR
    }
}

/// `zfs mount`.
pub fn mount(connect: Connect, a: &MountArgs) -> CliResult {
    if a.json && (a.all || !a.names.is_empty()) {
        return Err(CliError::Usage("too many arguments".into()));
    }
    if a.names.len() > 1 || (a.all && !a.names.is_empty()) {
        return Err(CliError::Usage("too many arguments".into()));
    }
    let r: MountResult = connect()?.call(&Request::ZfsMount(MountRequest {
        name: a.names.first().cloned(),
        all: a.all,
    }))?;
    if !a.all && a.names.is_empty() {
        let text = if a.json {
            render_json(&r.mounted)
        } else {
            render(&r.mounted)
        };
        print_out(&text)?;
    }
    Ok(report(&r.errors))
}

/// `zfs unmount`.
pub fn unmount(connect: Connect, a: &UnmountArgs) -> CliResult {
    if a.all && !a.targets.is_empty() || a.targets.len() > 1 {
        return Err(CliError::Usage("too many arguments".into()));
    }
    if !a.all && a.targets.is_empty() {
        return Err(CliError::Usage("missing filesystem argument".into()));
    }
    let r: UnmountResult = connect()?.call(&Request::ZfsUnmount(UnmountRequest {
        target: a.targets.first().cloned(),
        all: a.all,
        force: a.force,
    }))?;
    Ok(report(&r.errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_look_like_openzfs() {
        let m = vec![
            MountEntry {
                name: "tank".into(),
                mountpoint: "/tank".into(),
            },
            MountEntry {
                name: "tank/home".into(),
                mountpoint: "/export/home".into(),
            },
        ];
        assert_eq!(
            render(&m),
            "tank                            /tank\n\
             tank/home                       /export/home\n"
        );
        let j: serde_json::Value = serde_json::from_str(&render_json(&m)).unwrap();
        assert_eq!(j["output_version"]["command"], "zfs mount");
        assert_eq!(j["datasets"]["tank/home"]["mountpoint"], "/export/home");
        assert_eq!(j["datasets"]["tank"]["filesystem"], "tank");
        assert_eq!(render_json(&[]), "");
    }
}
