//! `spawn_app()`: the server on port 0 over a fresh database, a small GraphQL client, accounts
//! for each role, the mail the server sent and the log lines it wrote.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use bazaar::config::{DatabaseConfig, ServeConfig};
use bazaar::db::{Db, migrations};
use bazaar::http::{Application, Integrations, ServerHandle};
use bazaar::services::mail::MemoryMailer;
use bazaar::services::payments::{PaymentGateway, TestGateway};
use bazaar::services::seed;
use clap::Parser;
use diesel::connection::SimpleConnection as _;
use serde_json::{Value, json};

/// A password every test account is created with.
pub const PASSWORD: &str = "correct horse battery";

/// The keys every test server seals personal data with (`--sealing-keys`): one process has one
/// keyring, so every in-process server shares them.
pub const TEST_SEALING_KEYS: &str = "test:dGhlIHRlc3RzJyBzZWFsaW5nIGtleSwgMzIgYnl0ZXM=";

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// How to talk to it over HTTP.
    pub api: ApiClient,
    /// The server's database, for fixtures and checks behind the API.
    pub db: Db,
    /// The database URL the server uses.
    pub database_url: String,
    /// Every mail the server sent.
    pub mailer: MemoryMailer,
    /// The payment gateway the server uses: what money moved.
    pub gateway: TestGateway,
    server: ServerHandle,
    server_thread: Option<std::thread::JoinHandle<()>>,
    /// The server's bus, to wait until it has heard a change a test made behind the API.
    bus: Arc<bazaar::services::bus::Bus>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command at once, then waits for the server thread, so that no server
        // (and none of its database connections) outlives its test: libpq must not be torn down
        // at process exit under a live connection.
        drop(self.server.stop(false));
        if let Some(thread) = self.server_thread.take() {
            let _ = thread.join();
        }
    }
}

impl TestApp {
    /// Stops the server as SIGTERM does (requests in flight and background work under way
    /// finish, within `--shutdown-grace-secs`) and waits until it has stopped. Its database
    /// stays, for the other instances.
    pub fn stop_gracefully(&mut self) {
        drop(self.server.stop(true));
        if let Some(thread) = self.server_thread.take() {
            thread.join().expect("the server thread ended cleanly");
        }
    }
}

impl std::ops::Deref for TestApp {
    type Target = ApiClient;

    fn deref(&self) -> &ApiClient {
        &self.api
    }
}

/// A GraphQL and HTTP client of one server.
pub struct ApiClient {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    client: awc::Client,
}

impl ApiClient {
    /// A client of the server at `address` (`http://host:port`). It waits up to 30 s for an
    /// answer (awc's default is 5 s): on a loaded two-core machine a test's bcrypt work alone
    /// can take longer, and the server's own request budget decides what is too slow. An idle
    /// connection is reused for 3 s at most: the server closes its idle ones after 5 s, and a
    /// request sent on a connection it closed fails (`Disconnected`).
    pub fn new(address: &str) -> Self {
        Self {
            address: address.to_owned(),
            client: awc::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .connector(awc::Connector::new().conn_keep_alive(std::time::Duration::from_secs(3)))
                .finish(),
        }
    }
}

/// `bazaar serve` settings as the command line would give them.
#[derive(Parser)]
struct ServeArgs {
    #[command(flatten)]
    serve: ServeConfig,
}

/// Settings for a test server: development defaults, port 0, one worker, fast bcrypt, plus
/// `extra` flags.
pub fn serve_config(extra: &[&str]) -> ServeConfig {
    let defaults = [
        ("--listen", "127.0.0.1:0"),
        ("--workers", "1"),
        ("--environment", "development"),
        ("--debug-extensions", "true"),
        ("--seed-demo", "false"),
        ("--bcrypt-cost", "4"),
        // Tests that walk whole catalogs must not run dry; the cost tests set their own.
        ("--cost-bucket-size", "1000000"),
        ("--cost-restore-rate", "1000000"),
        // Tests sign up, pay and check out many times from one address; the rate limits have
        // their own tests.
        ("--rate-limits", "false"),
        // A session found live is remembered longer than a test runs, so that the statement
        // counts of a signed-in caller's requests never depend on the clock (logouts, password
        // and role changes drop it at once, as they must).
        ("--session-cache-seconds", "60"),
    ];
    let mut args = vec!["bazaar"];
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    ServeArgs::parse_from(args).serve
}

/// The subject of the mail that finishes a sign-up.
pub const SIGN_UP_SUBJECT: &str = "Confirm your email to finish signing up";

