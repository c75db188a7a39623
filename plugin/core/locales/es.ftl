# Correos de Privacy Guard, en español. Todo mensaje que sustituya otro idioma o la
# plantilla de un cliente debe conservar sus variables; los mensajes marcados con «needs $link»
# se rechazan sin ella (plugin/core/src/localisation.rs).
#
# Las variables se insertan tal cual en los correos de texto y se escapan en los correos
# HTML; los mensajes cuyo nombre termina en -html contienen HTML.

## Común

greeting = Hola, { $name }:
greeting-anonymous = Hola:
signature = { $sender }
postal-footer =
    { $organisation }
    { $address }

## La solicitud de consentimiento y sus recordatorios

request-subject = { $organisation } solicita su consentimiento
reminder-subject = Recordatorio: { $organisation } solicita su consentimiento
reminder-intro = Le solicitamos su consentimiento el { $asked } y aún no hemos recibido su respuesta, por lo que volvemos a preguntarle.
request-intro = { $organisation } solicita su consentimiento para tratar sus datos personales con las finalidades que se indican a continuación. Indíquenos qué nos autoriza. Puede cambiar sus opciones en cualquier momento, con la misma facilidad con que las elige.
request-purpose = { $title } (texto de la finalidad, versión { $version })
request-purpose-changed = Usted aceptó la versión { $agreed } de este texto. Como ha cambiado, volvemos a solicitar su consentimiento.
request-purpose-renew = Su consentimiento para esto finaliza el { $expires }. Si desea mantenerlo, vuelva a darnos su consentimiento.
# needs $link
request-link = Elija qué nos autoriza en su página de preferencias:
    { $link }
# needs $link
request-link-html = <a href="{ $link }">Elija qué nos autoriza en su página de preferencias</a><br>{ $link }
request-link-personal = Este enlace es personal. Es válido hasta el { $expires } (UTC).

## La confirmación de un cambio

confirmation-subject = Se han actualizado sus opciones de privacidad en { $organisation }
confirmation-intro = El { $date } (UTC), { $organisation } registró los siguientes cambios en sus opciones de privacidad:
confirmation-consent = - { $title }: { $value ->
        [granted] concedido
        [not-granted] no concedido (retirado o rechazado)
        [waiting] pendiente de su respuesta
        [applicable] aún no solicitado
       *[not-applicable] no es aplicable en su caso
    }
confirmation-processing-stopped = - Nos pidió que dejáramos de tratar sus datos personales: los conservamos, pero solo los utilizamos cuando la ley nos obliga a ello.
# needs $link
confirmation-review = Puede consultar y cambiar sus opciones en cualquier momento:
    { $link }
confirmation-not-you = Si no realizó usted este cambio, responda a este correo electrónico.

## El aviso de que se ha levantado una limitación del tratamiento

lift-subject = { $organisation } reanuda el tratamiento de sus datos
lift-intro = Usted pidió a { $organisation } que dejara de tratar sus datos personales. Hemos levantado esta limitación por el siguiente motivo:
lift-outro = Vuelven a aplicarse sus opciones anteriores sobre sus consentimientos. Si no está de acuerdo, responda a este correo electrónico.

## El pie de los correos enviados a través del CRM

# needs $link
footer-preferences = Elija qué recibe y qué nos autoriza en su página de preferencias:
    { $link }
# needs $link
footer-preferences-html = Elija qué recibe y qué nos autoriza en <a href="{ $link }">su página de preferencias</a>:<br>{ $link }

## El enlace enviado de nuevo a petición

link-again-subject = Su página de preferencias en { $organisation }
link-again-intro = usted (o alguien que indicó su dirección de correo) pidió a { $organisation } un nuevo enlace a su página de preferencias. Aquí lo tiene.
# needs $link
link-again-link = Elija lo que permite en su página de preferencias:
    { $link }
# needs $link
link-again-link-html = <a href="{ $link }">Elija lo que permite en su página de preferencias</a><br>{ $link }
link-again-not-you = Si no lo ha pedido, puede ignorar este correo: nada cambia si no usa el enlace.
