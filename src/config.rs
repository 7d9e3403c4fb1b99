//! Every setting Bazaar reads, from command-line flags with `BAZAAR_*` / `DATABASE_URL`
//! environment fallbacks. Read once at start-up; a bad value stops the start with a clear message.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Where Bazaar runs; sets the defaults of the developer conveniences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    /// GraphiQL, introspection and debug extensions on; an empty database gets demo data.
    Development,
    /// GraphiQL, introspection, debug extensions and demo seeding off unless switched on.
    Production,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable, coloured when writing to a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Settings for reaching the database; shared by every subcommand.
#[derive(Clone, Args)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://PATH` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "sqlite://bazaar.db",
        global = true
    )]
    pub database_url: String,

    /// Most database connections held open at once. Default: twice the number of CPU cores.
    #[arg(long, env = "BAZAAR_POOL_SIZE", global = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub pool_size: Option<u32>,

    /// Seconds to wait for a free database connection before failing with a retryable error.
    #[arg(
        long,
        env = "BAZAAR_POOL_TIMEOUT_SECS",
        default_value_t = 2,
        global = true
    )]
    pub pool_timeout_secs: u64,

    /// How PostgreSQL plans Bazaar's prepared statements (its `plan_cache_mode`). Every page
    /// query binds its page size, and with `auto` PostgreSQL re-plans such statements on every
    /// execution, which costs more than running them; the generic plans of Bazaar's
    /// index-driven statements are the plans a custom one would pick.
    #[arg(
        long,
        env = "BAZAAR_PG_PLAN_CACHE_MODE",
        value_enum,
        default_value_t = PlanCacheMode::ForceGenericPlan,
        global = true
    )]
    pub pg_plan_cache_mode: PlanCacheMode,

    /// PostgreSQL's `statement_timeout` for the pool's sessions: `serve` sets it from the request
    /// budget (`--request-timeout-secs`), so no statement outlives the request that sent it;
    /// `migrate` and the other commands leave it unset.
    #[arg(skip)]
    pub statement_timeout: Option<std::time::Duration>,

    /// Keys that seal customers' addresses and phone numbers at rest: `ID:KEY[,ID:KEY…]`, each
    /// KEY 32 random bytes in base64 (`bazaar new-sealing-key` makes one). The first key seals;
    /// every key opens what it sealed (rotate: put a new key first, run `bazaar rotate-key`,
    /// then drop the old one). Required by `serve` in production; without it values are
    /// stored in clear.
    #[arg(
        long,
        env = "BAZAAR_SEALING_KEYS",
        hide_env_values = true,
        global = true
    )]
    pub sealing_keys: Option<String>,
}

/// PostgreSQL's `plan_cache_mode` for Bazaar's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanCacheMode {
    /// PostgreSQL's default: custom plans until a generic one looks as good.
    Auto,
    /// Plan each prepared statement once per connection.
    ForceGenericPlan,
    /// Plan at every execution.
    ForceCustomPlan,
}

