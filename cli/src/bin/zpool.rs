//! `zpool`: configure Basin storage pools through `basind`.

fn main() -> std::process::ExitCode {
    basin_cli::zpool::main()
}
