//! Throwaway PostgreSQL databases for tests, after crates.io's template-database harness.
//!
//! Once per process, under an advisory lock (other test processes may be doing the same):
//! drop leftovers of crashed runs (`triage_test_<unix secs>_<random>` older than two hours),
//! create `triage_test_template` if missing (or rebuild it when the migration files changed
//! since it was built) and run pending migrations on it. Then every
//! [`TestDb`] is `CREATE DATABASE … TEMPLATE triage_test_template` — a copy, ready in
//! milliseconds, isolated from every other test — and is dropped with `WITH (FORCE)` when the
//! `TestDb` goes.
//!
//! The server comes from `TRIAGE_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, a URL whose database is an existing
//! maintenance database; the role needs CREATEDB). When it cannot be reached,
//! [`TestDb::create`] prints a `skipping:` line and returns `None` — unless `CI=true`, where
//! it panics: CI must fail, never skip.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel::QueryableByName;
use diesel::sql_types::{Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PREFIX: &str = "triage_test_";
const TEMPLATE: &str = "triage_test_template";
/// Guards the template across processes: a database being migrated (or otherwise accessed)
/// cannot serve as a template. See [`with_template_lock`].
const TEMPLATE_LOCK: i64 = 0x7472_6961_6765_7465;
const STALE_AFTER: Duration = Duration::from_secs(2 * 60 * 60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `Err` holds why the server cannot be reached; other failures panic.
static TEMPLATE_READY: OnceCell<Result<(), String>> = OnceCell::const_new();

/// A database of its own for one test, with every migration applied; dropped on `Drop`.
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDb {
    /// A fresh, migrated database, or `None` (after a `skipping:` line) when PostgreSQL is
    /// not reachable.
    ///
    /// # Panics
    /// When PostgreSQL is not reachable and `CI=true`, or when it misbehaves otherwise
    /// (a migration fails, the role may not create databases).
    pub async fn create() -> Option<TestDb> {
        Self::create_from(Some(TEMPLATE)).await
    }

    /// A fresh database without any table, for tests of the migrations themselves. Same
    /// skipping rules as [`TestDb::create`].
    pub async fn create_empty() -> Option<TestDb> {
        Self::create_from(None).await
    }

    /// The connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn create_from(template: Option<&str>) -> Option<TestDb> {
        let admin_url = admin_url();
        if let Err(reason) = TEMPLATE_READY
            .get_or_init(|| prepare_template(admin_url.clone()))
            .await
        {
            return not_reachable(&admin_url, reason);
        }
        let mut admin = match connect(&admin_url).await {
            Ok(admin) => admin,
            Err(reason) => return not_reachable(&admin_url, &reason),
        };
        let name = format!("{PREFIX}{}_{:016x}", unix_secs(), rand::random::<u64>());
        let create = match template {
            Some(template) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
            None => format!("CREATE DATABASE \"{name}\""),
        };
        let created = with_template_lock(&mut admin, Lock::Shared, async |admin| {
            diesel::sql_query(create).execute(admin).await
        })
        .await;
        created.unwrap_or_else(|err| panic!("cannot create test database {name}: {err}"));
        Some(TestDb {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run on any runtime (or none), and must not return before the database is
        // gone: a short-lived thread with its own runtime does the work.
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = connect(&admin_url).await?;
                // FORCE ends the sessions the store under test may still hold.
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                diesel::sql_query(sql)
                    .execute(&mut admin)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        if !matches!(outcome, Ok(Ok(()))) {
            // A leftover is swept by a later run; say so rather than fail a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "warning: test database {} was not dropped: {outcome:?}",
                self.name
            );
        }
    }
}

fn admin_url() -> String {
    std::env::var("TRIAGE_TEST_PG_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

async fn connect(url: &str) -> Result<AsyncPgConnection, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, AsyncPgConnection::establish(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}

/// The template lock: cloning takes it shared (clones do not disturb each other), preparing
/// the template takes it exclusively (a database someone is connected to cannot be cloned).
#[derive(Clone, Copy)]
enum Lock {
    Shared,
    Exclusive,
}

async fn with_template_lock<T>(
    admin: &mut AsyncPgConnection,
    mode: Lock,
    work: impl AsyncFnOnce(&mut AsyncPgConnection) -> T,
) -> T {
    let (take, release) = match mode {
        Lock::Shared => (
            "SELECT pg_advisory_lock_shared($1)",
            "SELECT pg_advisory_unlock_shared($1)",
        ),
        Lock::Exclusive => (
            "SELECT pg_advisory_lock($1)",
            "SELECT pg_advisory_unlock($1)",
        ),
    };
    let run = async |admin: &mut AsyncPgConnection, sql: &str| {
        diesel::sql_query(sql)
            .bind::<diesel::sql_types::BigInt, _>(TEMPLATE_LOCK)
            .execute(admin)
            .await
            .unwrap_or_else(|err| panic!("template lock: {err}"))
    };
    run(admin, take).await;
    let outcome = work(admin).await;
    run(admin, release).await;
    outcome
}

/// Once per process: sweep leftovers, (re)create the template if missing or built from other
/// migration files, migrate it.
async fn prepare_template(admin_url: String) -> Result<(), String> {
    let mut admin = connect(&admin_url).await?;
    let fingerprint = migrations_fingerprint();
    with_template_lock(&mut admin, Lock::Exclusive, async |admin| {
        sweep_stale(admin).await;
        let exists = databases(admin).await.iter().any(|name| name == TEMPLATE);
        // diesel only applies migrations it has not recorded, so a template built before an
        // applied migration was edited would keep the old schema: rebuild it instead.
        let stale =
            exists && fingerprint.is_some() && template_fingerprint(admin).await != fingerprint;
        if stale {
            run(admin, format!("DROP DATABASE \"{TEMPLATE}\" WITH (FORCE)")).await;
        }
        if !exists || stale {
            run(admin, format!("CREATE DATABASE \"{TEMPLATE}\"")).await;
        }
        // migrate_postgres opens and closes its own connection to the template, so nothing
        // holds the template open when tests clone it.
        triage_store_diesel::migrate_postgres(&with_database(&admin_url, TEMPLATE))
            .await
            .unwrap_or_else(|err| panic!("cannot migrate {TEMPLATE}: {err}"));
        if let Some(fingerprint) = &fingerprint {
            run(
                admin,
                format!("COMMENT ON DATABASE \"{TEMPLATE}\" IS '{fingerprint}'"),
            )
            .await;
        }
    })
    .await;
    Ok(())
}

async fn run(admin: &mut AsyncPgConnection, sql: String) {
    if let Err(err) = diesel::sql_query(&sql).execute(admin).await {
        panic!("{sql}: {err}");
    }
}

/// SHA-256 over the PostgreSQL migration files (names and contents), or `None` when they
/// cannot be read from this checkout.
fn migrations_fingerprint() -> Option<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/postgres");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).ok()? {
        let dir = dir.ok()?.path();
        for file in std::fs::read_dir(&dir).ok()? {
            files.push(file.ok()?.path());
        }
    }
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.strip_prefix(&root).ok()?.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file).ok()?);
    }
    Some(
        hasher
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
    )
}