impl PlanCacheMode {
    /// The value PostgreSQL's `plan_cache_mode` takes.
    pub fn as_setting(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::ForceGenericPlan => "force_generic_plan",
            Self::ForceCustomPlan => "force_custom_plan",
        }
    }
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("database_url", &crate::db::redact(&self.database_url))
            .field("pool_size", &self.pool_size)
            .field("pool_timeout_secs", &self.pool_timeout_secs)
            .field("pg_plan_cache_mode", &self.pg_plan_cache_mode)
            .field("statement_timeout", &self.statement_timeout)
            .field(
                "sealing_keys",
                &self.sealing_keys.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl DatabaseConfig {
    /// The pool size to use: the configured one, or twice the CPU cores.
    pub fn effective_pool_size(&self) -> u32 {
        self.pool_size.unwrap_or_else(|| {
            u32::try_from(available_cores() * 2)
                .unwrap_or(u32::MAX)
                .max(2)
        })
    }
}

/// Settings of `bazaar serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address and port to listen on.
    #[arg(
        long,
        env = "BAZAAR_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,

    /// HTTP worker threads. Default: one per CPU core.
    #[arg(long, env = "BAZAAR_WORKERS", global = true)]
    pub workers: Option<usize>,

    /// Seconds that background work under way at SIGTERM (mail, webhook sends, a round of the
    /// reservation sweep or the reconcile job) has to finish, counted from the signal. Webhook
    /// deliveries still being sent then are handed back to the other instances.
    #[arg(long, env = "BAZAAR_SHUTDOWN_GRACE_SECS", default_value_t = 20, global = true,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_secs: u64,

    /// Development or production: chooses the defaults of the switches below. Default:
    /// production with a `postgres://` database, development with SQLite.
    #[arg(long, env = "BAZAAR_ENV", value_enum, global = true)]
    pub environment: Option<Environment>,

    /// Apply pending migrations at start (under a PostgreSQL advisory lock, so instances
    /// starting at once take turns). Default: on in development; in production the server
    /// refuses to start on a database that needs migrations (run `bazaar migrate`), so the app
    /// can run as a database user without DDL rights.
    #[arg(long, env = "BAZAAR_MIGRATE", global = true)]
    pub migrate: Option<bool>,

    /// Whether the database is PostgreSQL (set from the database URL, not a flag).
    #[arg(skip)]
    pub on_postgres: bool,

    /// Serve the GraphiQL playground at /graphiql. Default: on in development only.
    #[arg(long, env = "BAZAAR_GRAPHIQL", global = true)]
    pub graphiql: Option<bool>,

    /// Answer introspection queries. Default: on in development only.
    #[arg(long, env = "BAZAAR_INTROSPECTION", global = true)]
    pub introspection: Option<bool>,

    /// Add `extensions.sql` (statements sent, database calls made) to every response. Default: on
    /// in development only.
    #[arg(long, env = "BAZAAR_DEBUG_EXTENSIONS", global = true)]
    pub debug_extensions: Option<bool>,

    /// Fill an empty database with the demo shop at start-up. Default: on in development with
    /// SQLite only (PostgreSQL gets demo data only when asked: this or `bazaar seed`).
    #[arg(long, env = "BAZAAR_SEED_DEMO", global = true)]
    pub seed_demo: Option<bool>,

    /// ISO 4217 code of the store currency.
    #[arg(long, env = "BAZAAR_CURRENCY", default_value = "USD", global = true)]
    pub currency: String,

    /// Seconds the category tree is kept between reads, for product lists by category (0: read
    /// it for every list). A category change made anywhere (any server sharing the database,
    /// the CLI, SQL on PostgreSQL) drops it at once, through the bus; this bounds what a bus that
    /// lost its connection could miss.
    #[arg(long, env = "BAZAAR_CATEGORY_CACHE_SECONDS", default_value_t = 5, global = true,
          value_parser = clap::value_parser!(u32).range(0..=300))]
    pub category_cache_seconds: u32,

    /// Flat shipping charge per order, in the store currency, e.g. `4.95`.
    #[arg(
        long,
        env = "BAZAAR_SHIPPING_FLAT_RATE",
        default_value = "5.00",
        global = true
    )]
    pub shipping_flat_rate: String,

    /// Discounted subtotal from which shipping is free, e.g. `50.00`; `none` for never.
    #[arg(
        long,
        env = "BAZAAR_FREE_SHIPPING_FROM",
        default_value = "50.00",
        global = true
    )]
    pub free_shipping_from: String,

    /// Sales tax on the discounted subtotal, in percent with up to two decimals, e.g. `8.25`.
    #[arg(
        long,
        env = "BAZAAR_TAX_RATE_PERCENT",
        default_value = "0",
        global = true
    )]
    pub tax_rate_percent: String,

    /// Prices (and shipping charges) include tax, as in EU-style shops: the tax is the part of
    /// the price its rates make up, and totals do not add it again.
    #[arg(long, env = "BAZAAR_PRICES_INCLUDE_TAX", default_value_t = false, global = true,
          action = clap::ArgAction::Set)]
    pub prices_include_tax: bool,

    /// Shipping is taxed like the goods.
    #[arg(long, env = "BAZAAR_TAX_SHIPPING", default_value_t = false, global = true,
          action = clap::ArgAction::Set)]
    pub tax_shipping: bool,

    /// Stock counts at or below this are shown to customers and anonymous callers as "only N
    /// left" (`Variant.lowStock`, `CartLine.quantityAvailable`, out-of-stock messages); above it
    /// they learn only whether enough is in stock. Staff always see the exact count.
    #[arg(long, env = "BAZAAR_LOW_STOCK_THRESHOLD", default_value_t = 10, global = true,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub low_stock_threshold: u32,

    /// Days the event log keeps events (`events`, webhooks replay from it). Every instance
    /// prunes older events hourly; `bazaar prune-events` does it at once.
    #[arg(long, env = "BAZAAR_EVENT_RETENTION_DAYS", default_value_t = crate::domain::events::DEFAULT_RETENTION_DAYS,
          global = true, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub event_retention_days: u32,

    /// Rows `GET /export/{kind}.jsonl` reads per statement: each batch is read, written to the
    /// client and dropped before the next, so this bounds the memory an export holds.
    #[arg(long, env = "BAZAAR_EXPORT_BATCH_SIZE", default_value_t = 1_000, global = true,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub export_batch_size: u32,

    #[command(flatten)]
    pub auth: AuthConfig,

    #[command(flatten)]
    pub mail: MailConfig,

    #[command(flatten)]
    pub payments: PaymentsConfig,

    #[command(flatten)]
    pub limits: LimitsConfig,

    #[command(flatten)]
    pub webhooks: WebhookConfig,

    #[command(flatten)]
    pub shared_limits: SharedLimitsConfig,

    #[command(flatten)]
    pub metrics: MetricsConfig,

    #[command(flatten)]
    pub tls: TlsConfig,
}

