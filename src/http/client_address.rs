//! The client's address, for rate limits and throttles: the peer's, or, behind trusted reverse
//! proxies, the rightmost `X-Forwarded-For` hop that is not one of them (the leftmost entries
//! are whatever the client chose to send, and prove nothing).

use std::net::IpAddr;

use ipnet::IpNet;

/// The address to count a request against: `peer` unless it is a trusted proxy, else the
/// rightmost hop of `forwarded_for` outside `trusted` (the leftmost hop when all are trusted; the
/// nearest trusted hop when an entry cannot be read).
pub fn client_address(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut nearest = peer;
    for hop in forwarded_for.unwrap_or("").rsplit(',') {
        let Some(ip) = parse_hop(hop) else {
            return nearest;
        };
        if !is_trusted(&ip) {
            return ip;
        }
        nearest = ip;
    }
    nearest
}

/// The address to count a request from `peer` with these `headers` against (see
/// [`client_address`]); `None` without a peer (a test request).
pub fn of_request(
    peer: Option<std::net::SocketAddr>,
    headers: &actix_http::header::HeaderMap,
    trusted: &[IpNet],
) -> Option<String> {
    let forwarded_for = headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok());
    Some(client_address(peer?.ip(), forwarded_for, trusted).to_string())
}

/// An `X-Forwarded-For` entry: `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(bracketed) = hop.strip_prefix('[') {
        return bracketed.split_once(']')?.0.parse().ok();
    }
    hop.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn forwarding_headers_count_only_behind_trusted_proxies() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        // No trusted proxies: the header is ignored.
        assert_eq!(
            client_address(ip("203.0.113.9"), Some("1.2.3.4"), &[]),
            ip("203.0.113.9")
        );
        // The peer is not a proxy: whatever it claims is ignored.
        assert_eq!(
            client_address(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        // Behind two proxies: the rightmost untrusted hop; a spoofed left entry is skipped.
        assert_eq!(
            client_address(
                ip("127.0.0.1"),
                Some("6.6.6.6, 198.51.100.4, 10.1.2.3"),
                &trusted
            ),
            ip("198.51.100.4")
        );
        // Ports and brackets.
        assert_eq!(
            client_address(ip("10.0.0.1"), Some("[2001:db8::7]:4711"), &trusted),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), Some("198.51.100.4:80"), &trusted),
            ip("198.51.100.4")
        );
        // Every hop trusted: the leftmost; garbage: the nearest trusted hop.
        assert_eq!(
            client_address(ip("10.0.0.1"), Some("10.9.9.9"), &trusted),
            ip("10.9.9.9")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), Some("nonsense, 10.2.2.2"), &trusted),
            ip("10.2.2.2")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), None, &trusted),
            ip("10.0.0.1")
        );
    }
}
