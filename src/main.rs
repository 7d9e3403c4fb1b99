//! The `bazaar` command: serve (the default), migrate, seed, prune-events, create-admin, export,
//! import, backup, restore, print-schema.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use bazaar::config::{DatabaseConfig, LogConfig, ServeConfig};
use bazaar::db::{Db, migrations};
use bazaar::http::Application;
use bazaar::services::{accounts, archive, events, sealing, seed};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Bazaar: a headless-commerce GraphQL API server.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    database: DatabaseConfig,
    #[command(flatten)]
    log: LogConfig,
    #[command(flatten)]
    serve: ServeConfig,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the GraphQL API (the default when no command is given).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Fill an empty database with the demo shop, or a larger generated catalog.
    Seed {
        /// Multiply the demo shop (60 products, ~150 variants, 50 customers, 500 orders of 3
        /// lines) by this factor. Seeded customers sign in with the password "demo password".
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        scale: u32,
    },
    /// Delete the events older than the retention (`--event-retention-days`, default 30) from
    /// the event log and exit. Every running server also does this hourly.
    PruneEvents,
    /// Create an administrator account, or make an existing account one (its password is
    /// replaced and its sessions end). The password is read from `BAZAAR_ADMIN_PASSWORD`, or else
    /// from the first line of standard input.
    CreateAdmin {
        /// The administrator's email.
        #[arg(long)]
        email: String,
    },
    /// Write every table, from one consistent snapshot, to a portable archive that `import`
    /// loads into SQLite or PostgreSQL: one JSON-lines file per table and manifest.json (schema
    /// version, rows and SHA-256 per file).
    Export {
        /// A new directory, or a tar file if it ends in `.tar`.
        #[arg(long, value_name = "PATH")]
        to: PathBuf,
    },
    /// Load an archive of `export` into an empty database (migrated first if it has no schema).
    /// The whole archive is checked before anything is written: its schema version must be
    /// this binary's and every file must match the manifest's SHA-256.
    Import {
        /// The archive: a directory or a tar file.
        #[arg(long, value_name = "PATH")]
        from: PathBuf,
        /// Delete everything the database holds first (in the same transaction as the load).
        #[arg(long)]
        force: bool,
    },
    /// Take a consistent backup while servers use the database: on SQLite a compacted copy of
    /// the database file (VACUUM INTO), on PostgreSQL the archive of `export` as one tar file.
    Backup {
        /// The backup file to write (it must not exist).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Restore a backup (or any archive of `export`) into an empty database, then check its
    /// integrity.
    Restore {
        /// A file written by `backup`, or an archive.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Delete everything the database holds first (in the same transaction as the load).
        #[arg(long)]
        force: bool,
    },
    /// Re-seal every customer address, order shipping address, event and webhook payload under
    /// the first key of `BAZAAR_SEALING_KEYS` (values sealed under an older key, or stored in
    /// clear before sealing was on), in small transactions while servers keep running. Then
    /// the older keys can be dropped.
    RotateKey,
    /// Print a new random sealing key for `BAZAAR_SEALING_KEYS`, as `ID:KEY`.
    NewSealingKey {
        /// The key's id, stored with every value it seals. Default: today's date.
        #[arg(long)]
        id: Option<String>,
    },
    /// Print the GraphQL schema (SDL) and exit.
    PrintSchema,
}

