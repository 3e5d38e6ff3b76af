//! The operations guide cannot fall behind the configuration: every key of
//! `config/default.toml` must appear in `docs/operations.md` as `` `section.key` `` together
//! with its `TRIAGE__SECTION__KEY` environment name, and every legacy environment name the
//! server accepts (`LEGACY_ENV`) must be mentioned there too.
//!
//! `default.toml` is read as text (std only): `[section]` headers and `key = value` lines,
//! comments and blank lines skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// Every key of a flat TOML file as `section.key` (`key` alone before the first header).
fn config_keys(toml: &str) -> Vec<String> {
    let mut section = String::new();
    let mut keys = Vec::new();
    for line in toml.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let name = header
                .split(']')
                .next()
                .expect("a section header ends with ]")
                .trim();
            assert!(
                !name.is_empty() && !name.starts_with('['),
                "unsupported header in config/default.toml: {line}"
            );
            section = name.to_owned();
            continue;
        }
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let is_key = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !is_key {
            continue;
        }
        keys.push(if section.is_empty() {
            key.to_owned()
        } else {
            format!("{section}.{key}")
        });
    }
    keys
}

/// `server.bind` → `TRIAGE__SERVER__BIND`, `data_dir` → `TRIAGE__DATA_DIR`.
fn env_name(key: &str) -> String {
    format!("TRIAGE__{}", key.replace('.', "__").to_ascii_uppercase())
}

#[test]
fn the_key_reader_understands_sections_and_top_level_keys() {
    let toml = "# comment\ntop = 1\n\n[a]\n# x = 2\nb = \"=\"\nc_d = true\n[e]\nf = 0\n";
    assert_eq!(config_keys(toml), ["top", "a.b", "a.c_d", "e.f"]);
    assert_eq!(env_name("a.c_d"), "TRIAGE__A__C_D");
    assert_eq!(env_name("data_dir"), "TRIAGE__DATA_DIR");
}

#[test]
fn every_config_key_is_documented_in_the_operations_guide() {
    let keys = config_keys(&read("config/default.toml"));
    assert!(
        keys.len() > 20 && keys.iter().any(|key| key == "server.bind"),
        "config/default.toml was not read as expected: {keys:?}"
    );
    let guide = read("docs/operations.md");
    let missing: Vec<String> = keys
        .iter()
        .filter(|key| !guide.contains(&format!("`{key}`")))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "docs/operations.md does not document these keys of config/default.toml \
         (write each as `section.key`): {missing:?}"
    );
    let missing_env: Vec<String> = keys
        .iter()
        .map(|key| env_name(key))
        .filter(|env| !guide.contains(&format!("`{env}`")))
        .collect();
    assert!(
        missing_env.is_empty(),
        "docs/operations.md does not name these environment variables: {missing_env:?}"
    );
}

#[test]
fn every_legacy_environment_name_is_documented() {
    let guide = read("docs/operations.md");
    let missing: Vec<&str> = triage_server::config::LEGACY_ENV
        .iter()
        .filter(|(name, _)| !guide.contains(&format!("`{name}`")))
        .map(|(name, _)| *name)
        .collect();
    assert!(
        missing.is_empty(),
        "docs/operations.md does not mention these legacy environment names: {missing:?}"
    );
}