/// Finishes a sign-up with `$token`.
pub const CONFIRM_SIGN_UP: &str = "mutation($token: String!) { accountRegisterConfirm(token: $token) {
    account { id email emailVerified } session { token expiresAt } userErrors { field code message } } }";

/// Starts the server over a fresh database with the demo shop.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(1, &[]).await
}

/// Starts the server over a fresh database seeded at `scale`.
pub async fn spawn_app_with_scale(scale: u32) -> TestApp {
    spawn_app_with(scale, &[]).await
}

/// Starts the server over a fresh database seeded at `scale`, with extra command-line flags.
pub async fn spawn_app_with(scale: u32, flags: &[&str]) -> TestApp {
    let (database_url, dir) = fresh_database();
    spawn_app_on(database_url, dir, scale, flags).await
}

/// Starts the server over the empty database at `database_url`, seeded at `scale`.
pub async fn spawn_app_on(
    database_url: String,
    dir: Option<tempfile::TempDir>,
    scale: u32,
    flags: &[&str],
) -> TestApp {
    let gateway = TestGateway::default();
    let mut app = start(
        database_url,
        dir,
        scale,
        flags,
        Arc::new(gateway.clone()),
        true,
    )
    .await;
    app.gateway = gateway;
    app
}

/// Starts the server over the database at `database_url` as it is: no migration, no seeding.
pub async fn spawn_app_over(database_url: String) -> TestApp {
    let gateway = TestGateway::default();
    let mut app = start(database_url, None, 0, &[], Arc::new(gateway.clone()), false).await;
    app.gateway = gateway;
    app
}

/// Starts the server over a fresh database with the demo shop, taking payments through
/// `gateway` (a Stripe adapter pointed at the fake Stripe, say).
pub async fn spawn_app_with_gateway(flags: &[&str], gateway: Arc<dyn PaymentGateway>) -> TestApp {
    let (database_url, dir) = fresh_database();
    start(database_url, dir, 1, flags, gateway, true).await
}

impl TestApp {
    /// Another instance of the server over this one's database (no migration, no seeding), as
    /// a second replica behind a load balancer; it pays through `gateway`.
    pub async fn another_instance(
        &self,
        flags: &[&str],
        gateway: Arc<dyn PaymentGateway>,
    ) -> TestApp {
        start(self.database_url.clone(), None, 0, flags, gateway, false).await
    }
}

async fn start(
    database_url: String,
    dir: Option<tempfile::TempDir>,
    scale: u32,
    flags: &[&str],
    server_gateway: Arc<dyn PaymentGateway>,
    fresh: bool,
) -> TestApp {
    capture_logs();
    // `--pool-timeout-secs` belongs to the database settings, not to `serve`'s.
    let mut pool_timeout_secs = 2;
    let mut serve_flags = Vec::new();
    let mut rest = flags.iter();
    while let Some(flag) = rest.next() {
        if *flag == "--pool-timeout-secs" {
            pool_timeout_secs = rest.next().and_then(|v| v.parse().ok()).expect("seconds");
        } else {
            serve_flags.push(*flag);
        }
    }
    let flags = serve_flags.as_slice();
    let database = DatabaseConfig {
        database_url: database_url.clone(),
        pool_size: Some(4),
        pool_timeout_secs,
        pg_plan_cache_mode: bazaar::config::PlanCacheMode::ForceGenericPlan,
        statement_timeout: None,
        sealing_keys: Some(TEST_SEALING_KEYS.into()),
    };
    let db = Db::connect(&database).expect("connect to the test database");
    if fresh {
        db.run_blocking(migrations::run_pending).expect("migrate");
        db.run_blocking(|conn| seed::seed_catalog_blocking(conn, scale))
            .expect("seed");
    }
    let config = serve_config(flags);
    let mailer = MemoryMailer::default();
    // The server runs on a thread of its own, so that dropping the TestApp can stop it (and close
    // its connections) whatever becomes of the test's runtime.
    let (started, running) = std::sync::mpsc::channel();
    let (server_db, server_mailer) = (db.clone(), mailer.clone());
    let server_thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let integrations = Integrations {
                mailer: Arc::new(server_mailer),
                gateway: server_gateway,
            };
            let app = Application::build_with(&config, server_db, 4, integrations)
                .expect("build the app");
            started
                .send((app.local_addr(), app.handle(), app.bus()))
                .expect("report the address");
            let _ = app.run_until_stopped().await;
        });
    });
    let (address, server, bus) = running.recv().expect("the server started");
    let address = format!("http://{address}");
    let app = TestApp {
        server,
        server_thread: Some(server_thread),
        api: ApiClient::new(&address),
        db,
        database_url,
        mailer,
        gateway: TestGateway::default(),
        bus,
        _dir: dir,
    };
    // On PostgreSQL the bus connects on a thread of its own; until it listens the instance
    // remembers no session, so statement counts would depend on how fast it connected.
    for _ in 0..100 {
        if app.get("/health/ready").await.0 == 200 {
            return app;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

/// A new empty database: a file in a temp dir, or a new PostgreSQL database next to the one
/// `TEST_DATABASE_URL` names.
pub fn fresh_database() -> (String, Option<tempfile::TempDir>) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("bazaar_test_{:016x}", rand::random::<u64>());
            let config = DatabaseConfig {
                database_url: admin_url.clone(),
                pool_size: Some(1),
                pool_timeout_secs: 5,
                pg_plan_cache_mode: bazaar::config::PlanCacheMode::ForceGenericPlan,
                statement_timeout: None,
                sealing_keys: Some(TEST_SEALING_KEYS.into()),
            };
            let admin = Db::connect(&config).expect("connect to TEST_DATABASE_URL");
            admin
                .run_blocking(|conn| Ok(conn.batch_execute(&format!("CREATE DATABASE {name}"))?))
                .expect("create a test database");
            let base = admin_url
                .rsplit_once('/')
                .map(|(base, _)| base)
                .expect("URL with a database name");
            (format!("{base}/{name}"), None)
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("test.db").display());
            (url, Some(dir))
        }
    }
}