/// HTTPS on the public listener, for a deployment without a TLS-terminating proxy in front: off
/// unless both files are given. The metrics listener (`--metrics-listen`) stays plain HTTP.
#[derive(Debug, Clone, Args)]
pub struct TlsConfig {
    /// PEM file of the server's certificate chain, leaf first (e.g. Let's Encrypt's
    /// `fullchain.pem`): the public listener then speaks HTTPS (and WSS), HTTP/1.1 only. Needs
    /// `--tls-key`. The files are read at start-up; a new certificate takes a restart.
    #[arg(
        long,
        env = "BAZAAR_TLS_CERT",
        value_name = "PATH",
        requires = "tls_key",
        global = true
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM file of the certificate's private key (PKCS#8, PKCS#1 or SEC1); readable by Bazaar's
    /// user only. Needs `--tls-cert`.
    #[arg(
        long,
        env = "BAZAAR_TLS_KEY",
        value_name = "PATH",
        requires = "tls_cert",
        global = true
    )]
    pub tls_key: Option<PathBuf>,
}

/// Prometheus metrics at `/metrics`: off unless a token or a listen address of their own is set.
#[derive(Clone, Args)]
pub struct MetricsConfig {
    /// Bearer token a scraper sends (`Authorization: Bearer TOKEN`) to read `/metrics`, on the
    /// public listener and on `--metrics-listen`: at least 16 characters. Unset, and without
    /// `--metrics-listen`, `/metrics` answers 404.
    #[arg(long, env = "BAZAAR_METRICS_TOKEN", hide_env_values = true, global = true,
          value_parser = parse_metrics_token)]
    pub metrics_token: Option<String>,

    /// A listen address of its own for `/metrics` (e.g. `127.0.0.1:9464`, reachable by the
    /// scraper only), which serves nothing else; the token is required there too when set.
    #[arg(long, env = "BAZAAR_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,
}

impl MetricsConfig {
    /// Whether metrics are served (and so recorded) at all.
    pub fn enabled(&self) -> bool {
        self.metrics_token.is_some() || self.metrics_listen.is_some()
    }
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field("metrics_listen", &self.metrics_listen)
            .finish()
    }
}

/// A metrics token: 16 to 512 visible ASCII characters (it travels in an HTTP header).
fn parse_metrics_token(text: &str) -> Result<String, String> {
    let fits = (16..=512).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
    if fits {
        Ok(text.to_owned())
    } else {
        Err("16 to 512 visible ASCII characters, no spaces".to_owned())
    }
}

