//! Bounces and complaints as they really come back (issue 14, part 1): the host's consent
//! requests go out through a real SMTP server (aiosmtpd); DSNs and ARF reports written as
//! an MTA and a mailbox provider's feedback loop send them are posted over SMTP to a second
//! aiosmtpd whose Maildir is the bounce mailbox; `feedback::maildir::intake` reads it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use privacy_guard_host::changes::ChangeKind;
use privacy_guard_host::contract::sending::{MessageClass, RecipientRole, RefusalReason};
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::feedback::maildir::{IntakeCounts, intake};
use privacy_guard_host::feedback::message::read_message;
use privacy_guard_host::guard::Guard;
use privacy_guard_tests::scenario::{decide_for, history_of, import_csv, refusal_of};
use privacy_guard_tests::{SmtpServer, TestHost, configure, operator};

const PREFERENCES: &str = "http://127.0.0.1:9/preferences/";

fn contact(id: &str) -> RecordRef {
    RecordRef {
        module: "contacts".into(),
        id: id.into(),
    }
}

fn aiosmtpd() -> SmtpServer {
    SmtpServer::start().unwrap_or_else(|error| panic!("{error:#}"))
}

/// Posts `message` over SMTP to `server` as an MTA would: from the null sender (`<>`, as
/// every DSN is sent) to `to`.
fn send(server: &SmtpServer, from: &str, to: &str, message: &str) {
    let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let mut expect = |code: &str| {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("reply");
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) == Some(&b' ') {
                break;
            }
        }
    };
    expect("220");
    let mut command = |text: &str, code: &str| {
        writer
            .write_all(format!("{text}\r\n").as_bytes())
            .expect("write");
        expect(code);
    };
    command("EHLO mx.example.net", "250");
    command(&format!("MAIL FROM:<{from}>"), "250");
    command(&format!("RCPT TO:<{to}>"), "250");
    command("DATA", "354");
    let mut data = String::new();
    for line in message.lines() {
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
    data.push('.');
    command(&data, "250");
    command("QUIT", "221");
}

/// A delivery status notification as Postfix writes one, about the mail `message_id`.
fn dsn(recipient: &str, action: &str, status: &str, diagnostic: &str, message_id: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r
To: bounces@example.org\r
Subject: Undelivered Mail Returned to Sender\r
Date: Tue, 1 Dec 2026 10:05:00 +0000\r
Message-ID: <20261201100500.ABC{status}@mx.example.net>\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status;\r
\tboundary=\"B1\"\r
\r
This is a MIME-encapsulated message.\r
\r
--B1\r
Content-Description: Notification\r
Content-Type: text/plain; charset=us-ascii\r
\r
I'm sorry to have to inform you that your message could not\r
be delivered to one or more recipients.\r
\r
--B1\r
Content-Description: Delivery report\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.example.net\r
X-Postfix-Queue-ID: ABC\r
Arrival-Date: Tue, 1 Dec 2026 10:04:58 +0000\r
\r
Final-Recipient: rfc822; {recipient}\r
Original-Recipient: rfc822;{recipient}\r
Action: {action}\r
Status: {status}\r
Remote-MTA: dns; mail.example.com\r
Diagnostic-Code: smtp; {diagnostic}\r
\r
--B1\r
Content-Description: Undelivered Message Headers\r
Content-Type: text/rfc822-headers\r
\r
From: Example Privacy Team <privacy@example.org>\r
To: {recipient}\r
Subject: Example Ltd asks for your consent\r
Message-ID: {message_id}\r
\r
--B1--\r
"
    )
}

/// An abuse report (ARF, RFC 5965) as a mailbox provider's feedback loop sends one, with
/// the original message attached.
fn arf(complainant: &str, message_id: &str) -> String {
    format!(
        "From: feedbackloop@fbl.mail.example.com\r
To: bounces@example.org\r
Subject: FW: Example Ltd asks for your consent\r
Date: Tue, 1 Dec 2026 11:00:00 +0000\r
Message-ID: <fbl-1@fbl.mail.example.com>\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=feedback-report; boundary=\"ARF\"\r
\r
--ARF\r
Content-Type: text/plain; charset=\"US-ASCII\"\r
\r
This is an email abuse report for an email message received from IP\r
192.0.2.1 on Tue, 1 Dec 2026 10:04:58 +0000.\r
\r
--ARF\r
Content-Type: message/feedback-report\r
\r
Feedback-Type: abuse\r
User-Agent: ExampleFBL/1.0\r
Version: 1\r
Original-Mail-From: <privacy@example.org>\r
Original-Rcpt-To: <{complainant}>\r
Arrival-Date: Tue, 1 Dec 2026 10:04:58 +0000\r
Source-IP: 192.0.2.1\r
Reported-Domain: example.org\r
\r
--ARF\r
Content-Type: message/rfc822\r
Content-Disposition: inline\r
\r
From: Example Privacy Team <privacy@example.org>\r
To: {complainant}\r
Subject: Example Ltd asks for your consent\r
Message-ID: {message_id}\r
Date: Tue, 1 Dec 2026 10:04:58 +0000\r
\r
The body the complainant saw.\r
\r
--ARF--\r
"
    )
}

