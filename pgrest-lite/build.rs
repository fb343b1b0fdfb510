//! Embeds the Supabase setup SQL, the migrations (in file-name order) and the seed, so that
//! `pgrest_lite::sql` and `pgrest_lite::testing` need no files at run time.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let supabase = manifest.join("..").join("supabase");
    let migrations_dir = supabase.join("migrations");
    println!("cargo:rerun-if-changed={}", migrations_dir.display());
    println!(
        "cargo:rerun-if-changed={}",
        supabase.join("seed.sql").display()
    );
    println!("cargo:rerun-if-changed={}", manifest.join("sql").display());

    let mut files: Vec<PathBuf> = std::fs::read_dir(&migrations_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = String::from("/// `(file name, SQL)` of every migration, in order.\npub const MIGRATIONS: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let _ = writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            f.display().to_string()
        );
    }
    out.push_str("];\n");
    let seed = supabase.join("seed.sql");
    let _ = writeln!(
        out,
        "/// `supabase/seed.sql`.\npub const SEED: &str = include_str!({:?});",
        seed.display().to_string()
    );
    let setup = manifest.join("sql").join("supabase_setup.sql");
    let _ = writeln!(out, "/// What a Supabase project already has (roles, `auth` helpers, default privileges).\npub const SUPABASE_SETUP: &str = include_str!({:?});", setup.display().to_string());
    let auth = manifest.join("sql").join("supabase_auth.sql");
    let _ = writeln!(out, "/// Supabase Auth's own tables (users, sessions, refresh tokens) as the auth stand-in uses them.\npub const SUPABASE_AUTH: &str = include_str!({:?});", auth.display().to_string());
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("embedded_sql.rs");
    std::fs::write(dest, out).expect("write embedded_sql.rs");
}