/// Limits shared by every instance through Redis.
#[derive(Clone, Args)]
pub struct SharedLimitsConfig {
    /// Redis that holds the cost buckets, the sign-in throttle and the abuse limits, so that
    /// every instance gives a caller one budget: `redis://[:PASSWORD@]HOST[:PORT][/DB]`.
    /// Unset: each instance keeps its own limits (N instances give a caller N budgets). While
    /// Redis does not answer, each instance falls back to its own.
    #[arg(long, env = "BAZAAR_REDIS_URL", hide_env_values = true, global = true)]
    pub redis_url: Option<String>,

    /// Prefix of every key Bazaar writes in Redis (`PREFIX:cost:…`), so that shops (or test
    /// runs) sharing one Redis keep their limits apart: 1 to 64 letters, digits, `-`, `_`,
    /// `.` or `:`.
    #[arg(long, env = "BAZAAR_REDIS_PREFIX", default_value = "bazaar", global = true,
          value_parser = parse_redis_prefix)]
    pub redis_prefix: String,

    /// Milliseconds one limit check waits for Redis before this instance's own limits answer
    /// instead (an unresponsive Redis must not stall requests).
    #[arg(long, env = "BAZAAR_REDIS_TIMEOUT_MS", default_value_t = 250, global = true,
          value_parser = clap::value_parser!(u64).range(10..=5_000))]
    pub redis_timeout_ms: u64,
}

impl std::fmt::Debug for SharedLimitsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimitsConfig")
            .field(
                "redis_url",
                &self.redis_url.as_deref().map(crate::db::redact),
            )
            .field("redis_prefix", &self.redis_prefix)
            .field("redis_timeout_ms", &self.redis_timeout_ms)
            .finish()
    }
}

/// A key prefix: 1 to 64 of `A-Z a-z 0-9 - _ . :`.
fn parse_redis_prefix(text: &str) -> Result<String, String> {
    let fits = (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if fits {
        Ok(text.to_owned())
    } else {
        Err("1 to 64 letters, digits, `-`, `_`, `.` or `:`".to_owned())
    }
}

/// Webhook delivery.
#[derive(Debug, Clone, clap::Args)]
pub struct WebhookConfig {
    /// Let webhooks go to loopback, private and link-local addresses (SSRF guard). Default: on
    /// in development only.
    #[arg(long, env = "BAZAAR_WEBHOOK_ALLOW_PRIVATE", global = true)]
    pub webhook_allow_private: Option<bool>,

    /// Networks (addresses or CIDRs, comma-separated) webhooks may reach even when private
    /// addresses are refused, e.g. an on-premises ERP at `10.20.0.0/16`.
    #[arg(long, env = "BAZAAR_WEBHOOK_ALLOWED_NETWORKS", value_delimiter = ',', global = true,
          value_parser = parse_proxy)]
    pub webhook_allowed_networks: Vec<ipnet::IpNet>,

    /// Seconds a receiver has to answer a webhook.
    #[arg(long, env = "BAZAAR_WEBHOOK_TIMEOUT_SECS", default_value_t = 10, global = true,
          value_parser = clap::value_parser!(u64).range(1..=60))]
    pub webhook_timeout_secs: u64,

    /// Milliseconds before the first retry of a failed webhook; the next waits are 5, 15, 60,
    /// 180, 360 and 720 times as long (with the default minute: 8 tries over about 22 hours).
    #[arg(long, env = "BAZAAR_WEBHOOK_FIRST_RETRY_MS", default_value_t = 60_000, global = true,
          value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub webhook_first_retry_ms: u64,

    /// Milliseconds between two looks for new events and due webhook deliveries (each instance).
    #[arg(long, env = "BAZAAR_WEBHOOK_POLL_MS", default_value_t = 1_000, global = true,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub webhook_poll_ms: u64,
}

