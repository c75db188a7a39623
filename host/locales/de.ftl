# Die Einstellungsseite von Privacy Guard, auf Deutsch (host/src/http/page.rs). Variablen
# werden von der Vorlage der Seite maskiert.

page-title = Ihre Datenschutzeinstellungen
page-title-with = Ihre Datenschutzeinstellungen bei { $organisation }
page-intro = { $organisation } bittet um Ihre Einwilligung zu den unten genannten Zwecken. Sie können Ihre Entscheidung auf dieser Seite jederzeit ändern.
page-intro-anonymous = Wir bitten um Ihre Einwilligung zu den unten genannten Zwecken. Sie können Ihre Entscheidung auf dieser Seite jederzeit ändern.
page-hello = Guten Tag { $name }.
page-current-choice = Aktuelle Auswahl:
page-purpose-version = Version { $version } der Zweckbeschreibung
page-agree = Ich willige ein
page-disagree = Ich willige nicht ein
page-save = Meine Auswahl speichern
page-nothing-asked = Derzeit wird keine Einwilligung von Ihnen erbeten.
page-agreed-corrected = Sie haben Version { $version } dieses Textes zugestimmt. Er wurde seitdem korrigiert; Ihre Entscheidung bleibt bestehen.
page-agreed-changed = Sie haben Version { $version } dieses Textes zugestimmt. Da er sich geändert hat, fragen wir Sie erneut: Oben steht der neue Text.
page-restricted = Sie haben uns gebeten, die Verarbeitung Ihrer Daten einzustellen. Ihre Auswahl kann erst geändert werden, wenn diese Einschränkung aufgehoben ist; wir informieren Sie vorher per E-Mail.
page-rights = Ihre Rechte
page-stop-link = Verarbeitung meiner Daten einstellen…
page-stop-explained = Wir verwenden Ihre Daten nicht mehr (Art. 18 DSGVO) und senden Ihnen nur noch, was gesetzlich vorgeschrieben ist. Sie bestätigen dies auf der nächsten Seite.
page-erase-link = Meine Daten löschen…
page-erase-explained = Wir löschen Ihre Daten (Art. 17 DSGVO), soweit wir sie nicht gesetzlich aufbewahren müssen, und kontaktieren Sie nie wieder. Sie bestätigen dies auf der nächsten Seite.
page-receipts = Belege Ihrer Antworten
page-receipt-link = Signierter Beleg: { $consent }
page-receipts-explained = Jeder Beleg hält eine Antwort fest und ist von uns signiert: Bewahren Sie ihn als Nachweis auf, was Sie wann gewählt haben.
page-link-personal = Dieser Link ist persönlich und bis zum { $expires } gültig. Bitte leiten Sie ihn nicht weiter.
page-language = Sprache
page-new-link = Neuen Link zusenden

link-title = Neuen Link zu Ihren Einstellungen anfordern
link-intro = Geben Sie die E-Mail-Adresse ein, an die wir Ihnen schreiben. Wenn sie uns bekannt ist, senden wir einen neuen persönlichen Link an sie.
link-address = Ihre E-Mail-Adresse
link-button = Neuen Link zusenden

value-not-applicable = Betrifft Sie nicht
value-applicable = Noch nicht erfragt
value-waiting = Ihre Antwort steht noch aus
value-granted = Sie haben eingewilligt
value-not-granted = Sie haben nicht eingewilligt

notice-saved = Ihre Auswahl wurde gespeichert. Vielen Dank.
notice-stopped = Wir haben die Verarbeitung Ihrer Daten eingestellt. Wir senden Ihnen nur noch, was gesetzlich vorgeschrieben ist (etwa Rechnungen).
notice-erased = Ihre Daten wurden gelöscht. Wir bewahren nur auf, was gesetzlich vorgeschrieben ist, sowie einen Vermerk über Ihren Löschantrag, damit wir Sie nie wieder kontaktieren.
notice-link-sent = Vielen Dank. Wenn uns diese Adresse bekannt ist, ist ein neuer Link an sie unterwegs; das kann einige Minuten dauern, bitte sehen Sie auch im Spam-Ordner nach. Zum Schutz Ihrer Privatsphäre sagen wir hier nicht, ob sie uns bekannt ist.

