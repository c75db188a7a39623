//! Languages through the real component in the real host: each person is written to in the
//! language their record names (else the tenant's default), in every mail (request,
//! confirmation, footer) and on the page, with the consent's translation where it has one
//! and the tenant's template over the built-in words; a template that would break a mail
//! is refused when saved.

use privacy_guard_host::contract::configuration::{
    ConsentDefinition, LanguageRules, Settings, Template, Translation,
};
use privacy_guard_host::contract::sending::{
    MailContent, MessageClass, Recipient, RecipientRole, Rendering, SendRequest,
};
use privacy_guard_host::guard::Guard;
use privacy_guard_tests::scenario::import_csv;
use privacy_guard_tests::{
    Mail, TestHost, email_marketing_consent, http_call, http_get, http_post_form, served_host,
    settings,
};

const GERMAN_SUBJECT: &str =
    "request-subject = { $organisation } möchte wissen, was Sie erlauben\n";

fn languages(templates: Vec<Template>) -> LanguageRules {
    LanguageRules {
        field: "language".into(),
        default_language: "en".into(),
        templates,
    }
}

fn multilingual_settings(preferences_url: &str) -> Settings {
    Settings {
        languages: languages(vec![Template {
            language: "de".into(),
            ftl: GERMAN_SUBJECT.into(),
        }]),
        ..settings(preferences_url)
    }
}

/// The newsletter, in English with German and French translations (no Spanish one).
fn newsletter() -> ConsentDefinition {
    ConsentDefinition {
        translations: vec![
            Translation {
                language: "de".into(),
                title: "Neuigkeiten per E-Mail".into(),
                purpose: "Wir senden Ihnen höchstens zweimal im Monat unseren Newsletter.".into(),
            },
            Translation {
                language: "fr".into(),
                title: "Actualités par e-mail".into(),
                purpose:
                    "Nous vous envoyons notre lettre d'information deux fois par mois au plus."
                        .into(),
            },
        ],
        ..email_marketing_consent()
    }
}

fn request_to(host: &TestHost, address: &str) -> Mail {
    host.mails()
        .into_iter()
        .find(|mail| mail.to == [address] && mail.message_id.starts_with("consent-request."))
        .unwrap_or_else(|| panic!("no request to {address}"))
}

fn configure(guard: &Guard, preferences_url: &str) {
    guard
        .set_settings(&multilingual_settings(preferences_url))
        .expect("call")
        .expect("settings");
    guard
        .put_consent(&newsletter(), None)
        .expect("call")
        .expect("consent");
    guard.enable(true).expect("call").expect("enabled");
}