fn main() {
    if let Err(error) = run() {
        eprintln!("bazaar: {error:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    bazaar::telemetry::init(cli.log.log_format);
    match cli.command {
        Some(Command::PrintSchema) => {
            print!("{}", bazaar::graphql::sdl());
            Ok(())
        }
        Some(Command::RotateKey) => {
            let db = Db::connect(&cli.database)?;
            let resealed = sealing::rotate(&db)?;
            println!(
                "re-sealed {} address(es), {} order address(es), {} cart address(es), {} event(s) \
                 and {} webhook delivery(ies) under key \"{}\"",
                resealed.addresses,
                resealed.orders,
                resealed.carts,
                resealed.events,
                resealed.webhook_deliveries,
                bazaar::db::sealed::keyring().map_or("", |k| k.sealing_key_id()),
            );
            Ok(())
        }
        Some(Command::NewSealingKey { id }) => {
            let id = id.unwrap_or_else(|| chrono::Utc::now().format("%Y-%m-%d").to_string());
            let entry = bazaar::domain::sealing::Keyring::generate_entry(&id);
            // Checked, so that a bad id is refused here rather than at start-up.
            bazaar::domain::sealing::Keyring::parse(&entry)?;
            println!("{entry}");
            Ok(())
        }
        Some(Command::Migrate) => {
            let db = Db::connect(&cli.database)?;
            let applied = db.run_blocking(migrations::run_pending)?;
            println!("applied {} migration(s)", applied.len());
            Ok(())
        }
        Some(Command::Seed { scale }) => {
            let db = Db::connect(&cli.database)?;
            db.run_blocking(migrations::run_pending)?;
            let started = std::time::Instant::now();
            let report = db.run_blocking(|conn| seed::seed_catalog_blocking(conn, scale))?;
            let shoppers = db.run_blocking(|conn| seed::seed_shoppers_blocking(conn, scale))?;
            println!(
                "seeded {} categories, {} products, {} variants, {} images, {} customers, {} orders, \
                 {} order lines in {:.1?}",
                report.categories,
                report.products,
                report.variants,
                report.images,
                shoppers.customers,
                shoppers.orders,
                shoppers.order_lines,
                started.elapsed()
            );
            Ok(())
        }
        Some(Command::PruneEvents) => {
            let db = Db::connect(&cli.database)?;
            db.run_blocking(migrations::run_pending)?;
            let days = cli.serve.event_retention_days;
            let pruned = db
                .run_blocking(|conn| events::prune_blocking(conn, days))
                .map_err(|e| anyhow::anyhow!("{}", e.detail()))?;
            println!("pruned {pruned} event(s) older than {days} day(s)");
            Ok(())
        }
        Some(Command::CreateAdmin { email }) => {
            let password = admin_password()?;
            let db = Db::connect(&cli.database)?;
            db.run_blocking(migrations::run_pending)?;
            let cost = cli.serve.auth.bcrypt_cost;
            let (user, created) = db
                .run_blocking(|conn| {
                    accounts::create_admin_blocking(conn, &email, &password, cost)
                        .map_err(bazaar::error::AppError::internal)
                })
                .map_err(|e| anyhow::anyhow!("{}", e.detail()))?;
            let verb = if created { "created" } else { "promoted" };
            println!("{verb} administrator {} (account {})", user.email, user.id);
            Ok(())
        }
        Some(Command::Export { to }) => {
            let db = Db::connect(&cli.database)?;
            let report = archive::export(&db, &to)?;
            println!(
                "exported {} rows of {} tables ({} bytes) to {} in {:.1} s",
                report.rows(),
                report.manifest.tables.len(),
                report.bytes,
                to.display(),
                report.manifest.seconds
            );
            Ok(())
        }
        Some(Command::Import { from, force }) => {
            // Checked whole before the database is touched.
            let source = archive::Archive::open(&from)?;
            let db = Db::connect(&cli.database)?;
            let report = archive::import(&db, &source, force)?;
            print_load("imported", &report, &from);
            Ok(())
        }
        Some(Command::Backup { to }) => {
            let db = Db::connect(&cli.database)?;
            let started = std::time::Instant::now();
            let report = archive::backup(&db, &to)?;
            let rows = report
                .rows
                .map(|rows| format!(", {rows} rows"))
                .unwrap_or_default();
            println!(
                "backed up to {} ({}, {} bytes{rows}) in {:.1?}",
                to.display(),
                report.kind,
                report.bytes,
                started.elapsed()
            );
            Ok(())
        }
        Some(Command::Restore { from, force }) => {
            let mut backup = archive::Backup::open(&from)?;
            let db = Db::connect(&cli.database)?;
            let report = archive::restore(&db, &mut backup, force)?;
            print_load("restored", &report, &from);
            Ok(())
        }
        Some(Command::Serve) | None => serve(&cli.database, &cli.serve),
    }
}

fn print_load(verb: &str, report: &archive::LoadReport, from: &std::path::Path) {
    println!(
        "{verb} {} rows of {} tables from {} in {:.1?}; counts and integrity checked",
        report.rows(),
        report.tables.len(),
        from.display(),
        report.elapsed
    );
}

/// The new administrator's password: `BAZAAR_ADMIN_PASSWORD`, or the first line of stdin.
fn admin_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("BAZAAR_ADMIN_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(
        !password.is_empty(),
        "give the password in BAZAAR_ADMIN_PASSWORD or on standard input"
    );
    Ok(password)
}

fn serve(database: &DatabaseConfig, config: &ServeConfig) -> anyhow::Result<()> {
    let mut config = config.clone();
    config.settle_for_database(&database.database_url);
    let config = &config;
    config.check()?;
    anyhow::ensure!(
        database.sealing_keys.is_some() || config.in_development(),
        "production needs keys to seal customers' addresses and phone numbers with: set \
         BAZAAR_SEALING_KEYS (`bazaar new-sealing-key` makes one), or start with --environment \
         development"
    );
    // Start-up work (migrations, demo data) may take longer than a request is allowed to.
    let db = Db::connect(database)?;
    if config.migrate_enabled() {
        let applied = db.run_blocking(migrations::run_pending)?;
        if !applied.is_empty() {
            tracing::info!(count = applied.len(), "applied migrations");
        }
    } else {
        let pending = db.run_blocking(migrations::pending)?;
        anyhow::ensure!(
            pending.is_empty(),
            "the database needs {} migration(s): run `bazaar migrate` first (or start with --migrate)",
            pending.len()
        );
    }
    if config.seed_demo_enabled() {
        bazaar::services::seed::seed_demo_if_empty(&db)?;
    }
    sealing::check_newest_values_open(&db)?;
    drop(db);
    // Serving, no statement outlives the request that sent it.
    let database = &DatabaseConfig {
        statement_timeout: Some(std::time::Duration::from_secs(
            config.limits.request_timeout_secs,
        )),
        ..database.clone()
    };
    let db = Db::connect(database)?;
    actix_web::rt::System::new().block_on(async {
        let app = Application::build(config, db, database.effective_pool_size())?;
        let addr = app.local_addr();
        let scheme = if config.tls.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        tracing::info!(%addr, scheme, "Bazaar is listening");
        if config.graphiql_enabled() {
            println!("GraphiQL: {scheme}://{addr}/graphiql");
        }
        println!("GraphQL endpoint: {scheme}://{addr}/graphql");
        app.run_until_stopped().await?;
        Ok(())
    })
}