#[derive(QueryableByName)]
struct Comment {
    #[diesel(sql_type = Nullable<Text>)]
    comment: Option<String>,
}

async fn template_fingerprint(admin: &mut AsyncPgConnection) -> Option<String> {
    diesel::sql_query("SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(TEMPLATE)
        .get_result::<Comment>(admin)
        .await
        .ok()
        .and_then(|row| row.comment)
}

#[derive(QueryableByName)]
struct Database {
    #[diesel(sql_type = Text)]
    datname: String,
}

async fn databases(admin: &mut AsyncPgConnection) -> Vec<String> {
    diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'triage\\_test\\_%'")
        .load::<Database>(admin)
        .await
        .unwrap_or_else(|err| panic!("cannot list databases: {err}"))
        .into_iter()
        .map(|db| db.datname)
        .collect()
}

/// Drops `triage_test_<secs>_<random>` databases older than [`STALE_AFTER`]: leftovers of
/// runs that crashed before their `Drop`. Younger ones may belong to a run in progress.
async fn sweep_stale(admin: &mut AsyncPgConnection) {
    let now = unix_secs();
    for name in databases(admin).await {
        let Some(created) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next()?.parse::<u64>().ok())
        else {
            continue;
        };
        if now.saturating_sub(created) > STALE_AFTER.as_secs() {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            if let Err(err) = diesel::sql_query(sql).execute(admin).await {
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: cannot drop stale test database {name}: {err}"
                );
            }
        }
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn not_reachable(admin_url: &str, reason: &str) -> Option<TestDb> {
    let shown = redact(admin_url);
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!(
            "PostgreSQL not reachable at {shown} ({reason}); CI=true requires it: start it or set TRIAGE_TEST_PG_URL"
        );
    }
    // Straight to stderr: the harness captures `eprintln!`, and this line must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "skipping: PostgreSQL not reachable at {shown} ({reason})"
    );
    None
}

/// `url` with its path (the database name) replaced by `database`; the query string stays.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let end = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{database}", &base[..end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// `url` with any password masked, for messages.
fn redact(url: &str) -> String {
    let authority = url.find("://").map_or(0, |i| i + 3);
    let end = url[authority..]
        .find(['/', '?'])
        .map_or(url.len(), |i| authority + i);
    match url[authority..end].rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{}{user}:***@{host}{}", &url[..authority], &url[end..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_rewritten_and_redacted() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/postgres?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