/// Limits on what one request may ask, and the cost buckets.
#[derive(Debug, Clone, Args)]
pub struct LimitsConfig {
    /// Largest request body, in bytes (bigger ones get 413).
    #[arg(long, env = "BAZAAR_BODY_LIMIT_BYTES", default_value_t = 1_048_576, global = true,
          value_parser = clap::value_parser!(u32).range(1024..))]
    pub body_limit_bytes: u32,

    /// Most lexical tokens in one query document.
    #[arg(long, env = "BAZAAR_MAX_TOKENS", default_value_t = 3_000, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tokens: u32,

    /// Deepest selection nesting of a query.
    #[arg(long, env = "BAZAAR_MAX_DEPTH", default_value_t = 15, global = true,
          value_parser = clap::value_parser!(u32).range(1..=60))]
    pub max_depth: u32,

    /// Most field selections in one document, fragments expanded.
    #[arg(long, env = "BAZAAR_MAX_FIELDS", default_value_t = 250, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_fields: u32,

    /// Most aliases in one document.
    #[arg(long, env = "BAZAAR_MAX_ALIASES", default_value_t = 30, global = true)]
    pub max_aliases: u32,

    /// Most directives in one document.
    #[arg(
        long,
        env = "BAZAAR_MAX_DIRECTIVES",
        default_value_t = 8,
        global = true
    )]
    pub max_directives: u32,

    /// Rate limits on guest checkouts, password-reset requests, discount codes, sign-ups and
    /// payment attempts, per target and per client address. Turn off only for tests.
    #[arg(long, env = "BAZAAR_RATE_LIMITS", default_value_t = true, global = true,
          action = clap::ArgAction::Set)]
    pub rate_limits: bool,

    /// Most operations in one JSON batch (an array body); 0 turns batching off.
    #[arg(long, env = "BAZAAR_MAX_BATCH", default_value_t = 0, global = true)]
    pub max_batch: u32,

    /// Seconds one request may run before it is answered with `TIMEOUT`.
    #[arg(long, env = "BAZAAR_REQUEST_TIMEOUT_SECS", default_value_t = 15, global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,

    /// Milliseconds a WebSocket has to send `connection_init` before it is closed (4408).
    #[arg(long, env = "BAZAAR_WS_INIT_TIMEOUT_MS", default_value_t = 3_000, global = true,
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub ws_init_timeout_ms: u64,

    /// Most WebSockets one caller (a session, an API key) keeps open at once.
    #[arg(long, env = "BAZAAR_WS_MAX_SOCKETS_PER_CALLER", default_value_t = 16, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub ws_max_sockets_per_caller: u32,

    /// Most WebSockets one client address keeps open at once.
    #[arg(long, env = "BAZAAR_WS_MAX_SOCKETS_PER_ADDRESS", default_value_t = 64, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub ws_max_sockets_per_address: u32,

    /// Most operations (subscriptions) one WebSocket runs at once.
    #[arg(long, env = "BAZAAR_WS_MAX_OPERATIONS", default_value_t = 32, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub ws_max_operations: u32,

    /// Seconds between the server's WebSocket pings; a socket silent for three of them is closed.
    #[arg(long, env = "BAZAAR_WS_KEEPALIVE_SECS", default_value_t = 30, global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_keepalive_secs: u64,

    /// Cost points a caller's bucket holds; also the most one query may cost.
    #[arg(long, env = "BAZAAR_COST_BUCKET_SIZE", default_value_t = 1_000, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub cost_bucket_size: u32,

    /// Cost points restored to each bucket per second.
    #[arg(long, env = "BAZAAR_COST_RESTORE_RATE", default_value_t = 50, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub cost_restore_rate: u32,

    /// Suggest field names in validation errors ("did you mean …"). Default: on in development
    /// only.
    #[arg(long, env = "BAZAAR_FIELD_SUGGESTIONS", global = true)]
    pub field_suggestions: Option<bool>,

    /// Persisted queries: `off`, `apq` (Automatic Persisted Queries) or `allowlist` (only the
    /// documents of `--persisted-queries-file` run).
    #[arg(long, env = "BAZAAR_PERSISTED_QUERIES", value_enum, default_value_t = PersistedMode::Apq, global = true)]
    pub persisted_queries: PersistedMode,

    /// A JSON object of `"sha256 hex": "document"`: the allow-list (and documents APQ knows
    /// from the start).
    #[arg(long, env = "BAZAAR_PERSISTED_QUERIES_FILE", global = true)]
    pub persisted_queries_file: Option<std::path::PathBuf>,

    /// Origins allowed to call the API from a browser (CORS), comma-separated, e.g.
    /// `https://shop.example.com`. Empty: no cross-origin browser access.
    #[arg(
        long,
        env = "BAZAAR_CORS_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_origins: Vec<String>,
}

