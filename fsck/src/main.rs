//! `basin-zdb`: examine a pool offline. See [`basin_fsck::cli`].

fn main() {
    let code = basin_fsck::cli::run(
        std::env::args_os(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code);
}
