//! Links are scanner-safe (issue 14, part 2): corporate mail scanners fetch every link of
//! every mail, with GET and HEAD, following redirects and the links of the pages they land
//! on, often as a browser. Over real TCP, every link of a realistic set of mails (a consent
//! request of the daily run, a reminder, a confirmation, a notice, a "send me my link
//! again" mail, a marketing mail rendered with its footer and `List-Unsubscribe`) is
//! fetched so, and nothing changes: not one event (the hash-chained log is the same, event
//! for event), no consent value or status, no mail. A double opt-in then counts when, and
//! only when, the page's form is posted.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use privacy_guard_host::contract::sending::{
    MailContent, MessageClass, Recipient, RecipientRole, Rendering, SendRequest,
};
use privacy_guard_host::contract::types::ConsentValue;
use privacy_guard_host::guard::Guard;
use privacy_guard_tests::scenario::{contact, import_csv};
use privacy_guard_tests::{
    Response, TestHost, email_marketing_consent, http_post_form, served_host, settings,
};

/// What a scanner asks as: no agent of its own, a browser (Safe Links, Proofpoint), and
/// the gateways that name themselves.
const AGENTS: [Option<&str>; 4] = [
    None,
    Some(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    ),
    Some("Barracuda Sentinel (EE)"),
    Some("Mimecast URL Protect/1.0"),
];

/// Everything a fetch could change.
#[derive(Debug, PartialEq)]
struct State {
    events: Vec<(u64, String, String)>,
    people: Vec<String>,
    mails: usize,
    undelivered: usize,
}

fn state(host: &TestHost, guard: &Guard) -> State {
    State {
        events: guard
            .events_after(0)
            .expect("events")
            .into_iter()
            .map(|event| (event.sequence, event.stream, event.payload))
            .collect(),
        people: (1..=3)
            .map(|id| {
                format!(
                    "{:?}",
                    guard.subject(&contact(&id.to_string())).expect("call")
                )
            })
            .collect(),
        mails: host.mails().len(),
        undelivered: guard.undelivered_mail(1000).expect("outbox").len(),
    }
}

/// One request as a scanner sends it, over TCP.
fn fetch(method: &str, url: &str, agent: Option<&str>) -> Response {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let target: SocketAddr = authority.parse().expect("a loopback address");
    let mut request = format!(
        "{method} /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nAccept: */*\r\n"
    );
    if let Some(agent) = agent {
        request.push_str(&format!("User-Agent: {agent}\r\n"));
    }
    request.push_str("\r\n");
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(target).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    Response {
        status: head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("a status"),
        headers: head.to_owned(),
        body: body.to_owned(),
    }
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Every http(s) URL in a text.
fn urls_in_text(text: &str) -> Vec<String> {
    let mut urls = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("http") {
        let candidate = &rest[start..];
        if candidate.starts_with("http://") || candidate.starts_with("https://") {
            let end = candidate
                .find(|c: char| c.is_whitespace() || matches!(c, '>' | '<' | '"' | ')' | '\''))
                .unwrap_or(candidate.len());
            urls.push(candidate[..end].trim_end_matches(['.', ',']).to_owned());
            rest = &candidate[end..];
        } else {
            rest = &candidate[4..];
        }
    }
    urls
}

/// Every `href` of an HTML text, unescaped.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| {
            href.replace("&amp;", "&")
                .replace("&#x2f;", "/")
                .replace("&#47;", "/")
        })
        .collect()
}

/// The https/http URLs of a `List-Unsubscribe` header value.
fn list_unsubscribe(value: &str) -> Vec<String> {
    value
        .split('<')
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter(|url| url.starts_with("http"))
        .map(str::to_owned)
        .collect()
}

/// The `List-Unsubscribe` header of a raw message, unfolded.
fn raw_list_unsubscribe(raw: &str) -> Vec<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .lines()
        .filter_map(|line| line.strip_prefix("List-Unsubscribe:"))
        .flat_map(list_unsubscribe)
        .collect()
}

/// Fetches `url` as a scanner: GET and HEAD with every agent, following redirects, and
/// the links of the pages it lands on (one level: what the page links to, such as the
/// confirming steps of stopping processing and erasure). Returns what was fetched.
fn scan(url: &str, origin: &str, fetched: &mut BTreeSet<String>) {
    let mut queue = vec![(url.to_owned(), 0)];
    while let Some((url, depth)) = queue.pop() {
        if !url.starts_with(origin) || !fetched.insert(url.clone()) {
            continue;
        }
        for method in ["GET", "HEAD"] {
            for agent in AGENTS {
                let mut at = url.clone();
                for _ in 0..5 {
                    let answer = fetch(method, &at, agent);
                    assert!(
                        answer.status < 500,
                        "{method} {at} as {agent:?}: {}",
                        answer.status
                    );
                    if let Some(location) = header(&answer, "location") {
                        at = if location.starts_with('/') {
                            format!("{origin}{location}")
                        } else {
                            location.to_owned()
                        };
                        continue;
                    }
                    if method == "GET" && depth == 0 {
                        for href in hrefs(&answer.body) {
                            let next = if href.starts_with('/') {
                                format!("{origin}{href}")
                            } else {
                                href
                            };
                            queue.push((next, depth + 1));
                        }
                    }
                    break;
                }
            }
        }
    }
}