impl ApiClient {
    /// Sends a GraphQL POST and returns the JSON response.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_as(None, query, variables).await
    }

    /// Sends a GraphQL POST with `Authorization: Bearer <token>` when a token is given.
    pub async fn graphql_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .insert_header(("Accept", "application/graphql-response+json"));
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut response = request
            .send_json(&json!({ "query": query, "variables": variables }))
            .await
            .expect("send the request");
        let status = response.status().as_u16();
        let body = response
            .json::<Value>()
            .limit(16 * 1024 * 1024)
            .await
            .expect("a JSON body");
        // GraphQL over HTTP: 200 once executed (429 when an attempt was rate limited); a request
        // error (nothing ran) is 4xx.
        let executed = body.get("data").is_some();
        assert_eq!(
            executed,
            status == 200 || (status == 429 && body["data"].is_null()),
            "status {status} for {body}"
        );
        body
    }

    /// Sends a query that must succeed; returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.graphql(query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response}"
        );
        response["data"].clone()
    }

    /// Like [`Self::data`], signed in with `token`.
    pub async fn data_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let response = self.graphql_as(Some(token), query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response}"
        );
        response["data"].clone()
    }

    /// Signs in; returns the whole response.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        self.graphql(
            "mutation($email: String!, $password: String!) { login(email: $email, password: $password) {
                session { token expiresAt } account { id email } userErrors { field message code } } }",
            json!({ "email": email, "password": password }),
        )
        .await
    }

    /// The HTTP client, for requests the helpers above do not cover.
    pub fn client(&self) -> &awc::Client {
        &self.client
    }

    /// Sends a GET and returns status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        // The readiness probe of a server whose database is down waits for a connection behind
        // busy blocking threads; on a loaded machine that can pass awc's 5 s default.
        let mut response = self
            .client
            .get(format!("{}{path}", self.address))
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .expect("GET");
        let body = response.body().limit(16 * 1024 * 1024).await.expect("body");
        (
            response.status().as_u16(),
            String::from_utf8_lossy(&body).into_owned(),
        )
    }
}

