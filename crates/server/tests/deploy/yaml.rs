//! Loading the YAML files under `deploy/` (merge keys applied) and reading their nodes.

use std::fs;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::{deploy_dir, read};

/// Every `.yaml` / `.yml` file under `dir`, recursively.
pub(crate) fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(yaml_files(&path));
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The documents of a YAML file, merge keys (`<<: *anchor`) applied as compose applies them.
pub(crate) fn load_yaml(path: &Path) -> Vec<Yaml> {
    let docs = YamlLoader::load_from_str(&read(path))
        .unwrap_or_else(|err| panic!("{}: not YAML: {err}", path.display()));
    docs.into_iter().map(merge_keys).collect()
}

fn merge_keys(node: Yaml) -> Yaml {
    match node {
        Yaml::Array(items) => Yaml::Array(items.into_iter().map(merge_keys).collect()),
        Yaml::Hash(hash) => {
            let merge_key = Yaml::String("<<".into());
            let mut out = yaml_rust2::yaml::Hash::new();
            if let Some(merged) = hash.get(&merge_key) {
                let sources = match merged {
                    Yaml::Array(items) => items.clone(),
                    other => vec![other.clone()],
                };
                for source in sources {
                    if let Yaml::Hash(source) = merge_keys(source) {
                        for (k, v) in source {
                            out.insert(k, v);
                        }
                    }
                }
            }
            for (k, v) in hash {
                if k != merge_key {
                    out.insert(k, merge_keys(v));
                }
            }
            Yaml::Hash(out)
        }
        other => other,
    }
}

/// A scalar as text (strings, numbers); `None` for the rest.
pub(crate) fn scalar(node: &Yaml) -> Option<String> {
    match node {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A string, or a list of strings, as a list.
pub(crate) fn words(node: &Yaml) -> Vec<String> {
    match node {
        Yaml::Array(items) => items.iter().filter_map(scalar).collect(),
        other => scalar(other)
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
    }
}

pub(crate) fn entries(node: &Yaml) -> Vec<(String, &Yaml)> {
    node.as_hash()
        .map(|hash| {
            hash.iter()
                .filter_map(|(k, v)| Some((scalar(k)?, v)))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn items(node: &Yaml) -> &[Yaml] {
    node.as_vec().map_or(&[], Vec::as_slice)
}

#[test]
fn every_yaml_file_under_deploy_parses() {
    let files = yaml_files(&deploy_dir());
    assert!(
        files.iter().any(|f| f.ends_with("compose.yaml")),
        "deploy/compose.yaml is missing: {files:?}"
    );
    assert!(
        files
            .iter()
            .any(|f| f.starts_with(deploy_dir().join("k8s"))),
        "deploy/k8s/ has no manifests"
    );
    for file in files {
        let docs = load_yaml(&file);
        assert!(
            docs.iter()
                .any(|d| d.as_hash().is_some_and(|h| !h.is_empty())),
            "{}: no document",
            file.display()
        );
        for doc in &docs {
            assert!(
                !format!("{doc:?}").contains("BadValue"),
                "{}: a value YAML could not type (e.g. an unknown alias)",
                file.display()
            );
        }
    }
}
