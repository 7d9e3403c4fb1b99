//! Webhook rules: the retry schedule, the signature partners verify, which addresses a
//! webhook may be sent to (SSRF), and the states of subscriptions and deliveries.

use std::net::IpAddr;
use std::time::Duration;

use hmac::{Hmac, Mac as _};
use ipnet::IpNet;
use sha2::Sha256;

/// Tries per delivery before it is dead: the first and seven retries.
pub const MAX_ATTEMPTS: i32 = 8;

/// Tries a delivery lists: the latest two rounds (a retry by hand starts a round).
pub const ATTEMPTS_LISTED_PER_DELIVERY: usize = 16;

/// The wait before retry `n` (1-based), in units of the first retry's wait: with the default
/// first retry of a minute, 1 min, 5 min, 15 min, 1 h, 3 h, 6 h and 12 h, about 22 hours in all.
const RETRY_STEPS: [u32; 7] = [1, 5, 15, 60, 180, 360, 720];

/// When to try again after `attempts` failed tries (`None`: the delivery is dead), `first` being
/// the wait before the first retry; `jitter` in `[0, 1)` spreads retries by up to ±20 % so that
/// a receiver coming back is not hit by every delivery at once.
pub fn retry_after(attempts: i32, first: Duration, jitter: f64) -> Option<Duration> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let step = usize::try_from(attempts.max(1) - 1).ok()?;
    let base = first.saturating_mul(*RETRY_STEPS.get(step)?);
    let spread = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    Some(base.mul_f64(spread))
}

/// The `Bazaar-Signature` header for `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>`, the
/// scheme Stripe uses, so the same few lines verify both.
pub fn signature(secret: &str, body: &[u8], timestamp: i64) -> String {
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return format!("t={timestamp}");
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Where webhooks may be sent.
#[derive(Debug, Clone, Default)]
pub struct DestinationPolicy {
    /// Whether loopback, private, link-local and other non-public addresses are allowed
    /// (development); production refuses them.
    pub allow_private: bool,
    /// Networks allowed even so (an on-premises ERP, say).
    pub allowed_networks: Vec<IpNet>,
}

impl DestinationPolicy {
    /// Whether a webhook may be sent to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_private
            || is_public(ip)
            || self.allowed_networks.iter().any(|net| net.contains(&ip))
    }
}

/// Whether `ip` is a public unicast address: not loopback, private, link-local, shared (CGNAT),
/// documentation, benchmarking, multicast, broadcast or unspecified; IPv4-mapped IPv6 is judged
/// as its IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

/// Checks a webhook URL's form: http or https, a host, no credentials, at most 2,000
/// characters. The host's addresses are checked when it is resolved.
pub fn check_url(text: &str) -> Result<reqwest::Url, String> {
    if text.len() > 2_000 {
        return Err("a webhook URL has at most 2,000 characters".to_owned());
    }
    let url = reqwest::Url::parse(text.trim()).map_err(|_| "not a valid URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("a webhook URL is http or https".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("a webhook URL names a host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a webhook URL carries no credentials".to_owned());
    }
    Ok(url)
}

/// A subscription's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    /// Deliveries go out.
    Active,
    /// A delivery died after every try: nothing goes out until it is resumed.
    Paused,
}

crate::domain::text_enum!(SubscriptionStatus { Active => "ACTIVE", Paused => "PAUSED" });

/// A delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its next try.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every try failed.
    Dead,
}

crate::domain::text_enum!(DeliveryStatus { Pending => "PENDING", Delivered => "DELIVERED", Dead => "DEAD" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_tries_over_about_a_day() {
        let minute = Duration::from_secs(60);
        let waits: Vec<Duration> = (1..MAX_ATTEMPTS)
            .map(|n| retry_after(n, minute, 0.5).unwrap())
            .collect();
        assert_eq!(waits.len(), 7);
        assert!(waits.windows(2).all(|w| w[0] < w[1]));
        let total: Duration = waits.iter().sum();
        assert!(total > Duration::from_secs(20 * 3600) && total < Duration::from_secs(26 * 3600));
        assert_eq!(retry_after(MAX_ATTEMPTS, minute, 0.5), None);
        // Jitter stays within ±20 %.
        assert_eq!(retry_after(1, minute, 0.0), Some(Duration::from_secs(48)));
        assert_eq!(retry_after(1, minute, 1.0), Some(Duration::from_secs(72)));
    }

    #[test]
    fn signatures_follow_the_documented_scheme() {
        // HMAC-SHA256("whsec", "1700000000.{}"), computed independently.
        let header = signature("whsec", b"{}", 1_700_000_000);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(header, signature("other", b"{}", 1_700_000_000));
        assert_ne!(header, signature("whsec", b"{} ", 1_700_000_000));
    }

    #[test]
    fn only_public_addresses_unless_allowed() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        let policy = DestinationPolicy {
            allow_private: false,
            allowed_networks: vec!["10.0.0.0/8".parse().unwrap()],
        };
        assert!(policy.allows("10.9.9.9".parse().unwrap()));
        assert!(!policy.allows("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn urls_are_http_with_a_host_and_no_credentials() {
        assert!(check_url("https://erp.example.com/hooks").is_ok());
        for bad in [
            "ftp://x.example.com",
            "file:///etc/passwd",
            "https://user:pw@x.example.com",
            "not a url",
            "gopher://x",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
