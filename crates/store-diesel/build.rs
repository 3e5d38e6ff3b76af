//! `embed_migrations!` cannot notice new migration directories by itself.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
