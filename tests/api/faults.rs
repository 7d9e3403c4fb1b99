//! Faults: the database going away under load (on a private PostgreSQL instance this test starts
//! itself, never the shared server), an exhausted pool, and SIGTERM with requests in flight or
//! on keep-alive connections.
//! Each prints the figures it measured (`cargo test faults -- --nocapture`).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{ApiClient, error_codes, on_postgres, spawn_app, spawn_app_on};

const QUERY: &str = "{ products(first: 5) { edges { node { name } } } }";

/// What one request under load came to.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Ok,
    Unavailable,
    Other(String),
}

async fn one_request(app: &ApiClient) -> (Outcome, Duration) {
    let started = Instant::now();
    let response = app
        .client()
        .post(format!("{}/graphql", app.address))
        .insert_header(("Accept", "application/graphql-response+json"))
        .timeout(Duration::from_secs(30))
        .send_json(&json!({ "query": QUERY }))
        .await;
    let outcome = match response {
        Err(error) => Outcome::Other(format!("transport: {error}")),
        Ok(mut response) => {
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let codes = error_codes(&body);
            if status == 200 && codes.is_empty() {
                Outcome::Ok
            } else if !codes.is_empty() && codes.iter().all(|c| c == "SERVICE_UNAVAILABLE") {
                Outcome::Unavailable
            } else {
                Outcome::Other(format!("{status} {body}"))
            }
        }
    };
    (outcome, started.elapsed())
}

/// Controls a PostgreSQL server of the test's own: its own data directory, socket directory and
/// port.
#[derive(Clone)]
struct PgControl {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PgControl {
    /// Runs a PostgreSQL program (as the postgres user when we are root: initdb refuses root).
    fn pg(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        // A directory the postgres user may enter, whatever the test's own is.
        command.current_dir(self.data.parent().unwrap_or(&self.data));
        command
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.parent().unwrap().display()
        );
        run(self
            .pg("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-o", &options, "-l"])
            .arg(self.data.parent().unwrap().join("postgres.log"))
            .args(["-w", "start"]));
    }

    fn stop(&self, mode: &str) -> std::io::Result<std::process::Output> {
        self.pg("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", mode, "-w", "stop"])
            .output()
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

/// A private PostgreSQL server, stopped when dropped.
struct PrivatePostgres {
    control: PgControl,
    _dir: tempfile::TempDir,
}

impl PrivatePostgres {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let as_postgres = running_as_root();
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path()));
        }
        let control = PgControl {
            bin: postgres_bindir(),
            data: dir.path().join("data"),
            port: free_port(),
            as_postgres,
        };
        run(control
            .pg("initdb")
            .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
            .arg(&control.data));
        control.start();
        Self { control, _dir: dir }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.control.stop("immediate");
    }
}

fn run(command: &mut Command) {
    run_output(command.output());
}

