//! GraphiQL as Bazaar serves it: the page under a strict Content-Security-Policy with nothing
//! from elsewhere, its assets byte for byte as embedded from `assets/graphiql/`, and nothing at
//! all when GraphiQL is off.

use awc::http::header::HeaderMap;
use base64::Engine as _;
use sha2::{Digest as _, Sha384};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// Status, headers and body of a GET.
async fn fetch(app: &TestApp, path: &str) -> (u16, HeaderMap, Vec<u8>) {
    let mut response = app
        .client()
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("GET");
    let body = response.body().limit(8 * 1024 * 1024).await.expect("body");
    (
        response.status().as_u16(),
        response.headers().clone(),
        body.to_vec(),
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

/// The values of `attribute="…"` in `html`, in order.
fn attributes<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let opening = format!(" {attribute}=\"");
    html.split(opening.as_str())
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect()
}

/// The asset URLs the page names, each with its `integrity`.
fn assets_of(page: &str) -> Vec<(String, String)> {
    let urls = page
        .lines()
        .filter(|line| line.contains("/graphiql/assets/"))
        .map(|line| {
            let url = attributes(line, "src")
                .into_iter()
                .chain(attributes(line, "href"))
                .next()
                .unwrap();
            let integrity = attributes(line, "integrity")[0];
            (url.to_owned(), integrity.to_owned())
        })
        .collect::<Vec<_>>();
    assert_eq!(urls.len(), 6, "{page}");
    urls
}

/// The file in `assets/graphiql/` that `url` (`/graphiql/assets/<stem>.<hash>.<ext>`) serves.
fn embedded_file(url: &str) -> std::path::PathBuf {
    let file = url.strip_prefix("/graphiql/assets/").unwrap();
    let (rest, extension) = file.rsplit_once('.').unwrap();
    let (stem, hash) = rest.rsplit_once('.').unwrap();
    assert_eq!(hash.len(), 16, "{url}");
    let name = format!("{stem}.{extension}");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/graphiql");
    let vendored = root.join("dist").join(&name);
    if vendored.exists() {
        vendored
    } else {
        root.join(name)
    }
}

#[actix_web::test]
async fn the_page_loads_nothing_from_elsewhere_under_a_strict_policy() {
    let app = spawn_app().await;
    let (status, headers, body) = fetch(&app, "/graphiql").await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
    assert_eq!(header(&headers, "cache-control"), "no-cache");
    let page = String::from_utf8(body).unwrap();

    let policy = header(&headers, "content-security-policy");
    let nonce = attributes(&page, "data-style-nonce")[0];
    assert_eq!(nonce.len(), 32, "{page}");
    let host = app.address.strip_prefix("http://").unwrap();
    let directives = policy.split("; ").collect::<Vec<_>>();
    assert_eq!(
        directives,
        [
            "default-src 'none'".to_owned(),
            "script-src 'self'".to_owned(),
            format!("style-src 'self' 'nonce-{nonce}'"),
            format!("connect-src 'self' ws://{host} wss://{host}"),
            "img-src 'self' data:".to_owned(),
            "font-src 'self' data:".to_owned(),
            "base-uri 'none'".to_owned(),
            "form-action 'none'".to_owned(),
            "frame-ancestors 'none'".to_owned(),
        ],
        "{policy}"
    );

    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
    assert!(
        !page.contains("<style") && !page.contains(" style="),
        "{page}"
    );
    let scripts = page.matches("<script").count();
    assert_eq!(scripts, 4, "{page}");
    assert_eq!(
        page.matches("<script defer src=\"/graphiql/assets/")
            .count(),
        scripts
    );

    let (_, again, next) = fetch(&app, "/graphiql").await;
    let next = String::from_utf8(next).unwrap();
    assert_ne!(
        attributes(&next, "data-style-nonce")[0],
        nonce,
        "a fresh nonce each time"
    );
    assert!(
        header(&again, "content-security-policy")
            .contains(attributes(&next, "data-style-nonce")[0])
    );
}

#[actix_web::test]
async fn the_assets_are_the_embedded_files_byte_for_byte() {
    let app = spawn_app().await;
    let page = String::from_utf8(fetch(&app, "/graphiql").await.2).unwrap();
    for (url, integrity) in assets_of(&page) {
        let (status, headers, body) = fetch(&app, &url).await;
        assert_eq!(status, 200, "{url}");
        let file = embedded_file(&url);
        assert!(
            body == std::fs::read(&file).unwrap(),
            "{url} is not {file:?}"
        );
        let sha384 = base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&body));
        assert_eq!(integrity, format!("sha384-{sha384}"), "{url}");
        let content_type = if url.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(header(&headers, "content-type"), content_type, "{url}");
        assert_eq!(
            header(&headers, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    }
    // Every vendored build is on the page; nothing else is served.
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/graphiql/dist");
    for entry in std::fs::read_dir(dist).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".js") || name.ends_with(".css") {
            let stem = name.rsplit_once('.').unwrap().0;
            assert!(
                page.contains(&format!("/graphiql/assets/{stem}.")),
                "{name}"
            );
        }
    }
    for path in [
        "/graphiql/assets/graphiql.min.js",
        "/graphiql/assets/SOURCES",
        "/graphiql/assets/LICENSE.graphiql",
        "/graphiql/assets/..%2Fdist%2Fgraphiql.min.js",
    ] {
        assert_eq!(fetch(&app, path).await.0, 404, "{path}");
    }
}

#[actix_web::test]
async fn nothing_is_served_when_graphiql_is_off() {
    let on = spawn_app().await;
    let page = String::from_utf8(fetch(&on, "/graphiql").await.2).unwrap();
    let off = spawn_app_with(1, &["--graphiql", "false"]).await;
    assert_eq!(fetch(&off, "/graphiql").await.0, 404);
    for (url, _) in assets_of(&page) {
        assert_eq!(fetch(&on, &url).await.0, 200, "{url}");
        assert_eq!(fetch(&off, &url).await.0, 404, "{url}");
    }
}