/// Settings of accounts, sessions and sign-in protection.
#[derive(Debug, Clone, Args)]
pub struct AuthConfig {
    /// bcrypt cost of new password hashes (4–31). Production refuses less than 12.
    #[arg(long, env = "BAZAAR_BCRYPT_COST", default_value_t = 12, global = true,
          value_parser = clap::value_parser!(u32).range(4..=31))]
    pub bcrypt_cost: u32,

    /// Password checks and hashes (bcrypt) run at once, each on a thread of its own; a request
    /// that waits more than 2 s for a turn gets `SERVICE_UNAVAILABLE`. Default: one per core
    /// but one (at least one), so that a flood of sign-ins never takes every core.
    #[arg(long, env = "BAZAAR_PASSWORD_WORKERS", global = true,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub password_workers: Option<u32>,

    /// Hours a session lasts from sign-in, however active.
    #[arg(long, env = "BAZAAR_SESSION_TTL_HOURS", default_value_t = 720, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub session_ttl_hours: u32,

    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "BAZAAR_SESSION_IDLE_MINUTES", default_value_t = 10_080, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub session_idle_minutes: u32,

    /// Seconds a session found live is remembered, so that the caller's next requests skip the
    /// session lookup (0: look it up on every request). Signing out, password and role changes
    /// made anywhere take effect at once, through the bus, and nothing is answered from memory
    /// while the bus is disconnected; this bounds what a change the bus cannot see could leave.
    #[arg(long, env = "BAZAAR_SESSION_CACHE_SECONDS", default_value_t = 5, global = true,
          value_parser = clap::value_parser!(u32).range(0..=60))]
    pub session_cache_seconds: u32,

    /// Minutes a password-reset token stays valid.
    #[arg(long, env = "BAZAAR_PASSWORD_RESET_TTL_MINUTES", default_value_t = 60, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub password_reset_ttl_minutes: u32,

    /// Failed sign-ins allowed per account (and ×4 per client address) before each further
    /// attempt must wait, twice as long every time (1 s, 2 s, 4 s … up to 15 minutes).
    #[arg(long, env = "BAZAAR_LOGIN_FREE_ATTEMPTS", default_value_t = 5, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub login_free_attempts: u32,

    /// Reverse proxies (addresses or CIDRs, comma-separated, e.g. `10.0.0.0/8,127.0.0.1`) whose
    /// `X-Forwarded-For` is believed: the client address is the rightmost hop not among them.
    /// Empty (the default): forwarding headers are ignored and the peer address is the client's.
    #[arg(long, env = "BAZAAR_TRUSTED_PROXIES", value_delimiter = ',', global = true,
          value_parser = parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// An address (`10.0.0.7`, taken as one host) or a CIDR (`10.0.0.0/8`).
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR"))
}

/// Which payment provider takes the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PaymentProvider {
    /// The built-in test gateway: no money moves (`tok_success`, `tok_decline`…).
    Test,
    /// Stripe's PaymentIntents API.
    Stripe,
}

/// Settings of payments, guest orders and stock reservations.
#[derive(Clone, Args)]
pub struct PaymentsConfig {
    /// Who takes payments: `test` (the built-in test gateway, no money moves) or `stripe`.
    /// Production refuses `test` unless `--allow-test-payments` is given.
    #[arg(long, env = "BAZAAR_PAYMENT_PROVIDER", value_enum, default_value_t = PaymentProvider::Test, global = true)]
    pub payment_provider: PaymentProvider,

