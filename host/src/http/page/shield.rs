//! What every request of the preferences pages passes before a handler sees it: the rate
//! limits ([`crate::limits`]) and, for a `POST`, proof that it was sent from one of
//! our own pages.
//!
//! A `POST` is accepted when the browser says it came from our origin: `Sec-Fetch-Site:
//! same-origin` (or `none`, a request the person made themselves); without that header
//! (older browsers, other clients), an `Origin` naming our origin, or without a usable
//! `Origin`, a `Referer` on our origin. Our origin is the one the request came to (its
//! `Host`, over http or https) or the tenant's preferences URL's (what a proxy in front
//! may rewrite). `Sec-Fetch-Site: cross-site` or `same-site`, a foreign `Origin` or
//! `Referer`, or no proof at all is refused 403 with a page saying so, before anything is
//! read or written. The exception is the RFC 8058 one-click unsubscription
//! (`POST .../unsubscribe/{consent}`), which mail providers send from their servers with
//! no `Origin`: it carries the signed link, and all it can do is withdraw one consent of the
//! link's own person, the safe side, so a forged one harms nobody.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::{blocking, refused};
use crate::limits::{Limiter, RetryAfter, counted};
use crate::tenants::TenantGuard;

/// The client a request is counted against (and whose address goes into the evidence):
/// the connection's address, or a trusted proxy's header's.
#[derive(Debug, Clone, Copy)]
pub(super) struct Client(pub(super) Option<IpAddr>);

/// The shield of one tenant's pages.
#[derive(Clone)]
pub(super) struct Shield {
    pub(super) limiter: Arc<Limiter>,
    pub(super) guard: TenantGuard,
    pub(super) base: String,
}

/// What a request of the pages is, by its path.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    /// A page of one link, `/preferences/{token}...`; `one_click` for the RFC 8058 URL.
    Link {
        token: &'a str,
        one_click: bool,
    },
    /// "Send me my link again", `/preferences/link`.
    LinkMail,
    Other,
}

fn target<'a>(path: &'a str, base: &str) -> Target<'a> {
    let path = path.strip_prefix(base).unwrap_or(path);
    let Some(rest) = path.strip_prefix("/preferences/") else {
        return Target::Other;
    };
    let mut segments = rest.split('/');
    match segments.next() {
        Some("link") if segments.next().is_none() => Target::LinkMail,
        Some(token) if !token.is_empty() => Target::Link {
            token,
            one_click: segments.next() == Some("unsubscribe"),
        },
        _ => Target::Other,
    }
}

pub(super) async fn shield(
    State(shield): State<Shield>,
    mut request: Request,
    next: Next,
) -> Response {
    let limiter = &shield.limiter;
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    let client = limiter.limits.client(peer, request.headers());
    let counted_as = client.map(counted);
    let now = limiter.now();
    let post = request.method() == Method::POST;
    let path = request.uri().path().to_owned();
    let target = target(&path, &shield.base);
    let mut limited = counted_as.map_or(Ok(()), |client| limiter.client.take(client, now));
    match &target {
        Target::Link { token, .. } => {
            if let Some(client) = counted_as {
                limited = limited.and_then(|()| limiter.refused_links.check(client, now));
            }
            limited = limited.and_then(|()| limiter.link.take((&shield.base, token), now));
        }
        Target::LinkMail if post => {
            if let Some(client) = counted_as {
                limited = limited.and_then(|()| limiter.link_mail.take(client, now));
            }
        }
        _ => {}
    }
    if let Err(retry) = limited {
        tracing::info!(client = ?client, path = %redacted(&target), "too many requests");
        return too_many(request.headers(), retry);
    }
    let one_click = matches!(
        target,
        Target::Link {
            one_click: true,
            ..
        }
    );
    if post
        && !one_click
        && let Err(problem) = from_our_page(&shield, request.headers()).await
    {
        tracing::info!(client = ?client, path = %redacted(&target), %problem, "refused a form not sent from our page");
        return refused(
            request.headers(),
            StatusCode::FORBIDDEN,
            String::new(),
            "problem-cross-site",
        );
    }
    request.extensions_mut().insert(Client(client));
    let response = next.run(request).await;
    let link_refused = matches!(response.status(), StatusCode::NOT_FOUND | StatusCode::GONE);
    if let (Target::Link { .. }, Some(client), true) = (&target, counted_as, link_refused) {
        limiter.refused_links.charge(client, now);
    }
    response
}