impl TestApp {
    /// Registers a customer with [`PASSWORD`], confirming the sign-up with the mailed code;
    /// returns the account, signed in.
    pub async fn register(&self, email: &str) -> Account {
        let data = self
            .data(
                "mutation($input: AccountRegisterInput!) { accountRegister(input: $input) {
                    accepted userErrors { code } } }",
                json!({ "input": { "email": email, "password": PASSWORD } }),
            )
            .await;
        let payload = &data["accountRegister"];
        assert_eq!(payload["userErrors"], json!([]), "registering {email}");
        let token = self
            .mailed_code(email, SIGN_UP_SUBJECT, "Your confirmation code: ")
            .await;
        let data = self.data(CONFIRM_SIGN_UP, json!({ "token": token })).await;
        let payload = &data["accountRegisterConfirm"];
        assert_eq!(payload["userErrors"], json!([]), "confirming {email}");
        Account {
            id: payload["account"]["id"].as_str().unwrap().to_owned(),
            token: payload["session"]["token"].as_str().unwrap().to_owned(),
        }
    }

    /// The code on the line starting with `prefix` of the newest mail to `to` with `subject`,
    /// waiting for it (mail is sent after the answer).
    pub async fn mailed_code(&self, to: &str, subject: &str, prefix: &str) -> String {
        for _ in 0..250 {
            let mail = self
                .mailer
                .sent()
                .into_iter()
                .rev()
                .find(|m| m.to == to && m.subject == subject);
            if let Some(mail) = mail {
                let code = mail.body.lines().find_map(|line| line.strip_prefix(prefix));
                return code.expect("the mail carries the code").trim().to_owned();
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no mail \"{subject}\" to {to}");
    }

    /// Registers an account and gives it `role` (`CUSTOMER`, `STAFF` or `ADMIN`) behind the API.
    pub async fn account_with_role(&self, email: &str, role: &'static str) -> Account {
        let role: bazaar::domain::accounts::Role = role.parse().expect("a role");
        let account = self.register(email).await;
        let id =
            bazaar::domain::ids::AccountId(account.id.rsplit('/').next().unwrap().parse().unwrap());
        self.db
            .run(move |conn| {
                Ok(bazaar::db::models::user::set_role(
                    conn,
                    id,
                    role,
                    chrono::Utc::now().naive_utc(),
                )?)
            })
            .await
            .expect("set the role");
        // The change was made behind the API, as the CLI would: its notification reaches the
        // server's bus on its own time, and would then drop the session the test's next request
        // remembers. Wait until every instance has heard it, so statement counts stay exact.
        let bus = self.bus.clone();
        actix_web::rt::task::spawn_blocking(move || bus.settle_everywhere())
            .await
            .expect("the bus settled");
        account
    }
}

/// A signed-in test account.
#[derive(Debug, Clone)]
pub struct Account {
    /// Its global id.
    pub id: String,
    /// Its session token.
    pub token: String,
}

/// Everything the servers in this test binary have logged (at debug level and above for Bazaar).
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(Default::default)
}

#[derive(Clone)]
struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl Write for BufferWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends every log line of this test binary into [`captured_logs`] (once).
fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let buffer = log_buffer().clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,bazaar=debug,tracing_actix_web=debug")
            .with_ansi(false)
            .with_writer(move || BufferWriter(buffer.clone()))
            .try_init();
    });
}

/// The SQL statements a response says its request ran.
pub fn statements(response: &Value) -> u64 {
    response["extensions"]["sql"]["statements"]
        .as_u64()
        .expect("extensions.sql.statements")
}

/// The statement PostgreSQL spends on the event log's durability, where a request has one: a
/// write that raised events flushes its commit in a statement of its own, and a read that hands
/// out positions (events, a feed in change order) first makes sure they are on disk (see
/// `db::models::event`). None on SQLite.
pub fn durability_statement() -> u64 {
    u64::from(on_postgres())
}

/// Whether the suite runs on PostgreSQL (`TEST_DATABASE_URL` set), not SQLite.
pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty())
}

/// The database calls (round trips through the blocking pool) a response says its request made.
pub fn calls(response: &Value) -> u64 {
    response["extensions"]["sql"]["calls"]
        .as_u64()
        .expect("extensions.sql.calls")
}

/// The `extensions.code` of each error of a response.
pub fn error_codes(response: &Value) -> Vec<String> {
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every part of a `PostalAddress` (as a selection and as the keys of its JSON).
pub const ADDRESS_PARTS: &str =
    "firstName lastName company line1 line2 city region postalCode countryCode phone";

/// Whether `address` (a `PostalAddress` as JSON) shows only what is no one's personal data:
/// a country, and perhaps a city and postal code; every other part empty.
pub fn is_impersonal(address: &Value) -> bool {
    let Some(parts) = address.as_object() else {
        return false;
    };
    let shown: Vec<&str> = ADDRESS_PARTS
        .split(' ')
        .filter(|part| parts.get(*part).and_then(Value::as_str) != Some(""))
        .collect();
    parts.len() == 10
        && shown.contains(&"countryCode")
        && shown
            .iter()
            .all(|part| ["city", "postalCode", "countryCode"].contains(part))
}