    /// Let a production server take payments through the test gateway (a staging shop): no
    /// money moves.
    #[arg(
        long,
        env = "BAZAAR_ALLOW_TEST_PAYMENTS",
        default_value_t = false,
        global = true
    )]
    pub allow_test_payments: bool,

    /// Stripe secret API key (`sk_live_…` or `sk_test_…`).
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true, global = true)]
    pub stripe_secret_key: Option<String>,

    /// Signing secret of Stripe's webhook endpoint for Bazaar (`whsec_…`); Stripe's events are
    /// refused without it.
    #[arg(
        long,
        env = "STRIPE_WEBHOOK_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub stripe_webhook_secret: Option<String>,

    /// Base URL of Stripe's API (change it only to test against a fake Stripe).
    #[arg(
        long,
        env = "BAZAAR_STRIPE_API_BASE",
        default_value = "https://api.stripe.com",
        global = true
    )]
    pub stripe_api_base: String,

    /// Seconds to wait for Stripe's answer; a call that takes longer stays pending and is
    /// settled later (webhook or reconcile).
    #[arg(long, env = "BAZAAR_STRIPE_TIMEOUT_SECS", default_value_t = 10, global = true,
          value_parser = clap::value_parser!(u64).range(1..=120))]
    pub stripe_timeout_secs: u64,

    /// Minutes an unpaid order keeps its stock reserved; then it is cancelled and the stock
    /// returns (a payment attempt started meanwhile restarts the clock).
    #[arg(long, env = "BAZAAR_UNPAID_ORDER_MINUTES", default_value_t = 30, global = true,
          value_parser = clap::value_parser!(u32).range(1..=10_080))]
    pub unpaid_order_minutes: u32,

    /// Checkouts an hour that one client address may make without signing in (each reserves
    /// stock until paid or expired).
    #[arg(long, env = "BAZAAR_GUEST_CHECKOUTS_PER_HOUR", default_value_t = 20, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub guest_checkouts_per_hour: u32,

    /// Link to an order in the confirmation mail; the order's access token is appended.
    #[arg(
        long,
        env = "BAZAAR_ORDER_STATUS_URL",
        default_value = "http://localhost:3000/orders/status?token=",
        global = true
    )]
    pub order_status_url: String,
}

impl std::fmt::Debug for PaymentsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("PaymentsConfig")
            .field("payment_provider", &self.payment_provider)
            .field("allow_test_payments", &self.allow_test_payments)
            .field("stripe_secret_key", &redacted(&self.stripe_secret_key))
            .field(
                "stripe_webhook_secret",
                &redacted(&self.stripe_webhook_secret),
            )
            .field("stripe_api_base", &self.stripe_api_base)
            .field("stripe_timeout_secs", &self.stripe_timeout_secs)
            .field("unpaid_order_minutes", &self.unpaid_order_minutes)
            .field("guest_checkouts_per_hour", &self.guest_checkouts_per_hour)
            .field("order_status_url", &self.order_status_url)
            .finish()
    }
}

/// How persisted queries are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PersistedMode {
    /// Documents run as sent; the `persistedQuery` extension is refused.
    Off,
    /// Automatic Persisted Queries: any document may run and is remembered by its hash.
    Apq,
    /// Only documents in the registered list run (sent by hash or in full).
    Allowlist,
}

/// Settings of outgoing mail (password resets).
#[derive(Clone, Args)]
pub struct MailConfig {
    /// SMTP server URL, e.g. `smtps://user:password@mail.example.com` or
    /// `smtp://localhost:25`. Unset: development writes mail to the log; production sends none.
    #[arg(long, env = "BAZAAR_SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,

    /// The sender of Bazaar's mail.
    #[arg(
        long,
        env = "BAZAAR_MAIL_FROM",
        default_value = "Bazaar <no-reply@localhost>",
        global = true
    )]
    pub mail_from: String,

    /// Link sent in password-reset mail; the token is appended.
    #[arg(
        long,
        env = "BAZAAR_PASSWORD_RESET_URL",
        default_value = "http://localhost:3000/reset-password?token=",
        global = true
    )]
    pub password_reset_url: String,

    /// Link sent to verify an account's email; the token is appended.
    #[arg(
        long,
        env = "BAZAAR_EMAIL_VERIFICATION_URL",
        default_value = "http://localhost:3000/verify-email?token=",
        global = true
    )]
    pub email_verification_url: String,

    /// The page that finishes a sign-up: the mailed link is this followed by the token.
    #[arg(
        long,
        env = "BAZAAR_SIGN_UP_URL",
        default_value = "http://localhost:3000/confirm-sign-up?token=",
        global = true
    )]
    pub sign_up_url: String,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<redacted>"))
            .field("mail_from", &self.mail_from)
            .field("password_reset_url", &self.password_reset_url)
            .field("email_verification_url", &self.email_verification_url)
            .field("sign_up_url", &self.sign_up_url)
            .finish()
    }
}

