# Mails of Privacy Guard, in English. Every message another language or a tenant's
# template overrides must keep its variables; the messages marked "needs $link" are
# refused without it (plugin/core/src/localisation.rs).
#
# Variables are inserted as given in text mails and escaped in HTML mails; messages whose
# name ends in -html hold HTML.

## Shared

greeting = Hello { $name },
greeting-anonymous = Hello,
signature = { $sender }
postal-footer =
    { $organisation }
    { $address }

## The consent request and its reminders

request-subject = { $organisation } asks for your consent
reminder-subject = Reminder: { $organisation } asks for your consent
reminder-intro = We asked you on { $asked } and have not heard from you yet, so we ask once more.
request-intro = { $organisation } asks for your consent to use your personal data for the purposes below. Please tell us what you allow. You can change your choices at any time, as easily as you make them.
request-purpose = { $title } (purpose text version { $version })
request-purpose-changed = You agreed to version { $agreed } of this text. It has changed, so we ask you again.
request-purpose-renew = Your agreement to this ends on { $expires }. To keep it, please agree again.
# needs $link
request-link = Choose what you allow on your preferences page:
    { $link }
# needs $link
request-link-html = <a href="{ $link }">Choose what you allow on your preferences page</a><br>{ $link }
request-link-personal = This link is personal. It works until { $expires } (UTC).

## The confirmation of a change

confirmation-subject = Your privacy choices at { $organisation } were updated
confirmation-intro = on { $date } (UTC) { $organisation } recorded these changes to your privacy choices:
confirmation-consent = - { $title }: { $value ->
        [granted] granted
        [not-granted] not granted (withdrawn or refused)
        [waiting] waiting for your answer
        [applicable] not asked yet
       *[not-applicable] does not apply to you
    }
confirmation-processing-stopped = - You asked us to stop processing your personal data: we keep it stored, and use it only where the law obliges us to.
# needs $link
confirmation-review = You can review and change your choices at any time:
    { $link }
confirmation-not-you = If you did not make this change, please reply to this email.

## The notice that a restriction of processing was lifted

lift-subject = { $organisation } resumes processing your data
lift-intro = you asked { $organisation } to stop processing your personal data. We have lifted this restriction, for this reason:
lift-outro = Your earlier choices about your consents apply again. If you disagree, please reply to this email.

## The footer of mail sent through the CRM

# needs $link
footer-preferences = Choose what you receive and what you allow on your preferences page:
    { $link }
# needs $link
footer-preferences-html = Choose what you receive and what you allow on <a href="{ $link }">your preferences page</a>:<br>{ $link }

## The link sent again when asked for

link-again-subject = Your preferences page at { $organisation }
link-again-intro = you (or someone giving your email address) asked { $organisation } for a new link to your preferences page. Here it is.
# needs $link
link-again-link = Choose what you allow on your preferences page:
    { $link }
# needs $link
link-again-link-html = <a href="{ $link }">Choose what you allow on your preferences page</a><br>{ $link }
link-again-not-you = If you did not ask for it, you can ignore this email: nothing changes unless you use the link.