fn message_id_of(server: &SmtpServer, to: &str) -> String {
    let mail = server
        .mails()
        .into_iter()
        .find(|mail| mail.to.iter().any(|address| address == to))
        .unwrap_or_else(|| panic!("a request to {to}"));
    format!("<{}>", mail.message_id.trim_matches(['<', '>']))
}

fn files(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn marketing(guard: &Guard, address: &str) -> Option<RefusalReason> {
    refusal_of(&decide_for(
        guard,
        MessageClass::Marketing,
        Some("email-marketing"),
        address,
        RecipientRole::To,
    ))
}

fn feed(guard: &Guard) -> Vec<(ChangeKind, String)> {
    guard
        .changes(0, 10_000)
        .expect("call")
        .expect("cursor")
        .changes
        .into_iter()
        .filter(|change| {
            matches!(
                change.kind,
                ChangeKind::Bounced | ChangeKind::Complained | ChangeKind::Unsubscribed
            )
        })
        .map(|change| (change.kind, change.person.map(|p| p.id).unwrap_or_default()))
        .collect()
}

#[test]
fn returned_mail_read_from_the_maildir_stops_marketing_with_the_evidence() {
    let outgoing = aiosmtpd();
    let returned = aiosmtpd();
    let mut host = TestHost::new("2026-12-01T09:00:00Z");
    host.transport = outgoing.transport();
    let guard = host.open().expect("host opens");
    configure(&guard, PREFERENCES);
    import_csv(
        &guard,
        "contacts",
        "name,email\nAda,ada@example.com\nBen,ben@example.com\nCy,cy@example.com\n",
    );
    // The day's requests go out over SMTP.
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    assert_eq!(outgoing.mails().len(), 3);
    for id in ["1", "2", "3"] {
        guard
            .record_decision(
                &contact(id),
                "email-marketing",
                true,
                &operator(),
                "signed form",
            )
            .expect("call")
            .expect("recorded");
    }
    let ada_request = message_id_of(&outgoing, "ada@example.com");
    let ben_request = message_id_of(&outgoing, "ben@example.com");
    let cy_request = message_id_of(&outgoing, "cy@example.com");

    // What comes back, as it comes back: to the bounce mailbox over SMTP.
    let ada_bounce = dsn(
        "ada@example.com",
        "failed",
        "5.1.1",
        "550 5.1.1 <ada@example.com>: Recipient address rejected: User unknown",
        &ada_request,
    );
    send(&returned, "", "bounces@example.org", &ada_bounce);
    send(
        &returned,
        "feedbackloop@fbl.mail.example.com",
        "bounces@example.org",
        &arf("ben@example.com", &ben_request),
    );
    send(
        &returned,
        "",
        "bounces@example.org",
        &dsn(
            "cy@example.com",
            "delayed",
            "4.2.2",
            "452 4.2.2 Mailbox full",
            &cy_request,
        ),
    );
    send(
        &returned,
        "ada@example.com",
        "bounces@example.org",
        "From: ada@example.com\r\nTo: bounces@example.org\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n",
    );
    send(
        &returned,
        "",
        "bounces@example.org",
        "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces@example.org\r\nSubject: broken\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"X\"\r\n\r\n--X\r\nContent-Type: text/plain\r\n\r\nNo status part.\r\n--X--\r\n",
    );

    let maildir = returned.maildir();
    let seen = std::cell::RefCell::new(Vec::new());
    let counts = intake(&guard, &maildir, None, &|name, said| {
        seen.borrow_mut().push(format!("{name}: {said}"))
    })
    .expect("intake");
    assert_eq!(
        counts,
        IntakeCounts {
            messages: 5,
            reports: 3,
            suppressed: 2,
            ignored: 1,
            rejected: 1,
            failed: 0,
        },
        "{:#?}",
        seen.borrow()
    );
    assert!(files(&maildir.join("new")).is_empty());
    assert_eq!(files(&maildir.join("cur")).len(), 4);
    let rejected = files(&maildir.join("rejected"));
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    let reason = rejected
        .iter()
        .find(|name| name.ends_with(".reason"))
        .map(|name| std::fs::read_to_string(maildir.join("rejected").join(name)).expect("reason"))
        .expect("a reason beside the message");
    assert!(reason.contains("message/delivery-status"), "{reason}");

    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Some(RefusalReason::InvalidAddress)
    );
    assert_eq!(
        marketing(&guard, "ben@example.com"),
        Some(RefusalReason::ConsentRefused)
    );
    assert_eq!(
        marketing(&guard, "cy@example.com"),
        None,
        "one soft bounce of five"
    );
    assert_eq!(
        refusal_of(&decide_for(
            &guard,
            MessageClass::Transactional,
            None,
            "ada@example.com",
            RecipientRole::To
        )),
        None
    );
    let event = history_of(&guard, &contact("1"))
        .into_iter()
        .find(|event| event["kind"] == "delivery-feedback")
        .expect("Ada's event");
    assert_eq!(event["feedback"], "hard-bounce");
    assert_eq!(event["source"], "dsn");
    assert_eq!(event["message-id"], ada_request.as_str());
    let evidence = event["evidence"].as_str().unwrap_or_default();
    assert!(evidence.contains("Status: 5.1.1"), "{evidence}");
    assert!(evidence.contains("User unknown"), "{evidence}");
    assert!(
        !evidence.contains("ada@"),
        "no address in the evidence: {evidence}"
    );
    let complaint = history_of(&guard, &contact("2"))
        .into_iter()
        .find(|event| event["kind"] == "delivery-feedback")
        .expect("Ben's event");
    assert_eq!(complaint["feedback"], "complaint");
    assert_eq!(complaint["source"], "arf");
    assert!(
        complaint["evidence"]
            .as_str()
            .is_some_and(|text| text.contains("Feedback-Type: abuse")),
        "{complaint}"
    );
    let changes = feed(&guard);
    assert_eq!(
        changes,
        [
            (ChangeKind::Bounced, "1".to_owned()),
            (ChangeKind::Complained, "2".to_owned())
        ]
    );

    // A second pass reads nothing; the same DSN again changes nothing.
    assert_eq!(
        intake(&guard, &maildir, None, &|_, _| {})
            .expect("intake")
            .messages,
        0
    );
    send(&returned, "", "bounces@example.org", &ada_bounce);
    let again = intake(&guard, &maildir, None, &|_, _| {}).expect("intake");
    assert_eq!((again.reports, again.suppressed), (1, 0));
    assert_eq!(feed(&guard), changes);

    // The next day's run asks none of them again: they answered (or bounced).
    host.set_now("2026-12-02T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    assert_eq!(outgoing.mails().len(), 3);
}

#[test]
fn relayed_and_delivered_notices_and_other_feedback_types_are_ignored_with_a_reason() {
    let delivered = dsn("ada@example.com", "delivered", "2.0.0", "250 ok", "<m@x>");
    assert!(matches!(read_message(delivered.as_bytes(), 0),
            privacy_guard_host::feedback::Reading::Ignored(reason) if reason.contains("delivered")),);
    let fraud =
        arf("ben@example.com", "<m@x>").replace("Feedback-Type: abuse", "Feedback-Type: fraud");
    assert!(matches!(read_message(fraud.as_bytes(), 0),
            privacy_guard_host::feedback::Reading::Ignored(reason) if reason.contains("fraud")),);
}

/// Arbitrary bytes, and real reports cut or mangled anywhere, never panic the reader: it
/// answers reports, ignored or malformed (bounded cases, a fixed seed).
#[test]
fn no_input_panics_the_reader() {
    let samples = [
        dsn("ada@example.com", "failed", "5.1.1", "550 no", "<m@x>"),
        arf("ben@example.com", "<m@x>"),
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..3000 {
        let sample = samples[round % 2].as_bytes();
        let mut bytes = sample[..(next() as usize % (sample.len() + 1))].to_vec();
        for _ in 0..(next() % 8) {
            if bytes.is_empty() {
                break;
            }
            let at = next() as usize % bytes.len();
            bytes[at] = next() as u8;
        }
        if round % 10 == 0 {
            bytes = (0..(next() % 512)).map(|_| next() as u8).collect();
        }
        let _ = read_message(&bytes, 0);
    }
}

#[test]
fn an_unsubscribe_mail_to_the_mailto_of_list_unsubscribe_stops_marketing_by_its_token() {
    use privacy_guard_host::contract::sending::{MailContent, Recipient, Rendering, SendRequest};
    let returned = aiosmtpd();
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    configure(&guard, PREFERENCES);
    import_csv(&guard, "contacts", "name,email\nAda,ada@example.com\n");
    guard
        .record_decision(&contact("1"), "email-marketing", true, &operator(), "form")
        .expect("call")
        .expect("recorded");
    let mut settings = guard.safeguard_settings().expect("settings");
    settings.unsubscribe_mailbox = "unsubscribe@example.org".into();
    guard
        .set_safeguard_settings(&settings)
        .expect("call")
        .expect("accepted");
    let rendering = guard
        .render(
            &SendRequest {
                class: MessageClass::Marketing,
                purpose: Some("email-marketing".into()),
            },
            &MailContent {
                message_id: Some("<news-1@example.org>".into()),
                subject: "December news".into(),
                text_body: "Our news.\n".into(),
                html_body: None,
            },
            &[Recipient {
                address: "ada@example.com".into(),
                role: RecipientRole::To,
                person: None,
            }],
        )
        .remove(0);
    let Rendering::Send(mail) = rendering else {
        panic!("Ada granted marketing: {rendering:?}");
    };
    let header = mail
        .headers
        .iter()
        .find(|(name, _)| name == "List-Unsubscribe")
        .map(|(_, value)| value.clone())
        .expect("List-Unsubscribe");
    let token = header
        .split("<mailto:unsubscribe@example.org?subject=unsubscribe%20")
        .nth(1)
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap_or_else(|| panic!("a mailto with the token in {header}"))
        .to_owned();

    // A mail program sends the unsubscribe mail, from whatever address the person uses.
    send(
        &returned,
        "ada.private@example.net",
        "unsubscribe@example.org",
        &format!(
            "From: Ada <ada.private@example.net>\r\nTo: unsubscribe@example.org\r\nSubject: unsubscribe {token}\r\nMessage-ID: <u-1@example.net>\r\n\r\n\r\n"
        ),
    );
    send(
        &returned,
        "mallory@example.net",
        "unsubscribe@example.org",
        "From: mallory@example.net\r\nTo: unsubscribe@example.org\r\nSubject: unsubscribe forged.token\r\n\r\n\r\n",
    );
    let counts = intake(&guard, &returned.maildir(), None, &|_, _| {}).expect("intake");
    assert_eq!(
        (counts.reports, counts.suppressed, counts.rejected),
        (1, 1, 1),
        "{counts:?}"
    );
    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Some(RefusalReason::ConsentRefused)
    );
    let event = history_of(&guard, &contact("1"))
        .into_iter()
        .find(|event| event["kind"] == "delivery-feedback")
        .expect("Ada's event");
    assert_eq!(event["feedback"], "unsubscribe");
    assert_eq!(event["source"], "mailto");
    assert!(
        !event.to_string().contains(&token),
        "the token is not kept: {event}"
    );
    assert_eq!(feed(&guard), [(ChangeKind::Unsubscribed, "1".to_owned())]);
}

/// The round trip with VERP: the host sends its requests with a return path naming each
/// mail; a bounce that comes back to it is attributed by it, even when it names another
/// address (a forward) or is no delivery report at all.
#[test]
fn a_bounce_to_the_verp_return_path_is_attributed_by_it() {
    use privacy_guard_host::mail::Transport;
    use privacy_guard_host::mail::smtp::SmtpSettings;
    let outgoing = aiosmtpd();
    let returned = aiosmtpd();
    let mut host = TestHost::new("2026-12-01T09:00:00Z");
    host.transport = Transport::Smtp(
        SmtpSettings::from_url(
            &format!("{}&return_path=bounces%40example.org", outgoing.url()),
            None,
        )
        .expect("URL"),
    );
    let guard = host.open().expect("host opens");
    configure(&guard, PREFERENCES);
    import_csv(
        &guard,
        "contacts",
        "name,email\nAda,ada@example.com\nBen,ben@example.com\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    for id in ["1", "2"] {
        guard
            .record_decision(&contact(id), "email-marketing", true, &operator(), "form")
            .expect("call")
            .expect("recorded");
    }
    let mails = outgoing.mails();
    assert_eq!(
        mails.len(),
        2,
        "{:?}",
        guard.undelivered_mail(10).map(|mail| mail
            .iter()
            .map(|m| m.last_error.clone())
            .collect::<Vec<_>>())
    );
    let return_path = |to: &str| {
        let mail = mails
            .iter()
            .find(|mail| mail.to.iter().any(|address| address == to))
            .expect("a request");
        let line = mail
            .raw
            .lines()
            .find_map(|line| line.strip_prefix("X-MailFrom: "))
            .expect("the envelope sender as the server saw it")
            .trim()
            .to_owned();
        assert!(
            line.starts_with("bounces+consent-request.") && line.ends_with("@example.org"),
            "{line}"
        );
        assert!(
            !line.contains(to.split('@').next().unwrap_or_default()),
            "{line}"
        );
        line
    };
    let ada_return = return_path("ada@example.com");
    let ben_return = return_path("ben@example.com");

    // Ada's mail was forwarded; the DSN names the forward's address.
    send(
        &returned,
        "",
        &ada_return,
        &dsn(
            "ada@old-employer.example",
            "failed",
            "5.1.1",
            "550 5.1.1 mailbox unavailable",
            "<unknown@x>",
        )
        .replace("To: bounces@example.org", &format!("To: {ada_return}")),
    );
    // Ben's server writes only words.
    send(
        &returned,
        "",
        &ben_return,
        &format!(
            "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\r\nTo: {ben_return}\r\nSubject: Mail delivery failed: returning message to sender\r\n\r\nThis message was created automatically by mail delivery software.\r\nA message that you sent could not be delivered.\r\n"
        ),
    );
    // An out-of-office reply to the return path is no bounce.
    send(
        &returned,
        "ben@example.com",
        &ben_return,
        &format!(
            "From: ben@example.com\r\nTo: {ben_return}\r\nAuto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n"
        ),
    );
    let counts = intake(
        &guard,
        &returned.maildir(),
        Some("bounces@example.org"),
        &|_, _| {},
    )
    .expect("intake");
    assert_eq!(
        (
            counts.reports,
            counts.suppressed,
            counts.ignored,
            counts.rejected
        ),
        (2, 2, 1, 0),
        "{counts:?}"
    );
    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Some(RefusalReason::InvalidAddress)
    );
    assert_eq!(
        marketing(&guard, "ben@example.com"),
        Some(RefusalReason::InvalidAddress)
    );
    let ben = history_of(&guard, &contact("2"))
        .into_iter()
        .find(|event| event["kind"] == "delivery-feedback")
        .expect("Ben's event");
    assert_eq!(ben["source"], "verp");
    assert!(
        ben["message-id"]
            .as_str()
            .is_some_and(|id| id.starts_with("<consent-request.")),
        "{ben}"
    );
}