/// The path for the log, without the token.
fn redacted(target: &Target<'_>) -> &'static str {
    match target {
        Target::Link {
            one_click: true, ..
        } => "/preferences/{token}/unsubscribe",
        Target::Link { .. } => "/preferences/{token}",
        Target::LinkMail => "/preferences/link",
        Target::Other => "other",
    }
}

fn too_many(headers: &HeaderMap, RetryAfter(seconds): RetryAfter) -> Response {
    let mut response = refused(
        headers,
        StatusCode::TOO_MANY_REQUESTS,
        String::new(),
        "problem-too-many",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Ok when the request proves it was sent from our own page; else what was wrong.
async fn from_our_page(shield: &Shield, headers: &HeaderMap) -> Result<(), String> {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    match text(header::HeaderName::from_static("sec-fetch-site")) {
        Some("same-origin" | "none") => return Ok(()),
        Some(site @ ("same-site" | "cross-site")) => {
            return Err(format!(
                "the browser says it came from another site ({site})"
            ));
        }
        _ => {}
    }
    let claimed = match text(header::ORIGIN).filter(|origin| *origin != "null") {
        Some(origin) => ("Origin", origin),
        None => match text(header::REFERER) {
            Some(referer) => ("Referer", referer),
            None => return Err("it carries no Origin, Referer or Sec-Fetch-Site".into()),
        },
    };
    let Some(origin) = origin_of(claimed.1) else {
        return Err(format!("its {} `{}` is not a URL", claimed.0, claimed.1));
    };
    if let Some(host) = text(header::HOST) {
        let (_, authority) = origin.split_once("://").unwrap_or_default();
        if authority == normal_authority(host) {
            return Ok(());
        }
    }
    // Behind a proxy the Host may be the proxy's upstream name: the preferences URL says
    // where people open the pages.
    let settings = blocking(&shield.guard, |guard| guard.configuration())
        .await
        .ok()
        .and_then(|snapshot| snapshot.settings);
    let ours = settings.and_then(|settings| origin_of(&settings.preferences_url));
    if ours.as_deref() == Some(origin.as_str()) {
        return Ok(());
    }
    Err(format!("its {} names another origin ({origin})", claimed.0))
}

/// `scheme://host[:port]` of a URL, lower case, without the scheme's default port.
fn origin_of(url: &str) -> Option<String> {
    let uri = url.parse::<axum::http::Uri>().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?.as_str().to_ascii_lowercase();
    let authority = match scheme.as_str() {
        "https" => authority.strip_suffix(":443").unwrap_or(&authority),
        "http" => authority.strip_suffix(":80").unwrap_or(&authority),
        _ => &authority,
    };
    Some(format!("{scheme}://{authority}"))
}

/// A `Host` header as an origin's authority: lower case, without a default port.
fn normal_authority(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    host.strip_suffix(":80")
        .or_else(|| host.strip_suffix(":443"))
        .unwrap_or(&host)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_told_apart_by_what_they_are_for() {
        assert_eq!(target("/preferences/link", ""), Target::LinkMail);
        assert_eq!(
            target("/t/acme/preferences/abc/unsubscribe/news", "/t/acme"),
            Target::Link {
                token: "abc",
                one_click: true
            }
        );
        assert_eq!(
            target("/preferences/abc/erase", ""),
            Target::Link {
                token: "abc",
                one_click: false
            }
        );
        assert_eq!(
            target("/preferences/link/erase", ""),
            Target::Link {
                token: "link",
                one_click: false
            }
        );
        assert_eq!(target("/preferences/", ""), Target::Other);
        assert_eq!(target("/health", ""), Target::Other);
    }

    #[test]
    fn origins_compare_without_case_or_default_ports() {
        assert_eq!(
            origin_of("HTTPS://Prefs.Example.com:443/preferences/x").as_deref(),
            Some("https://prefs.example.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080/preferences/").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin_of("not a url"), None);
        assert_eq!(normal_authority("Example.com:443"), "example.com");
    }
}
