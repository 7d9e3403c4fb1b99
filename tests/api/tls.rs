//! TLS: the real binary's HTTPS listener (`--tls-cert`, `--tls-key`) with certificates made
//! here (GraphQL over HTTPS, HTTP/1.1 only; a subscription socket over WSS, closed 1001 by a
//! SIGTERM; plain HTTP and untrusting clients refused; a bad file a clear start-up error), and
//! TLS to PostgreSQL with the server's certificate verified (`sslmode=verify-full`) when
//! `TEST_DATABASE_URL` and `TEST_PG_CA` (`.ci/pg-tls`) are set. The database's TLS runs in the
//! binary only: the test process keeps its own connections plain (see `.ci/run`).

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use awc::ws::{Codec, Frame, Message};
use futures_util::{SinkExt as _, StreamExt as _};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::{Value, json};

use crate::helpers::fresh_database;

/// A CA made for one test, and a server certificate it signed for `127.0.0.1` and `localhost`,
/// as PEM files in a temp dir.
struct Certificates {
    dir: tempfile::TempDir,
    ca: String,
    cert: PathBuf,
    key: PathBuf,
}

impl Certificates {
    fn new() -> Self {
        let ca = certificate_authority("Bazaar test CA");
        let key = KeyPair::generate().expect("a server key");
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("server certificate parameters")
            .signed_by(&key, &ca)
            .expect("the CA signs the server certificate");
        let dir = tempfile::tempdir().expect("temp dir");
        let cert = dir.path().join("server.pem");
        let key_file = dir.path().join("server.key");
        std::fs::write(&cert, leaf.pem() + &ca.pem()).expect("write the chain");
        std::fs::write(&key_file, key.serialize_pem()).expect("write the key");
        Self {
            ca: ca.pem(),
            dir,
            cert,
            key: key_file,
        }
    }

    /// A file in the temp dir holding `text`.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write a file");
        path
    }
}

/// A self-signed CA, with a key of its own.
fn certificate_authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("a CA key"))
        .expect("a self-signed CA")
}

/// An HTTP client that trusts the CA in `ca_pem` and nothing else, and offers HTTP/2 and
/// HTTP/1.1 (the server picks).
fn client_trusting(ca_pem: &str) -> awc::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("a PEM certificate")).expect("a root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(Arc::new(config)))
        .finish()
}

/// The real binary, stopped (SIGKILL) when a test ends without having seen it exit.
struct Bazaar {
    child: Child,
    stderr: PathBuf,
}