/// A serving host's reader of the Maildir: mail that arrives while it runs is read by its
/// next pass, and it stops when asked.
#[test]
fn the_serving_hosts_reader_picks_up_returned_mail_as_it_arrives() {
    use privacy_guard_host::feedback::IntakeConfig;
    use privacy_guard_host::worker::intake_periodically;
    let returned = aiosmtpd();
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = Arc::new(host.open().expect("host opens"));
    configure(&guard, PREFERENCES);
    import_csv(&guard, "contacts", "name,email\nAda,ada@example.com\n");
    guard
        .record_decision(&contact("1"), "email-marketing", true, &operator(), "form")
        .expect("call")
        .expect("recorded");
    let runtime = privacy_guard_host::guard::io::runtime().expect("runtime");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let reader = runtime.spawn(intake_periodically(
        guard.clone(),
        IntakeConfig {
            maildir: returned.maildir(),
            return_path: None,
            poll_seconds: 1,
        },
        stopped,
    ));
    send(
        &returned,
        "",
        "bounces@example.org",
        &dsn(
            "ada@example.com",
            "failed",
            "5.2.1",
            "550 5.2.1 mailbox disabled",
            "<m-9@example.org>",
        ),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while marketing(&guard, "ada@example.com").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the reader did not read the DSN within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Some(RefusalReason::InvalidAddress)
    );
    stop.send_replace(true);
    runtime.block_on(reader).expect("the reader stops");
    assert!(files(&returned.maildir().join("new")).is_empty());
    assert_eq!(files(&returned.maildir().join("cur")).len(), 1);
}
