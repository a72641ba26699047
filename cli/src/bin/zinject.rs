//! `zinject`: inject faults into the devices of Basin pools.

fn main() -> std::process::ExitCode {
    basin_cli::zinject::main()
}
