# E-Mails von Privacy Guard, auf Deutsch. Jede Nachricht, die eine andere Sprache oder die
# Vorlage eines Mandanten überschreibt, muss ihre Variablen behalten; die mit „needs $link“
# markierten Nachrichten werden ohne sie abgelehnt (plugin/core/src/localisation.rs).
#
# Variablen werden in Text-E-Mails unverändert eingesetzt und in HTML-E-Mails maskiert;
# Nachrichten, deren Name auf -html endet, enthalten HTML.

## Gemeinsam

greeting = Guten Tag { $name },
greeting-anonymous = Guten Tag,
signature = { $sender }
postal-footer =
    { $organisation }
    { $address }

## Die Bitte um Einwilligung und die Erinnerungen

request-subject = { $organisation } bittet um Ihre Einwilligung
reminder-subject = Erinnerung: { $organisation } bittet um Ihre Einwilligung
reminder-intro = wir haben Sie am { $asked } um Ihre Einwilligung gebeten und noch keine Antwort erhalten. Daher fragen wir noch einmal nach.
request-intro = { $organisation } bittet um Ihre Einwilligung in die Verarbeitung Ihrer personenbezogenen Daten für die unten genannten Zwecke. Bitte teilen Sie uns mit, was Sie erlauben. Sie können Ihre Auswahl jederzeit ändern, und zwar ebenso einfach, wie Sie sie treffen.
request-purpose = { $title } (Version { $version } der Zweckbeschreibung)
request-purpose-changed = Sie haben Version { $agreed } dieses Textes zugestimmt. Da er sich geändert hat, fragen wir Sie erneut.
request-purpose-renew = Ihre Einwilligung hierzu endet am { $expires }. Wenn Sie sie behalten möchten, willigen Sie bitte erneut ein.
# needs $link
request-link = Wählen Sie auf Ihrer Einstellungsseite, was Sie erlauben:
    { $link }
# needs $link
request-link-html = <a href="{ $link }">Wählen Sie auf Ihrer Einstellungsseite, was Sie erlauben</a><br>{ $link }
request-link-personal = Dieser Link ist persönlich. Er ist bis zum { $expires } (UTC) gültig.

## Die Bestätigung einer Änderung

confirmation-subject = Ihre Datenschutzeinstellungen bei { $organisation } wurden aktualisiert
confirmation-intro = am { $date } (UTC) hat { $organisation } folgende Änderungen an Ihren Datenschutzeinstellungen erfasst:
confirmation-consent = - { $title }: { $value ->
        [granted] erteilt
        [not-granted] nicht erteilt (widerrufen oder verweigert)
        [waiting] Ihre Antwort steht noch aus
        [applicable] noch nicht erfragt
       *[not-applicable] betrifft Sie nicht
    }
confirmation-processing-stopped = - Sie haben uns gebeten, die Verarbeitung Ihrer personenbezogenen Daten einzustellen: Wir speichern sie weiterhin, verwenden sie aber nur noch, soweit wir gesetzlich dazu verpflichtet sind.
# needs $link
confirmation-review = Sie können Ihre Auswahl jederzeit einsehen und ändern:
    { $link }
confirmation-not-you = Falls Sie diese Änderung nicht selbst vorgenommen haben, antworten Sie bitte auf diese E-Mail.

## Die Mitteilung, dass eine Einschränkung der Verarbeitung aufgehoben wurde

lift-subject = { $organisation } verarbeitet Ihre Daten wieder
lift-intro = Sie hatten { $organisation } gebeten, die Verarbeitung Ihrer personenbezogenen Daten einzustellen. Wir haben diese Einschränkung aus folgendem Grund aufgehoben:
lift-outro = Ihre früheren Entscheidungen zu Ihren Einwilligungen gelten wieder. Wenn Sie damit nicht einverstanden sind, antworten Sie bitte auf diese E-Mail.

## Die Fußzeile von E-Mails, die über das CRM versendet werden

# needs $link
footer-preferences = Wählen Sie auf Ihrer Einstellungsseite, was Sie erhalten und was Sie erlauben:
    { $link }
# needs $link
footer-preferences-html = Wählen Sie auf <a href="{ $link }">Ihrer Einstellungsseite</a>, was Sie erhalten und was Sie erlauben:<br>{ $link }

## Der erneut zugesandte Link

link-again-subject = Ihre Einstellungsseite bei { $organisation }
link-again-intro = Sie (oder jemand, der Ihre E-Mail-Adresse angegeben hat) haben { $organisation } um einen neuen Link zu Ihrer Einstellungsseite gebeten. Hier ist er.
# needs $link
link-again-link = Wählen Sie auf Ihrer Einstellungsseite, was Sie erlauben:
    { $link }
# needs $link
link-again-link-html = <a href="{ $link }">Wählen Sie auf Ihrer Einstellungsseite, was Sie erlauben</a><br>{ $link }
link-again-not-you = Wenn Sie ihn nicht angefordert haben, können Sie diese E-Mail ignorieren: Ohne den Link ändert sich nichts.
