//! GraphiQL, served by Bazaar itself when enabled: the page (`assets/graphiql/index.html`), the
//! pinned production builds of React and GraphiQL (`assets/graphiql/dist/`) and the page's own
//! script and style, all embedded in the binary. The page loads nothing from elsewhere, under a
//! strict Content-Security-Policy; each asset has a content-hashed URL and is cached for a year.
//! The page carries a fresh style nonce each time, for the one `<style>` element GraphiQL adds.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use sha2::{Digest as _, Sha384};

use super::AppState;

/// Where the assets are served; the page names each as `ASSETS_PATH/<stem>.<hash>.<ext>`.
const ASSETS_PATH: &str = "/graphiql/assets";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// A file the page loads, as embedded.
struct Source {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! embedded {
    ($path:literal, $name:literal, $content_type:expr) => {
        Source {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/assets/graphiql/",
                $path,
                $name
            )),
        }
    };
}

const SOURCES: [Source; 6] = [
    embedded!("dist/", "react.production.min.js", JAVASCRIPT),
    embedded!("dist/", "react-dom.production.min.js", JAVASCRIPT),
    embedded!("dist/", "graphiql.min.js", JAVASCRIPT),
    embedded!("dist/", "graphiql.min.css", CSS),
    embedded!("", "start.js", JAVASCRIPT),
    embedded!("", "page.css", CSS),
];

/// An asset under its content-hashed file name.
struct Asset {
    file: String,
    source: &'static Source,
}

/// The page with its assets' URLs and integrity hashes filled in, split where the style nonce
/// goes, and the assets by file name.
struct Site {
    page: (String, String),
    assets: Vec<Asset>,
}

const NONCE_PLACEHOLDER: &str = "{{style nonce}}";

static SITE: LazyLock<Site> = LazyLock::new(|| {
    let mut page = include_str!("../../assets/graphiql/index.html").to_owned();
    let mut assets = Vec::with_capacity(SOURCES.len());
    for source in &SOURCES {
        let digest = Sha384::digest(source.body);
        let file = match source.name.rsplit_once('.') {
            Some((stem, extension)) => format!("{stem}.{}.{extension}", hex::encode(&digest[..8])),
            None => format!("{}.{}", source.name, hex::encode(&digest[..8])),
        };
        let integrity = format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        page = page
            .replace(&format!("{{{{{} integrity}}}}", source.name), &integrity)
            .replace(
                &format!("{{{{{}}}}}", source.name),
                &format!("{ASSETS_PATH}/{file}"),
            );
        assets.push(Asset { file, source });
    }
    let page = match page.split_once(NONCE_PLACEHOLDER) {
        Some((before, after)) => (before.to_owned(), after.to_owned()),
        None => (page, String::new()),
    };
    Site { page, assets }
});

/// `GET /graphiql`: the page, when GraphiQL is enabled.
pub async fn page(state: web::Data<AppState>, http: HttpRequest) -> HttpResponse {
    if !state.graphiql {
        return HttpResponse::NotFound().finish();
    }
    let host = http
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let (before, after) = &SITE.page;
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            content_security_policy(host, &nonce),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(format!("{before}{nonce}{after}"))
}

/// `GET /graphiql/assets/{file}`: an asset of the page, when GraphiQL is enabled.
pub async fn asset(state: web::Data<AppState>, file: web::Path<String>) -> HttpResponse {
    if !state.graphiql {
        return HttpResponse::NotFound().finish();
    }
    match SITE.assets.iter().find(|asset| asset.file == *file) {
        Some(asset) => HttpResponse::Ok()
            .content_type(asset.source.content_type)
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(asset.source.body),
        None => HttpResponse::NotFound().finish(),
    }
}

/// Scripts and styles from this server only, no inline script, and the one `<style>` element
/// that carries `nonce`; requests to this origin only, WebSockets included (named by the
/// request's host, for browsers whose `'self'` does not cover `ws:`); GraphiQL's fonts and
/// icons are `data:` URLs; no frames, forms or `<base>`.
fn content_security_policy(host: Option<&str>, nonce: &str) -> HeaderValue {
    let websockets = host
        .filter(|host| is_plain_authority(host))
        .map(|host| format!(" ws://{host} wss://{host}"))
        .unwrap_or_default();
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; \
         connect-src 'self'{websockets}; img-src 'self' data:; font-src 'self' data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// A host and optional port that can stand in a source expression as it is.
fn is_plain_authority(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_of_the_page_is_filled() {
        let (before, after) = &SITE.page;
        assert!(before.ends_with("data-style-nonce=\""), "{before}");
        let page = format!("{before}{after}");
        assert!(!page.contains("{{"), "{page}");
        for asset in &SITE.assets {
            assert!(page.contains(&format!("{ASSETS_PATH}/{}", asset.file)));
        }
    }

    #[test]
    fn only_a_plain_host_names_the_websocket_origin() {
        let policy = |host| {
            content_security_policy(host, "n0nce")
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert!(policy(None).contains("style-src 'self' 'nonce-n0nce';"));
        assert!(
            policy(Some("127.0.0.1:8080")).contains("ws://127.0.0.1:8080 wss://127.0.0.1:8080;")
        );
        assert!(policy(Some("[::1]:8080")).contains("wss://[::1]:8080;"));
        for host in [
            None,
            Some(""),
            Some("a; script-src *"),
            Some("a b"),
            Some("*"),
        ] {
            assert!(policy(host).contains("connect-src 'self';"), "{host:?}");
        }
    }
}
