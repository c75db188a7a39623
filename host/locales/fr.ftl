# La page de préférences de Privacy Guard, en français (host/src/http/page.rs). Les
# variables sont échappées par le modèle de la page.

page-title = Vos préférences de confidentialité
page-title-with = Vos préférences de confidentialité auprès de { $organisation }
page-intro = { $organisation } sollicite votre consentement pour les finalités ci-dessous. Vous pouvez changer d’avis à tout moment sur cette page.
page-intro-anonymous = Nous sollicitons votre consentement pour les finalités ci-dessous. Vous pouvez changer d’avis à tout moment sur cette page.
page-hello = Bonjour { $name }.
page-current-choice = Choix actuel :
page-purpose-version = texte de la finalité, version { $version }
page-agree = J’accepte
page-disagree = Je n’accepte pas
page-save = Enregistrer mes choix
page-nothing-asked = Aucun consentement ne vous est demandé pour le moment.
page-agreed-corrected = Vous aviez accepté la version { $version } de ce texte. Il a été corrigé depuis ; votre choix reste valable.
page-agreed-changed = Vous aviez accepté la version { $version } de ce texte. Il a été modifié, c’est pourquoi nous vous posons à nouveau la question : le texte ci-dessus est la nouvelle version.
page-restricted = Vous nous avez demandé de cesser de traiter vos données. Vos choix ne peuvent pas être modifiés tant que cette limitation n’est pas levée ; nous vous en informerons au préalable par e-mail.
page-rights = Vos droits
page-stop-link = Cesser le traitement de mes données…
page-stop-explained = Nous cessons d’utiliser vos données (art. 18 du RGPD) et ne vous envoyons que ce que la loi impose. Vous confirmez sur la page suivante.
page-erase-link = Effacer mes données…
page-erase-explained = Nous effaçons vos données (art. 17 du RGPD), sauf celles que la loi nous impose de conserver, et ne vous contacterons plus jamais. Vous confirmez sur la page suivante.
page-receipts = Reçus de vos réponses
page-receipt-link = Reçu signé : { $consent }
page-receipts-explained = Chaque reçu consigne une réponse et porte notre signature : conservez-le comme preuve de ce que vous avez choisi et quand.
page-link-personal = Ce lien vous est personnel et reste valable jusqu’au { $expires }. Merci de ne pas le transférer.
page-language = Langue
page-new-link = M’envoyer un nouveau lien

link-title = Recevoir un nouveau lien vers vos préférences
link-intro = Saisissez l’adresse e-mail à laquelle nous vous écrivons. Si nous la connaissons, nous y envoyons un nouveau lien personnel.
link-address = Votre adresse e-mail
link-button = M’envoyer un nouveau lien

value-not-applicable = Ne vous concerne pas
value-applicable = Pas encore demandé
value-waiting = En attente de votre réponse
value-granted = Vous avez accepté
value-not-granted = Vous n’avez pas accepté

notice-saved = Vos choix ont été enregistrés. Merci.
notice-stopped = Nous avons cessé de traiter vos données. Nous ne vous enverrons que ce que la loi impose (par exemple des factures).
notice-erased = Vos données ont été effacées. Nous ne conservons que ce que la loi impose, ainsi qu’une trace de votre demande d’effacement, afin de ne plus jamais vous contacter.
notice-link-sent = Merci. Si nous connaissons cette adresse, un nouveau lien lui a été envoyé ; il peut mettre quelques minutes à arriver, pensez à vérifier aussi vos courriers indésirables. Pour protéger votre vie privée, nous n’indiquons pas ici si nous la connaissons.

problem-answer = La réponse pour « { $consent } » doit être une acceptation ou un refus.
problem-not-changeable = « { $consent } » ne peut pas être modifié ici. Aucune modification n’a été effectuée ; veuillez vérifier vos choix et enregistrer à nouveau.
problem-restricted = Vous nous avez demandé de cesser de traiter vos données ; vos choix ne peuvent donc pas être modifiés pour le moment. Aucune modification n’a été effectuée. Veuillez nous contacter pour faire lever la limitation.
problem-already-stopped = Le traitement de vos données est déjà arrêté. Aucune modification n’a été effectuée.
problem-cannot-erase = Vos données ne peuvent pas être effacées depuis cette page. Aucune modification n’a été effectuée.
problem-link-invalid = Ce lien n’est pas valide. Veuillez utiliser le lien de notre e-mail le plus récent, tel qu’il vous a été envoyé.
problem-link-expired = Ce lien a expiré. Vous en recevrez un nouveau avec notre prochain e-mail, ou vous pouvez nous en demander un.
problem-unknown-person = Nous ne détenons plus aucune donnée vous concernant ; il n’y a donc rien à choisir.
problem-unavailable = Vos préférences ne peuvent pas être affichées pour le moment. Aucune modification n’a été effectuée ; veuillez réessayer dans quelques minutes.
problem-link-address = Veuillez saisir une adresse e-mail, par exemple nom@example.com. Rien n’a été envoyé.
problem-cross-site = Ce formulaire n’a pas été envoyé depuis notre page de préférences, aucune modification n’a donc été effectuée. Veuillez ouvrir le lien de votre e-mail et utiliser les boutons de cette page.
problem-too-many = Trop de requêtes sont venues de votre connexion. Aucune modification n’a été effectuée ; veuillez réessayer dans quelques minutes.

confirm-stop-title = Cesser le traitement de vos données ?
confirm-stop-1 = Nous cessons d’utiliser vos données personnelles (art. 18 du RGPD) : plus de lettres d’information, plus de campagnes, plus d’e-mails automatiques.
confirm-stop-2 = Nous continuons à vous envoyer ce que la loi nous impose, comme les factures.
confirm-stop-3 = Vos choix sur cette page ne pourront plus être modifiés tant que nous n’aurons pas levé la limitation ; nous vous en informerons au préalable par e-mail.
confirm-stop-button = Oui, cesser le traitement de mes données
confirm-erase-title = Effacer vos données ?
confirm-erase-1 = Nous effaçons vos données personnelles (art. 17 du RGPD), sauf celles que la loi nous impose de conserver, comme les données figurant sur les factures.
confirm-erase-2 = Cette action est irréversible. Ce lien cessera de fonctionner et nous ne vous contacterons plus jamais à cette adresse.
confirm-erase-3 = Nous conservons uniquement une trace de votre demande d’effacement, sans votre adresse, afin de pouvoir la respecter.
confirm-erase-button = Oui, effacer mes données
confirm-back = Non, ne rien changer

unsubscribed = Votre désabonnement a bien été pris en compte.
