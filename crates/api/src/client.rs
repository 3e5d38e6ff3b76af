//! Who is on the other end of the connection, for the login limit.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;

/// The client's IP address: from `Forwarded`/`X-Forwarded-For` (the first hop they name)
/// when `trust_forwarded_for` is set and they hold an address, else the peer address of the
/// connection. Only trust those headers behind a reverse proxy that sets them itself: a
/// client can send any value.
pub(crate) fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for
        && let Some(ip) = req
            .connection_info()
            .realip_remote_addr()
            .and_then(parse_ip)
    {
        return Some(ip);
    }
    req.peer_addr().map(|addr| addr.ip())
}

/// `192.0.2.1`, `192.0.2.1:5000`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:5000`.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| {
            text.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inner| inner.parse().ok())
        })
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn request(forwarded: Option<(&str, &str)>) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr("203.0.113.7:40000".parse().unwrap());
        if let Some(header) = forwarded {
            req = req.insert_header(header);
        }
        req.to_http_request()
    }

    #[test]
    fn forwarded_headers_count_only_when_trusted() {
        let peer: IpAddr = "203.0.113.7".parse().unwrap();
        let xff = request(Some(("x-forwarded-for", "198.51.100.1, 10.0.0.1")));
        assert_eq!(client_ip(&xff, false), Some(peer));
        assert_eq!(client_ip(&xff, true), "198.51.100.1".parse().ok());

        let forwarded = request(Some(("forwarded", "for=\"[2001:db8::5]:4711\"")));
        assert_eq!(client_ip(&forwarded, true), "2001:db8::5".parse().ok());

        let garbage = request(Some(("x-forwarded-for", "unknown")));
        assert_eq!(client_ip(&garbage, true), Some(peer));
        assert_eq!(client_ip(&request(None), true), Some(peer));
    }

    #[test]
    fn addresses_parse_with_or_without_ports_and_brackets() {
        for text in ["192.0.2.1", "192.0.2.1:80", " 192.0.2.1 "] {
            assert_eq!(parse_ip(text), "192.0.2.1".parse().ok(), "{text}");
        }
        for text in ["2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:443"] {
            assert_eq!(parse_ip(text), "2001:db8::1".parse().ok(), "{text}");
        }
        assert_eq!(parse_ip("_hidden"), None);
    }
}