impl Drop for Bazaar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bazaar {
    /// What the server wrote on stderr so far.
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// A free port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// `bazaar` with `args` over `database_url`, in development, without demo data, its stderr
/// kept in `dir`; without `PGSSLMODE`, so that the URL alone says how to reach PostgreSQL.
fn bazaar(dir: &Path, database_url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bazaar"));
    command
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("BAZAAR_ENV", "development")
        .env("BAZAAR_SEED_DEMO", "false")
        .env("BAZAAR_BCRYPT_COST", "4")
        .env("BAZAAR_WORKERS", "1")
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .env("RUST_LOG", "warn")
        .env_remove("PGSSLMODE")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// `bazaar serve` over HTTPS with `certs` on `port`, once it answers `/health/ready`.
async fn serve_tls(certs: &Certificates, database_url: &str, port: u16) -> Bazaar {
    let stderr = certs.dir.path().join(format!("serve-{port}.log"));
    let child = bazaar(certs.dir.path(), database_url, &["serve"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--tls-cert")
        .arg(&certs.cert)
        .arg("--tls-key")
        .arg(&certs.key)
        .stderr(std::fs::File::create(&stderr).expect("a log file"))
        .spawn()
        .expect("start bazaar");
    let mut server = Bazaar { child, stderr };
    let client = client_trusting(&certs.ca);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("bazaar exited ({status}): {}", server.stderr());
        }
        let probe = client
            .get(format!("https://127.0.0.1:{port}/health/ready"))
            .send()
            .await;
        if probe.is_ok_and(|response| response.status() == 200) {
            return server;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("bazaar did not answer over HTTPS: {}", server.stderr());
}

/// A GraphQL POST over HTTPS to the server on `port`: the HTTP version it was answered in, and
/// the body.
async fn graphql(client: &awc::Client, port: u16, query: &str) -> (awc::http::Version, Value) {
    let mut response = client
        .post(format!("https://127.0.0.1:{port}/graphql"))
        .send_json(&json!({ "query": query }))
        .await
        .expect("an answer over HTTPS");
    assert_eq!(response.status(), 200);
    let body = response.json::<Value>().await.expect("a JSON body");
    (response.version(), body)
}

/// What the server on `port` answers a plain-HTTP request with (TLS expected): the bytes it
/// sent before closing.
fn plain_http_answer(port: u16) -> Vec<u8> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("send a request");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// The process's output once it exits (within 60 s).
fn exit_of(command: &mut Command) -> Output {
    let mut child = command
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bazaar");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait for bazaar").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("bazaar did not exit: {:?}", child.wait_with_output());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("bazaar's output")
}

/// The next text message on a graphql-transport-ws socket, or the close code.
async fn heard(socket: &mut actix_codec::Framed<awc::BoxedSocket, Codec>) -> Result<Value, u16> {
    loop {
        let frame = actix_web::rt::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("the server answered within 10 s");
        match frame {
            Some(Ok(Frame::Text(text))) => return Ok(serde_json::from_slice(&text).unwrap()),
            Some(Ok(Frame::Close(reason))) => return Err(reason.map_or(0, |r| r.code.into())),
            Some(Ok(_)) => {}
            other => panic!("the socket failed: {other:?}"),
        }
    }
}

async fn send(socket: &mut actix_codec::Framed<awc::BoxedSocket, Codec>, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("send a frame");
}

#[actix_web::test]
async fn https_and_wss_serve_a_client_that_trusts_the_certificate_and_refuse_the_rest() {
    let certs = Certificates::new();
    let port = free_port();
    let database = format!("sqlite://{}", certs.dir.path().join("shop.db").display());
    let mut server = serve_tls(&certs, &database, port).await;
    let trusting = client_trusting(&certs.ca);

    // GraphQL over HTTPS, in HTTP/1.1 though the client offers h2.
    let (version, body) = graphql(&trusting, port, "{ __typename }").await;
    assert_eq!(body["data"], json!({ "__typename": "Query" }), "{body}");
    assert_eq!(version, awc::http::Version::HTTP_11);

    // A client that trusts another CA is refused in the handshake.
    let stranger = client_trusting(&certificate_authority("Someone else").pem());
    let refused = stranger
        .get(format!("https://127.0.0.1:{port}/health/live"))
        .send()
        .await;
    let error = refused
        .expect_err("an untrusted certificate is refused")
        .to_string();
    assert!(error.contains("certificate"), "{error}");

    // Plain HTTP on the TLS port gets no HTTP answer.
    let answer = plain_http_answer(port);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // A subscription socket over WSS: the handshake, a ping, a query, then the server's 1001
    // at SIGTERM, after which the process exits cleanly.
    let (response, mut socket) = trusting
        .ws(format!("wss://127.0.0.1:{port}/graphql"))
        .protocols(["graphql-transport-ws"])
        .connect()
        .await
        .expect("the WebSocket opens over TLS");
    assert_eq!(
        response.headers().get("sec-websocket-protocol").unwrap(),
        "graphql-transport-ws"
    );
    send(&mut socket, json!({ "type": "connection_init" })).await;
    assert_eq!(
        heard(&mut socket).await,
        Ok(json!({ "type": "connection_ack" }))
    );
    send(
        &mut socket,
        json!({ "type": "ping", "payload": { "at": 1 } }),
    )
    .await;
    assert_eq!(
        heard(&mut socket).await,
        Ok(json!({ "type": "pong", "payload": { "at": 1 } }))
    );
    send(
        &mut socket,
        json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ __typename }" } }),
    )
    .await;
    let next = heard(&mut socket).await.expect("a `next`");
    assert_eq!(
        next["payload"]["data"],
        json!({ "__typename": "Query" }),
        "{next}"
    );
    assert_eq!(
        heard(&mut socket).await,
        Ok(json!({ "id": "q", "type": "complete" }))
    );
    let signalled = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(signalled.success());
    assert_eq!(heard(&mut socket).await, Err(1001));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait for bazaar") {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit: {}", server.stderr());
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}: {}", server.stderr());
}

