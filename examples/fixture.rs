//! `cargo run --example fixture -- VARIANT SCENARIO[,SCENARIO] PATH`: writes a fixture database.
//! VARIANT is current or legacy; SCENARIO is guide, edge or empty.

#[path = "../fixtures/fixture.rs"]
mod fixture;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [variant, scenarios, path] = args.as_slice() else {
        eprintln!("usage: fixture current|legacy guide|edge[,..] PATH");
        std::process::exit(2);
    };
    let path = std::path::Path::new(path);
    if path.exists() {
        if let Err(e) = std::fs::remove_file(path) {
            eprintln!("error: cannot replace {}: {e}", path.display());
            std::process::exit(2);
        }
    }
    let scenarios: Vec<&str> = scenarios.split(',').collect();
    if let Err(e) = fixture::build(path, variant, &scenarios) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    println!(
        "{} ({variant}: {}); use --now '{}'",
        path.display(),
        scenarios.join(", "),
        fixture::NOW
    );
}
