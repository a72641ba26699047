//! `zfs`: configure Basin datasets through `basind`.

fn main() -> std::process::ExitCode {
    basin_cli::zfs::main()
}