#[test]
fn every_person_reads_mails_and_the_page_in_their_language() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    configure(&guard, &server.preferences_url());
    import_csv(
        &guard,
        "contacts",
        "name,email,language\n\
         Ada,ada@example.com,en\n\
         Bernd,bernd@example.com,de-AT\n\
         Claire,claire@example.com,FR\n\
         Diego,diego@example.com,es\n\
         Eva,eva@example.com,pt\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");

    // Each person's language, as staff see it.
    for (id, language) in [
        ("1", "en"),
        ("2", "de"),
        ("3", "fr"),
        ("4", "es"),
        ("5", "en"),
    ] {
        let subject = guard
            .subject(&privacy_guard_tests::scenario::contact(id))
            .expect("call")
            .expect("known");
        assert_eq!(subject.language, language, "contacts/{id}");
    }

    // The request: the tenant's German subject, the built-in words of each language, the
    // consent's translation where it has one.
    let bernd = request_to(&host, "bernd@example.com");
    assert_eq!(bernd.subject, "Example Ltd möchte wissen, was Sie erlauben");
    assert!(bernd.text.starts_with("Guten Tag Bernd,"), "{}", bernd.text);
    assert!(
        bernd
            .text
            .contains("Wir senden Ihnen höchstens zweimal im Monat")
    );
    assert!(bernd.html.contains("<html lang=\"de\">"), "{}", bernd.html);
    let claire = request_to(&host, "claire@example.com");
    assert!(
        claire.subject.contains("sollicite votre consentement"),
        "{}",
        claire.subject
    );
    assert!(
        claire.text.contains("Actualités par e-mail"),
        "{}",
        claire.text
    );
    let diego = request_to(&host, "diego@example.com");
    assert!(
        diego.subject.contains("solicita su consentimiento"),
        "{}",
        diego.subject
    );
    assert!(
        diego.text.contains(&email_marketing_consent().purpose),
        "no Spanish translation: the English text, in Spanish words: {}",
        diego.text
    );
    for address in ["ada@example.com", "eva@example.com"] {
        let mail = request_to(&host, address);
        assert_eq!(
            mail.subject, "Example Ltd asks for your consent",
            "{address}"
        );
    }

    // The page: the person's language, the consent's translation, what is not translated
    // marked as English.
    let link = |mail: &Mail| mail.link(&server.preferences_url()).expect("link");
    let page = http_get(&link(&bernd)).expect("GET");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<html lang=\"de\">"), "{}", page.body);
    assert!(page.body.contains("<h1>Ihre Datenschutzeinstellungen</h1>"));
    assert!(
        page.body
            .contains("<legend>Neuigkeiten per E-Mail</legend>"),
        "{}",
        page.body
    );
    let page = http_get(&link(&diego)).expect("GET");
    assert!(
        page.body
            .contains("<h1>Sus preferencias de privacidad</h1>")
    );
    assert!(
        page.body
            .contains("<legend lang=\"en\">News and offers by email</legend>"),
        "{}",
        page.body
    );

    // Saving on the page: the confirmation mail in the person's language.
    let saved = http_post_form(&link(&claire), &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert!(saved.body.contains("<html lang=\"fr\">"));
    let confirmation = host
        .mails()
        .into_iter()
        .find(|mail| {
            mail.to == ["claire@example.com"] && mail.message_id.starts_with("change-confirmation.")
        })
        .expect("a confirmation");
    assert!(
        confirmation
            .subject
            .starts_with("Vos choix de confidentialité"),
        "{}",
        confirmation.subject
    );

    // Marketing through the CRM: Claire's footer is French.
    let request = SendRequest {
        class: MessageClass::Marketing,
        purpose: Some("email-marketing".into()),
    };
    let content = MailContent {
        message_id: None,
        subject: "Nouvelles".into(),
        text_body: "Bonjour.\n".into(),
        html_body: None,
    };
    let to = [Recipient {
        address: "claire@example.com".into(),
        role: RecipientRole::To,
        person: None,
    }];
    let Rendering::Send(rendered) = guard.render(&request, &content, &to).remove(0) else {
        panic!("Claire granted the consent");
    };
    assert!(
        rendered
            .text_body
            .contains("Choisissez ce que vous recevez et ce que vous autorisez"),
        "{}",
        rendered.text_body
    );

    // One-click unsubscription answers in the person's language.
    let saved = http_post_form(&link(&diego), &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(saved.status, 200);
    let unsubscribe = format!("{}/unsubscribe/email-marketing", link(&diego));
    let answer = http_call(
        "POST",
        &unsubscribe,
        &[],
        Some((
            "application/x-www-form-urlencoded",
            b"List-Unsubscribe=One-Click".as_slice(),
        )),
    )
    .expect("POST");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, "Se ha cancelado su suscripción.");

    // A link for nobody answers in the browser's language.
    let wrong = http_call(
        "GET",
        &format!("{}nothing.here", server.preferences_url()),
        &[("Accept-Language", "fr-CH, de;q=0.5")],
        None,
    )
    .expect("GET");
    assert_eq!(wrong.status, 404);
    assert!(wrong.body.contains("<html lang=\"fr\">"), "{}", wrong.body);
}

#[test]
fn a_template_that_would_break_a_mail_is_refused_naming_the_problem_and_changes_nothing() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host");
    configure(&guard, "http://127.0.0.1:9/preferences/");
    let refused = |ftl: &str| {
        guard
            .set_settings(&Settings {
                languages: languages(vec![Template {
                    language: "fr".into(),
                    ftl: ftl.into(),
                }]),
                ..settings("http://127.0.0.1:9/preferences/")
            })
            .expect("call")
            .expect_err("refused")
    };
    for (ftl, expected) in [
        (
            "request-subject = { $organization } vous demande\n",
            "$organization",
        ),
        ("request-link = Choisissez sur la page.\n", "{ $link }"),
        ("request-subjet = Bonjour\n", "request-subjet"),
        ("request-subject = { $organisation\n", "not Fluent"),
    ] {
        let problems = refused(ftl);
        assert_eq!(problems[0].at, "languages.templates[fr]", "{ftl}");
        assert!(
            problems[0].message.contains(expected),
            "{ftl}: {problems:?}"
        );
    }
    let problems = guard
        .set_settings(&Settings {
            languages: LanguageRules {
                default_language: "pt".into(),
                ..languages(Vec::new())
            },
            ..settings("http://127.0.0.1:9/preferences/")
        })
        .expect("call")
        .expect_err("refused");
    assert_eq!(problems[0].at, "languages.default");
    assert!(
        problems[0].message.contains("en, de, fr, es"),
        "{problems:?}"
    );
    // Nothing changed: the German template saved before is still in force.
    let stored = guard
        .configuration()
        .expect("configuration")
        .settings
        .expect("settings");
    assert_eq!(stored.languages.templates[0].ftl, GERMAN_SUBJECT);
}
