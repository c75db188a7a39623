# La página de preferencias de Privacy Guard, en español (host/src/http/page.rs). La
# plantilla de la página escapa las variables.

page-title = Sus preferencias de privacidad
page-title-with = Sus preferencias de privacidad en { $organisation }
page-intro = { $organisation } solicita su consentimiento para las finalidades que se indican a continuación. Puede cambiar de opinión en cualquier momento en esta página.
page-intro-anonymous = Solicitamos su consentimiento para las finalidades que se indican a continuación. Puede cambiar de opinión en cualquier momento en esta página.
page-hello = Hola, { $name }.
page-current-choice = Opción actual:
page-purpose-version = texto de la finalidad, versión { $version }
page-agree = Acepto
page-disagree = No acepto
page-save = Guardar mis opciones
page-nothing-asked = En este momento no se le solicita ningún consentimiento.
page-agreed-corrected = Usted aceptó la versión { $version } de este texto. Desde entonces se ha corregido; su decisión sigue siendo válida.
page-agreed-changed = Usted aceptó la versión { $version } de este texto. Como ha cambiado, volvemos a preguntarle: el texto de arriba es el nuevo.
page-restricted = Nos pidió que dejáramos de tratar sus datos. Sus opciones no pueden modificarse hasta que se levante la limitación; se lo comunicaremos por correo electrónico antes de hacerlo.
page-rights = Sus derechos
page-stop-link = Dejar de tratar mis datos…
page-stop-explained = Dejamos de utilizar sus datos (art. 18 del RGPD) y solo le enviamos lo que exige la ley. Lo confirmará en la página siguiente.
page-erase-link = Suprimir mis datos…
page-erase-explained = Suprimimos sus datos (art. 17 del RGPD), salvo los que la ley nos obliga a conservar, y no volveremos a contactarle nunca. Lo confirmará en la página siguiente.
page-receipts = Recibos de sus respuestas
page-receipt-link = Recibo firmado: { $consent }
page-receipts-explained = Cada recibo registra una respuesta y lleva nuestra firma: consérvelo como prueba de lo que eligió y cuándo.
page-link-personal = Este enlace es personal y es válido hasta el { $expires }. No lo reenvíe.
page-language = Idioma
page-new-link = Enviarme un enlace nuevo

link-title = Recibir un enlace nuevo a sus preferencias
link-intro = Introduzca la dirección de correo electrónico a la que le escribimos. Si la tenemos, le enviaremos a ella un nuevo enlace personal.
link-address = Su dirección de correo electrónico
link-button = Enviarme un enlace nuevo

value-not-applicable = No es aplicable en su caso
value-applicable = Aún no solicitado
value-waiting = Pendiente de su respuesta
value-granted = Ha aceptado
value-not-granted = No ha aceptado

notice-saved = Se han guardado sus opciones. Gracias.
notice-stopped = Hemos dejado de tratar sus datos. Solo le enviaremos lo que exige la ley (como facturas).
notice-erased = Se han suprimido sus datos. Solo conservamos lo que exige la ley y un registro de que solicitó la supresión, para no volver a contactarle nunca.
notice-link-sent = Gracias. Si tenemos esta dirección, se le ha enviado un enlace nuevo; puede tardar unos minutos en llegar, así que revise también la carpeta de correo no deseado. Para proteger su privacidad, no indicamos aquí si la tenemos.

problem-answer = La respuesta para «{ $consent }» debe ser aceptar o rechazar.
problem-not-changeable = «{ $consent }» no puede modificarse aquí. No se ha cambiado nada; revise sus opciones y vuelva a guardarlas.
problem-restricted = Nos pidió que dejáramos de tratar sus datos, por lo que ahora no se pueden modificar sus opciones. No se ha cambiado nada. Póngase en contacto con nosotros para levantar la limitación.
problem-already-stopped = El tratamiento de sus datos ya está detenido. No se ha cambiado nada.
problem-cannot-erase = Sus datos no pueden suprimirse desde aquí. No se ha cambiado nada.
problem-link-invalid = Este enlace no es válido. Utilice el enlace de nuestro correo electrónico más reciente tal como se le envió.
problem-link-expired = Este enlace ha caducado. Recibirá uno nuevo con nuestro próximo correo electrónico, o puede solicitárnoslo.
problem-unknown-person = Ya no conservamos ningún dato suyo, por lo que no hay nada que elegir.
problem-unavailable = No es posible mostrar sus preferencias en este momento. No se ha cambiado nada; vuelva a intentarlo dentro de unos minutos.
problem-link-address = Introduzca una dirección de correo electrónico, como nombre@example.com. No se ha enviado nada.
problem-cross-site = Este formulario no se envió desde nuestra página de preferencias, por lo que no se ha cambiado nada. Abra el enlace de su correo electrónico y utilice los botones de esa página.
problem-too-many = Han llegado demasiadas solicitudes desde su conexión. No se ha cambiado nada; vuelva a intentarlo dentro de unos minutos.

confirm-stop-title = ¿Dejar de tratar sus datos?
confirm-stop-1 = Dejamos de utilizar sus datos personales (art. 18 del RGPD): sin boletines, sin campañas, sin correos automatizados.
confirm-stop-2 = Seguiremos enviándole lo que la ley nos exige, como las facturas.
confirm-stop-3 = Sus opciones en esta página no podrán modificarse hasta que levantemos la limitación; se lo comunicaremos por correo electrónico antes de hacerlo.
confirm-stop-button = Sí, dejar de tratar mis datos
confirm-erase-title = ¿Suprimir sus datos?
confirm-erase-1 = Suprimimos sus datos personales (art. 17 del RGPD), salvo los que la ley nos obliga a conservar, como los datos de las facturas.
confirm-erase-2 = Esta acción no se puede deshacer. Este enlace dejará de funcionar y no volveremos a contactarle nunca en esta dirección.
confirm-erase-3 = Solo conservamos un registro de que solicitó la supresión, sin su dirección, para poder respetarla.
confirm-erase-button = Sí, suprimir mis datos
confirm-back = No, dejarlo todo como está

unsubscribed = Se ha cancelado su suscripción.
