//! `spawn_app()`: the server on port 0 over a fresh database, and a small GraphQL client.

use bazaar::config::{DatabaseConfig, Environment, ServeConfig};
use bazaar::db::{Db, migrations};
use bazaar::http::Application;
use bazaar::services::seed;
use diesel::connection::SimpleConnection as _;
use serde_json::{Value, json};

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The server's database, for fixtures and checks behind the API.
    pub db: Db,
    /// The database URL the server uses.
    pub database_url: String,
    client: awc::Client,
    _dir: Option<tempfile::TempDir>,
}

/// Starts the server over a fresh database with the demo shop.
pub async fn spawn_app() -> TestApp {
    spawn_app_with_scale(1).await
}

/// Starts the server over a fresh database seeded at `scale`.
pub async fn spawn_app_with_scale(scale: u32) -> TestApp {
    let (database_url, dir) = fresh_database();
    let database = DatabaseConfig {
        database_url: database_url.clone(),
        pool_size: Some(4),
        pool_timeout_secs: 2,
    };
    let db = Db::connect(&database).expect("connect to the test database");
    db.run_blocking(migrations::run_pending).expect("migrate");
    db.run_blocking(|conn| seed::seed_catalog_blocking(conn, scale))
        .expect("seed");
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        workers: Some(1),
        environment: Environment::Development,
        graphiql: None,
        introspection: None,
        debug_extensions: Some(true),
        seed_demo: Some(false),
        currency: "USD".into(),
    };
    let app = Application::build(&config, db.clone(), 4).expect("build the app");
    let address = format!("http://{}", app.local_addr());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        db,
        database_url,
        client: awc::Client::default(),
        _dir: dir,
    }
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

impl TestApp {
    /// Sends a GraphQL POST and returns the JSON response.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let mut response = self
            .client
            .post(format!("{}/graphql", self.address))
            .send_json(&json!({ "query": query, "variables": variables }))
            .await
            .expect("send the request");
        assert_eq!(response.status(), 200, "GraphQL responses are 200");
        response
            .json::<Value>()
            .limit(16 * 1024 * 1024)
            .await
            .expect("a JSON body")
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

    /// The HTTP client, for requests the helpers above do not cover.
    pub fn client(&self) -> &awc::Client {
        &self.client
    }

    /// Sends a GET and returns status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let mut response = self
            .client
            .get(format!("{}{path}", self.address))
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

/// The SQL statements a response says its request ran.
pub fn statements(response: &Value) -> u64 {
    response["extensions"]["sql"]["statements"]
        .as_u64()
        .expect("extensions.sql.statements")
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