fn run_output(output: std::io::Result<std::process::Output>) {
    let output = output.expect("run a command");
    assert!(
        output.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where initdb and pg_ctl live (Debian keeps them out of PATH).
fn postgres_bindir() -> PathBuf {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|dir| dir.join("initdb").exists());
    from_pg_config
        .or_else(|| {
            let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
                .filter(|dir| dir.join("initdb").exists())
                .collect();
            dirs.sort();
            dirs.pop()
        })
        .expect("PostgreSQL server programs (initdb, pg_ctl): apt-get install postgresql")
}

#[actix_web::test]
async fn a_database_outage_gives_bounded_retryable_errors_and_heals_by_itself() {
    if !on_postgres() {
        // Needs a PostgreSQL server to stop; runs in the PostgreSQL suite (TEST_DATABASE_URL).
        return;
    }
    let postgres = PrivatePostgres::start();
    let admin = bazaar::db::Db::connect(&bazaar::config::DatabaseConfig {
        database_url: postgres.control.url("postgres"),
        pool_size: Some(1),
        pool_timeout_secs: 5,
        pg_plan_cache_mode: bazaar::config::PlanCacheMode::ForceGenericPlan,
        statement_timeout: None,
        sealing_keys: Some(crate::helpers::TEST_SEALING_KEYS.into()),
    })
    .expect("connect to the private server");
    admin
        .run_blocking(|conn| {
            use diesel::connection::SimpleConnection as _;
            Ok(conn.batch_execute("CREATE DATABASE bazaar")?)
        })
        .expect("create the database");
    drop(admin);
    let app = spawn_app_on(postgres.control.url("bazaar"), None, 1, &[]).await;
    assert_eq!(one_request(&app).await.0, Outcome::Ok);

    // Load: 8 clients in a loop, recording every outcome.
    let load_for = Duration::from_secs(14);
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..8 {
        let app_address = app.address.clone();
        clients.push(actix_web::rt::spawn(async move {
            let app = ApiClient::new(&app_address);
            let mut seen = Vec::new();
            while started.elapsed() < load_for {
                let at = started.elapsed();
                let (outcome, latency) = one_request(&app).await;
                seen.push((at, outcome, latency));
                actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        }));
    }
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    let down_at = started.elapsed();
    let stop = std::thread::spawn({
        let control = postgres.control.clone();
        move || run_output(control.stop("fast"))
    });
    while !stop.is_finished() {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    let (ready_status, _) = app.get("/health/ready").await;
    assert_eq!(ready_status, 503, "not ready while the database is down");

    let up_at = started.elapsed();
    let restart = std::thread::spawn({
        let control = postgres.control.clone();
        move || control.start()
    });
    while !restart.is_finished() {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let mut seen = Vec::new();
    for client in clients {
        seen.extend(client.await.expect("a load client"));
    }
    seen.sort_by_key(|(at, _, _)| *at);

    let others: Vec<_> = seen
        .iter()
        .filter(|(_, outcome, _)| matches!(outcome, Outcome::Other(_)))
        .collect();
    assert!(others.is_empty(), "unclear errors: {others:?}");
    let unavailable: Vec<_> = seen
        .iter()
        .filter(|(_, outcome, _)| *outcome == Outcome::Unavailable)
        .collect();
    assert!(!unavailable.is_empty(), "the outage was noticed");
    let slowest_error = unavailable.iter().map(|(_, _, l)| *l).max().unwrap();
    // The pool timeout is 2 s; a request may first queue that long for a blocking thread (8
    // clients, 4 threads), so an error takes at most about twice the timeout, never a hang.
    assert!(
        slowest_error <= Duration::from_secs(5),
        "errors come within the pool timeout, not after a hang: {slowest_error:?}"
    );
    let recovered_at = seen
        .iter()
        .filter(|(at, outcome, _)| *at >= up_at && *outcome == Outcome::Ok)
        .map(|(at, _, _)| *at)
        .next()
        .expect("requests succeed again once the database is back");
    let failures_after_recovery = seen
        .iter()
        .filter(|(at, outcome, _)| {
            *at > recovered_at + Duration::from_millis(500) && *outcome != Outcome::Ok
        })
        .count();
    assert_eq!(failures_after_recovery, 0, "healed for good");
    let recovery = recovered_at.saturating_sub(up_at);
    assert!(
        recovery <= Duration::from_secs(5),
        "recovered in {recovery:?}"
    );
    // Ready again once the database answers and the bus listens again (it retries every 2 s
    // at most).
    let mut ready = app.get("/health/ready").await.0;
    for _ in 0..50 {
        if ready == 200 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        ready = app.get("/health/ready").await.0;
    }
    assert_eq!(ready, 200);
    println!(
        "fault figures: {} requests; database down at {:.1} s, back at {:.1} s; \
         {} SERVICE_UNAVAILABLE errors while down (slowest {:.2} s), 0 other errors; \
         first success {:.2} s after the database returned",
        seen.len(),
        down_at.as_secs_f64(),
        up_at.as_secs_f64(),
        unavailable.len(),
        slowest_error.as_secs_f64(),
        recovery.as_secs_f64()
    );
}

#[actix_web::test]
async fn an_exhausted_pool_answers_within_its_timeout() {
    let app = spawn_app().await;
    // Hold every connection of the pool (4) for 4 s behind the server's back.
    let mut holders = Vec::new();
    for _ in 0..4 {
        let db = app.db.clone();
        holders.push(actix_web::rt::spawn(async move {
            db.run(|_conn| {
                std::thread::sleep(Duration::from_secs(4));
                Ok(())
            })
            .await
        }));
    }
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let (outcome, latency) = one_request(&app).await;
    assert_eq!(outcome, Outcome::Unavailable);
    assert!(
        latency >= Duration::from_millis(1500) && latency <= Duration::from_secs(3),
        "the pool timeout is 2 s: {latency:?}"
    );
    for holder in holders {
        holder.await.unwrap().unwrap();
    }
    assert_eq!(one_request(&app).await.0, Outcome::Ok);
    println!(
        "fault figures: exhausted pool answered SERVICE_UNAVAILABLE in {:.2} s",
        latency.as_secs_f64()
    );
}

// SIGTERM starts a graceful shutdown: the four sign-ins in flight finish before the process
// exits. (With actix-server before 2.9.1 they were sometimes cut off: when the accept thread
// stopped before a worker had received its stop command, the closed connection channel ended
// the worker, which stopped its arbiter and dropped the requests in flight; see Cargo.lock.)
#[actix_web::test]
async fn sigterm_lets_requests_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    // Every sign-in in flight has a password worker: none waits for a turn.
    let mut server = start_bazaar(
        dir.path(),
        port,
        &["--bcrypt-cost", "13", "--password-workers", "4"],
    )
    .await;
    // An account to sign in to (sign-up by mail needs the mailbox; the CLI does not).
    run(Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .args([
            "create-admin",
            "--email",
            "ada@example.com",
            "--bcrypt-cost",
            "13",
        ])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("bazaar.db").display()),
        )
        .env("BAZAAR_ADMIN_PASSWORD", "correct horse battery")
        .env("RUST_LOG", "warn"));

    // Sign-ins hash at bcrypt cost 13: slow enough to be in flight when the signal comes. Each
    // goes over a connection the server has already served a request on, so that the signal
    // cannot come before a worker holds it (a connection still being set up is refused, not
    // in flight).
    let in_flight = 4;
    let connected = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut logins = Vec::new();
    for _ in 0..in_flight {
        let address = address.clone();
        let connected = connected.clone();
        logins.push(actix_web::rt::spawn(async move {
            let client = ApiClient::new(&address);
            let warm = client.graphql("{ __typename }", json!({})).await;
            assert_eq!(warm["data"]["__typename"], "Query", "{warm}");
            connected.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            client
                .login("ada@example.com", "correct horse battery")
                .await
        }));
    }
    let waiting = Instant::now();
    while connected.load(std::sync::atomic::Ordering::SeqCst) < in_flight {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the logins connect"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    actix_web::rt::time::sleep(Duration::from_millis(150)).await;
    let signalled = Instant::now();
    run(Command::new("kill").args(["-TERM", &server.0.id().to_string()]));
    let mut completed = 0;
    for login in logins {
        let response = login.await.expect("a login task");
        if response["data"]["login"]["session"]["token"].is_string() {
            completed += 1;
        }
    }
    let status = exit_of(&mut server.0, signalled, Duration::from_secs(35)).await;
    assert!(status.success(), "a clean exit: {status:?}");
    assert_eq!(completed, in_flight, "no request in flight was lost");
    println!(
        "fault figures: SIGTERM with {in_flight} requests in flight: {completed} completed, {} lost; exited after {:.2} s",
        in_flight - completed,
        signalled.elapsed().as_secs_f64()
    );
}

// SIGTERM behind a reverse proxy that keeps connections open (deploy/nginx/bazaar.conf): the
// listener closes at once (the proxy's next connection is refused, and it goes to another
// instance), while a request on a kept-alive connection, busy or idle, is still answered, with
// `Connection: close`, after which the connection closes. So the drain ends as soon as those
// answers are out, instead of a busy connection being served until the 30 s shutdown timeout
// cut it mid-request; and no idle connection is cut under a request already on its way (a POST
// lost that way is not retried by a proxy).
#[actix_web::test]
async fn sigterm_answers_kept_alive_connections_once_more_then_closes_them() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_bazaar(dir.path(), port, &[]).await;
    let connect = || TcpStream::connect(("127.0.0.1", port));
    let mut busy = connect().expect("a connection");
    let mut idle = connect().expect("a connection");
    for stream in [&mut busy, &mut idle] {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let head = get_live(stream);
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(!head.contains("connection: close"), "kept alive: {head}");
    }

    let signalled = Instant::now();
    run(Command::new("kill").args(["-TERM", &server.0.id().to_string()]));
    while connect().is_ok() {
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "the listener closes"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    let refused_after = signalled.elapsed();
    let head = get_live(&mut busy);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(busy.read(&mut [0; 64]).unwrap(), 0, "closed after it");
    // Well inside the keep-alive timeout, the idle connection is still served.
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    let head = get_live(&mut idle);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(idle.read(&mut [0; 64]).unwrap(), 0, "closed after it");
    let status = exit_of(&mut server.0, signalled, Duration::from_secs(10)).await;
    assert!(status.success(), "a clean exit: {status:?}");
    println!(
        "fault figures: SIGTERM with two kept-alive connections: new connections refused after {:.3} s, both answered once more and closed, exited after {:.2} s",
        refused_after.as_secs_f64(),
        signalled.elapsed().as_secs_f64()
    );
}

/// The real binary, stopped (SIGKILL) when a test ends without having seen it exit.
struct Bazaar(Child);

impl Drop for Bazaar {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary on `port` over a SQLite file in `dir` (the demo shop), once it answers
/// `/health/ready`.
async fn start_bazaar(dir: &Path, port: u16, args: &[&str]) -> Bazaar {
    let address = format!("http://127.0.0.1:{port}");
    let server = Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("bazaar.db").display()),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bazaar");
    let server = Bazaar(server);
    let client = ApiClient::new(&address);
    for _ in 0..100 {
        let probe = client
            .client()
            .get(format!("{address}/health/ready"))
            .send()
            .await;
        if probe.is_ok_and(|response| response.status() == 200) {
            return server;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not start");
}

/// The exit status of `server`, which must exit within `limit` of `signalled`.
async fn exit_of(server: &mut Child, signalled: Instant, limit: Duration) -> ExitStatus {
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            return status;
        }
        assert!(signalled.elapsed() < limit, "the server exits");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET /health/live` over a kept-alive HTTP/1.1 connection: the status line and headers,
/// lowercased, once the whole answer is read.
fn get_live(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: bazaar\r\n\r\n")
        .expect("send");
    let mut answer = Vec::new();
    let mut chunk = [0; 1024];
    loop {
        let read = stream.read(&mut chunk).expect("an answer");
        assert!(read > 0, "closed before the answer");
        answer.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&answer).to_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .expect("a content-length");
            if answer.len() >= end + 4 + length {
                return text[..end].to_owned();
            }
        }
    }
}