fn value_of(guard: &Guard, id: &str) -> Option<ConsentValue> {
    guard
        .subject(&contact(id))
        .expect("call")?
        .consents
        .into_iter()
        .find(|consent| consent.consent_id == "email-marketing")
        .map(|consent| consent.value)
}

#[test]
fn fetching_every_link_of_every_mail_as_a_scanner_changes_nothing_and_only_the_form_confirms() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    let preferences = server.preferences_url();
    let origin = format!("http://{}", server.address);
    let mut configured = settings(&preferences);
    configured.requests.remind_after_days = 1;
    configured.requests.reminders = 1;
    configured.requests.lapse_after_days = 7;
    guard
        .set_settings(&configured)
        .expect("call")
        .expect("settings");
    guard
        .put_consent(&email_marketing_consent(), None)
        .expect("call")
        .expect("consent");
    guard.enable(true).expect("call").expect("enabled");
    import_csv(
        &guard,
        "contacts",
        "name,email\nAda Lovelace,ada@example.com\nGrace Hopper,grace@example.com\nEdsger Dijkstra,edsger@example.com\n",
    );
    // Day one: a request each. Ada agrees on the page (a confirmation), Edsger stops
    // processing (a notice).
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let link_of = |address: &str| {
        host.mails()
            .iter()
            .find(|mail| mail.to == [address])
            .and_then(|mail| mail.link(&preferences))
            .unwrap_or_else(|| panic!("{address}'s link"))
    };
    let ada = link_of("ada@example.com");
    let agreed = http_post_form(&ada, &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(agreed.status, 200, "{}", agreed.body);
    let edsger = link_of("edsger@example.com");
    let stopped =
        http_post_form(&format!("{edsger}/stop-processing"), &[("confirm", "yes")]).expect("POST");
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    // Day three: Grace, who did not answer, is reminded; then she asks for her link again.
    host.set_now("2026-12-03T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let mails_before_link = host.mails().len();
    let again = http_post_form(
        &format!("{preferences}link"),
        &[("address", "grace@example.com")],
    )
    .expect("POST");
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        host.mails().len(),
        mails_before_link + 1,
        "Grace's new link"
    );
    // A marketing mail to Ada, rendered with her footer and List-Unsubscribe.
    let Rendering::Send(marketing) = guard
        .render(
            &SendRequest {
                class: MessageClass::Marketing,
                purpose: Some("email-marketing".into()),
            },
            &MailContent {
                message_id: None,
                subject: "December news".into(),
                text_body: "Our news: https://www.example.org/news\n".into(),
                html_body: Some(
                    "<html><body><p><a href=\"https://www.example.org/news\">News</a></p></body></html>"
                        .into(),
                ),
            },
            &[Recipient {
                address: "ada@example.com".into(),
                role: RecipientRole::To,
                person: None,
            }],
        )
        .remove(0)
    else {
        panic!("Ada agreed to marketing");
    };

    let mails = host.mails();
    let subjects: Vec<&str> = mails.iter().map(|mail| mail.subject.as_str()).collect();
    eprintln!("mails: {subjects:?}");
    assert!(
        mails.len() >= 7,
        "requests, a reminder, a confirmation, a notice, a link: {subjects:?}"
    );
    let mut links: Vec<String> = Vec::new();
    for mail in &mails {
        links.extend(urls_in_text(&mail.text));
        links.extend(hrefs(&mail.html));
        links.extend(raw_list_unsubscribe(&mail.raw));
    }
    links.extend(urls_in_text(&marketing.text_body));
    links.extend(hrefs(marketing.html_body.as_deref().unwrap_or_default()));
    let unsubscribe: Vec<String> = marketing
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("List-Unsubscribe"))
        .flat_map(|(_, value)| list_unsubscribe(value))
        .collect();
    assert_eq!(unsubscribe.len(), 1, "{:?}", marketing.headers);
    links.extend(unsubscribe);
    let ours: BTreeSet<&String> = links
        .iter()
        .filter(|url| url.starts_with(&origin))
        .collect();
    assert!(ours.len() >= 6, "{ours:#?}");

    let before = state(&host, &guard);
    assert_eq!(value_of(&guard, "2"), Some(ConsentValue::Waiting));
    let mut fetched = BTreeSet::new();
    for url in &ours {
        scan(url, &origin, &mut fetched);
    }
    eprintln!(
        "{} URLs fetched, each with GET and HEAD as {} agents",
        fetched.len(),
        AGENTS.len()
    );
    for step in ["/stop-processing", "/erase", "/unsubscribe/email-marketing"] {
        assert!(
            fetched.iter().any(|url| url.ends_with(step)),
            "the scan reached {step}: {fetched:#?}"
        );
    }
    assert_eq!(state(&host, &guard), before, "a scanner changed something");

    // Grace's double opt-in counts only when she posts the page's form.
    let grace = host
        .mails()
        .iter()
        .rev()
        .find(|mail| mail.to == ["grace@example.com"])
        .and_then(|mail| mail.link(&preferences))
        .expect("Grace's newest link");
    let confirmed = http_post_form(&grace, &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(value_of(&guard, "2"), Some(ConsentValue::Granted));
    let after = state(&host, &guard);
    assert!(
        after.events.len() > before.events.len(),
        "her answer is an event"
    );
    let answer = &after.events[before.events.len()..];
    assert!(
        answer
            .iter()
            .any(|(_, _, payload)| payload.contains("preferences") || payload.contains("page")),
        "{answer:#?}"
    );
}
