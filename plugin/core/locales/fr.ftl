# E-mails de Privacy Guard, en français. Toute traduction ou tout modèle d’un client qui
# remplace un message doit en conserver les variables ; les messages marqués « needs $link »
# sont refusés sans elle (plugin/core/src/localisation.rs).
#
# Les variables sont insérées telles quelles dans les e-mails texte et échappées dans les
# e-mails HTML ; les messages dont le nom se termine par -html contiennent du HTML.

## Commun

greeting = Bonjour { $name },
greeting-anonymous = Bonjour,
signature = { $sender }
postal-footer =
    { $organisation }
    { $address }

## La demande de consentement et ses rappels

request-subject = { $organisation } sollicite votre consentement
reminder-subject = Rappel : { $organisation } sollicite votre consentement
reminder-intro = Nous vous avons adressé notre demande le { $asked } et n’avons pas encore reçu de réponse ; nous vous la renouvelons donc.
request-intro = { $organisation } sollicite votre consentement au traitement de vos données personnelles pour les finalités ci-dessous. Merci de nous indiquer ce que vous autorisez. Vous pouvez modifier vos choix à tout moment, aussi facilement que vous les avez exprimés.
request-purpose = { $title } (texte de la finalité, version { $version })
request-purpose-changed = Vous aviez accepté la version { $agreed } de ce texte. Celui-ci a été modifié ; nous vous demandons donc à nouveau votre consentement.
request-purpose-renew = Votre consentement à ceci prend fin le { $expires }. Pour le conserver, veuillez consentir à nouveau.
# needs $link
request-link = Indiquez ce que vous autorisez sur votre page de préférences :
    { $link }
# needs $link
request-link-html = <a href="{ $link }">Indiquez ce que vous autorisez sur votre page de préférences</a><br>{ $link }
request-link-personal = Ce lien vous est personnel. Il est valable jusqu’au { $expires } (UTC).

## La confirmation d’une modification

confirmation-subject = Vos choix de confidentialité auprès de { $organisation } ont été mis à jour
confirmation-intro = Le { $date } (UTC), { $organisation } a enregistré les modifications suivantes de vos choix de confidentialité :
confirmation-consent = - { $title } : { $value ->
        [granted] accordé
        [not-granted] non accordé (retiré ou refusé)
        [waiting] en attente de votre réponse
        [applicable] pas encore demandé
       *[not-applicable] ne vous concerne pas
    }
confirmation-processing-stopped = - Vous nous avez demandé de cesser de traiter vos données personnelles : nous les conservons, mais ne les utilisons que lorsque la loi nous y oblige.
# needs $link
confirmation-review = Vous pouvez consulter et modifier vos choix à tout moment :
    { $link }
confirmation-not-you = Si vous n’êtes pas à l’origine de cette modification, veuillez répondre à cet e-mail.

## L’avis de levée d’une limitation du traitement

lift-subject = { $organisation } reprend le traitement de vos données
lift-intro = Vous avez demandé à { $organisation } de cesser de traiter vos données personnelles. Nous avons levé cette limitation pour le motif suivant :
lift-outro = Vos choix antérieurs concernant vos consentements s’appliquent de nouveau. Si vous n’êtes pas d’accord, veuillez répondre à cet e-mail.

## Le pied de page des e-mails envoyés par le CRM

# needs $link
footer-preferences = Choisissez ce que vous recevez et ce que vous autorisez sur votre page de préférences :
    { $link }
# needs $link
footer-preferences-html = Choisissez ce que vous recevez et ce que vous autorisez sur <a href="{ $link }">votre page de préférences</a> :<br>{ $link }

## Le lien renvoyé sur demande

link-again-subject = Votre page de préférences chez { $organisation }
link-again-intro = vous (ou quelqu'un qui a saisi votre adresse e-mail) avez demandé à { $organisation } un nouveau lien vers votre page de préférences. Le voici.
# needs $link
link-again-link = Choisissez ce que vous autorisez sur votre page de préférences :
    { $link }
# needs $link
link-again-link-html = <a href="{ $link }">Choisissez ce que vous autorisez sur votre page de préférences</a><br>{ $link }
link-again-not-you = Si vous ne l'avez pas demandé, vous pouvez ignorer cet e-mail : rien ne change tant que le lien n'est pas utilisé.