#[test]
fn a_missing_or_unusable_certificate_or_key_stops_the_start_with_a_clear_error() {
    let certs = Certificates::new();
    let database = format!("sqlite://{}", certs.dir.path().join("shop.db").display());
    let missing = certs.dir.path().join("missing.pem");
    let empty = certs.file("empty.pem", "");
    let not_pem = certs.file("garbage.pem", "-----BEGIN CERTIFICATE-----\n!!!\n");
    let other_key = certs.file("other.key", &KeyPair::generate().unwrap().serialize_pem());
    let cannot_read = format!("{}: cannot read it", missing.display());
    let cases: [(&Path, &Path, &str); 5] = [
        (&missing, &certs.key, &format!("--tls-cert {cannot_read}")),
        (&certs.cert, &missing, &format!("--tls-key {cannot_read}")),
        (&empty, &certs.key, "no certificate in it"),
        (&not_pem, &certs.key, "not a valid PEM file"),
        (&certs.cert, &other_key, "do not make a usable pair"),
    ];
    for (cert, key, expected) in cases {
        let output = exit_of(
            bazaar(certs.dir.path(), &database, &["serve"])
                .args(["--listen", "127.0.0.1:0", "--tls-cert"])
                .arg(cert)
                .arg("--tls-key")
                .arg(key),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{expected}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let line = stderr
            .lines()
            .find(|line| line.starts_with("bazaar:"))
            .unwrap_or_else(|| panic!("{expected}: {stderr}"));
        assert!(line.contains(expected), "{expected}: {line}");
    }

    // One flag without the other is a usage error.
    let alone = exit_of(
        bazaar(certs.dir.path(), &database, &["serve"])
            .args(["--listen", "127.0.0.1:0", "--tls-cert"])
            .arg(&certs.cert),
    );
    let stderr = String::from_utf8_lossy(&alone.stderr);
    assert_eq!(alone.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
}

/// `TEST_DATABASE_URL` and `TEST_PG_CA` (the CA that signed the local PostgreSQL's
/// certificate), or `None` (the test then has nothing to check).
fn postgres_with_tls() -> Option<(String, String)> {
    let url = std::env::var("TEST_DATABASE_URL").ok()?;
    let ca = std::env::var("TEST_PG_CA").ok()?;
    (!url.is_empty() && !ca.is_empty()).then_some((url, ca))
}

#[derive(diesel::QueryableByName)]
struct Sessions {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    encrypted: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    plain: i64,
}

#[actix_web::test]
async fn postgres_is_reached_over_tls_with_its_certificate_verified() {
    let Some((admin_url, ca)) = postgres_with_tls() else {
        eprintln!("TEST_DATABASE_URL and TEST_PG_CA unset: TLS to PostgreSQL not tested");
        return;
    };
    let (database_url, _) = fresh_database();
    let name = database_url.rsplit('/').next().unwrap().to_owned();
    let verified = |url: &str, ca: &str| format!("{url}?sslmode=verify-full&sslrootcert={ca}");
    let certs = Certificates::new();
    let dir = certs.dir.path();

    // The CA that signed the server's certificate: `migrate`, by IP address and by name.
    let output = exit_of(&mut bazaar(
        dir,
        &verified(&database_url, &ca),
        &["migrate"],
    ));
    assert!(output.status.success(), "{output:?}");
    let by_name = database_url.replacen("@127.0.0.1:", "@localhost:", 1);
    let output = exit_of(&mut bazaar(dir, &verified(&by_name, &ca), &["migrate"]));
    assert!(output.status.success(), "{output:?}");

    // Another CA: the connection is refused, and said so in one line.
    let stranger = certs.file(
        "stranger-ca.pem",
        &certificate_authority("Not PostgreSQL's").pem(),
    );
    let output = exit_of(&mut bazaar(
        dir,
        &verified(&database_url, &stranger.display().to_string()),
        &["migrate"],
    ));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .find(|line| line.starts_with("bazaar:"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("cannot connect to"), "{line}");
    assert!(line.contains("certificate verify failed"), "{line}");

    // The server over TLS to PostgreSQL (and HTTPS to its clients) answers, and every session
    // it holds on its database is encrypted.
    let port = free_port();
    let server = serve_tls(&certs, &verified(&database_url, &ca), port).await;
    let (_, body) = graphql(
        &client_trusting(&certs.ca),
        port,
        "{ categories(first: 1) { name } }",
    )
    .await;
    assert_eq!(body["data"], json!({ "categories": [] }), "{body}");
    let admin = bazaar::db::Db::connect(&bazaar::config::DatabaseConfig {
        database_url: admin_url,
        pool_size: Some(1),
        pool_timeout_secs: 5,
        pg_plan_cache_mode: bazaar::config::PlanCacheMode::ForceGenericPlan,
        statement_timeout: None,
        sealing_keys: Some(crate::helpers::TEST_SEALING_KEYS.into()),
    })
    .expect("connect to TEST_DATABASE_URL");
    let sessions = admin
        .run_blocking(move |conn| {
            use diesel::RunQueryDsl as _;
            Ok(diesel::sql_query(
                "SELECT count(*) FILTER (WHERE s.ssl) AS encrypted, \
                        count(*) FILTER (WHERE NOT s.ssl) AS plain \
                 FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = $1",
            )
            .bind::<diesel::sql_types::Text, _>(name)
            .get_result::<Sessions>(conn)?)
        })
        .expect("read pg_stat_ssl");
    assert!(sessions.encrypted >= 1, "{}", server.stderr());
    assert_eq!(sessions.plain, 0);
    drop(server);
}