problem-answer = Die Antwort zu „{ $consent }“ muss eine Zustimmung oder eine Ablehnung sein.
problem-not-changeable = „{ $consent }“ kann hier nicht geändert werden. Es wurde nichts geändert; bitte prüfen Sie Ihre Auswahl und speichern Sie erneut.
problem-restricted = Sie haben uns gebeten, die Verarbeitung Ihrer Daten einzustellen; daher kann Ihre Auswahl derzeit nicht geändert werden. Es wurde nichts geändert. Bitte wenden Sie sich an uns, um die Einschränkung aufheben zu lassen.
problem-already-stopped = Die Verarbeitung Ihrer Daten ist bereits eingestellt. Es wurde nichts geändert.
problem-cannot-erase = Ihre Daten können nicht über diese Seite gelöscht werden. Es wurde nichts geändert.
problem-link-invalid = Dieser Link ist ungültig. Bitte verwenden Sie den Link aus unserer neuesten E-Mail genau so, wie er darin steht.
problem-link-expired = Dieser Link ist abgelaufen. Sie erhalten mit unserer nächsten E-Mail einen neuen Link oder können ihn bei uns anfordern.
problem-unknown-person = Wir haben keine Daten mehr über Sie gespeichert, daher gibt es nichts auszuwählen.
problem-unavailable = Ihre Einstellungen können derzeit nicht angezeigt werden. Es wurde nichts geändert; bitte versuchen Sie es in einigen Minuten erneut.
problem-link-address = Bitte geben Sie eine E-Mail-Adresse ein, etwa name@example.com. Es wurde nichts gesendet.
problem-cross-site = Dieses Formular wurde nicht von unserer Einstellungsseite gesendet, daher wurde nichts geändert. Bitte öffnen Sie den Link aus Ihrer E-Mail und verwenden Sie die Schaltflächen auf dieser Seite.
problem-too-many = Von Ihrer Verbindung kamen zu viele Anfragen. Es wurde nichts geändert; bitte versuchen Sie es in einigen Minuten erneut.

confirm-stop-title = Verarbeitung Ihrer Daten einstellen?
confirm-stop-1 = Wir verwenden Ihre personenbezogenen Daten nicht mehr (Art. 18 DSGVO): keine Newsletter, keine Kampagnen, keine automatisierten E-Mails.
confirm-stop-2 = Gesetzlich vorgeschriebene Mitteilungen wie Rechnungen senden wir Ihnen weiterhin.
confirm-stop-3 = Ihre Auswahl auf dieser Seite kann erst wieder geändert werden, wenn wir die Einschränkung aufheben; darüber informieren wir Sie vorher per E-Mail.
confirm-stop-button = Ja, Verarbeitung meiner Daten einstellen
confirm-erase-title = Ihre Daten löschen?
confirm-erase-1 = Wir löschen Ihre personenbezogenen Daten (Art. 17 DSGVO), soweit wir sie nicht gesetzlich aufbewahren müssen, etwa Angaben auf Rechnungen.
confirm-erase-2 = Dies kann nicht rückgängig gemacht werden. Dieser Link funktioniert danach nicht mehr, und wir kontaktieren Sie unter dieser Adresse nie wieder.
confirm-erase-3 = Wir bewahren nur einen Vermerk über Ihren Löschantrag auf, ohne Ihre Adresse, damit wir ihn dauerhaft beachten können.
confirm-erase-button = Ja, meine Daten löschen
confirm-back = Nein, alles so lassen, wie es ist

unsubscribed = Sie sind abgemeldet.