impl ServeConfig {
    /// Settles the defaults that depend on the database: production with PostgreSQL unless
    /// `--environment development` was given.
    pub fn settle_for_database(&mut self, database_url: &str) {
        self.on_postgres = database_url.starts_with("postgres");
        if self.environment.is_none() && self.on_postgres {
            self.environment = Some(Environment::Production);
        }
    }

    /// Where Bazaar runs.
    pub fn environment(&self) -> Environment {
        self.environment.unwrap_or(Environment::Development)
    }

    /// Whether webhooks may go to private addresses.
    pub fn webhooks_may_reach_private(&self) -> bool {
        self.webhooks
            .webhook_allow_private
            .unwrap_or_else(|| self.in_development())
    }

    /// Whether the server runs with development defaults.
    pub fn in_development(&self) -> bool {
        self.environment() == Environment::Development
    }

    /// Whether `serve` applies pending migrations itself.
    pub fn migrate_enabled(&self) -> bool {
        self.migrate.unwrap_or_else(|| self.in_development())
    }

    /// Whether GraphiQL is served.
    pub fn graphiql_enabled(&self) -> bool {
        self.graphiql.unwrap_or_else(|| self.in_development())
    }

    /// Whether introspection is answered.
    pub fn introspection_enabled(&self) -> bool {
        self.introspection.unwrap_or_else(|| self.in_development())
    }

    /// Whether responses carry debug extensions.
    pub fn debug_extensions_enabled(&self) -> bool {
        self.debug_extensions
            .unwrap_or_else(|| self.in_development())
    }

    /// Whether validation errors suggest field names.
    pub fn field_suggestions_enabled(&self) -> bool {
        self.limits
            .field_suggestions
            .unwrap_or_else(|| self.in_development())
    }

    /// Whether an empty database is seeded with the demo shop.
    pub fn seed_demo_enabled(&self) -> bool {
        self.seed_demo
            .unwrap_or_else(|| self.in_development() && !self.on_postgres)
    }

    /// Refuses settings that are unsafe where they are used.
    pub fn check(&self) -> anyhow::Result<()> {
        if !self.in_development() && self.auth.bcrypt_cost < 12 {
            anyhow::bail!(
                "--bcrypt-cost {} is too low for production (12 or more)",
                self.auth.bcrypt_cost
            );
        }
        let payments = &self.payments;
        if !self.in_development()
            && payments.payment_provider == PaymentProvider::Test
            && !payments.allow_test_payments
        {
            anyhow::bail!(
                "production needs a real payment provider: set --payment-provider stripe with \
                 STRIPE_SECRET_KEY (or --allow-test-payments to take test payments that move no money)"
            );
        }
        if payments.payment_provider == PaymentProvider::Stripe {
            if payments
                .stripe_secret_key
                .as_deref()
                .unwrap_or("")
                .is_empty()
            {
                anyhow::bail!(
                    "--payment-provider stripe needs STRIPE_SECRET_KEY (--stripe-secret-key)"
                );
            }
            if payments
                .stripe_webhook_secret
                .as_deref()
                .unwrap_or("")
                .is_empty()
            {
                anyhow::bail!(
                    "--payment-provider stripe needs STRIPE_WEBHOOK_SECRET (--stripe-webhook-secret): \
                     payments whose answer was lost are settled by Stripe's webhook"
                );
            }
        }
        Ok(())
    }

    /// HTTP worker count: the configured one, or one per core.
    pub fn effective_workers(&self) -> usize {
        self.workers.unwrap_or_else(available_cores).max(1)
    }
}

/// Settings of logging, shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct LogConfig {
    /// Log line format. Levels and targets come from `RUST_LOG` (default `info`).
    #[arg(long, env = "BAZAAR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
}

/// The number of CPU cores this process may use.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
