# The preferences page of Privacy Guard, in English (host/src/http/page.rs). Variables
# are escaped by the page's template.

page-title = Your privacy preferences
page-title-with = Your privacy preferences with { $organisation }
page-intro = { $organisation } asks for your consent to the purposes below. You can change your mind at any time on this page.
page-intro-anonymous = We ask for your consent to the purposes below. You can change your mind at any time on this page.
page-hello = Hello { $name }.
page-current-choice = Current choice:
page-purpose-version = purpose text version { $version }
page-agree = I agree
page-disagree = I do not agree
page-save = Save my choices
page-nothing-asked = No consent is asked of you at the moment.
page-agreed-corrected = You agreed to version { $version } of this text. It was corrected since; your choice still stands.
page-agreed-changed = You agreed to version { $version } of this text. It has changed, so we ask you again: the text above is the new one.
page-restricted = You asked us to stop processing your data. Your choices cannot be changed until the restriction is lifted; we will tell you by email before that.
page-rights = Your rights
page-stop-link = Stop processing my data…
page-stop-explained = We stop using your data (GDPR Art. 18) and send you only what the law requires. You confirm on the next page.
page-erase-link = Erase my data…
page-erase-explained = We erase your data (GDPR Art. 17), except what the law requires us to keep, and never contact you again. You confirm on the next page.
page-receipts = Receipts of your answers
page-receipt-link = Signed receipt: { $consent }
page-receipts-explained = Each receipt records one answer, signed by us: keep it as proof of what you chose and when.
page-link-personal = This link is personal and works until { $expires }. Do not forward it.
page-language = Language
page-new-link = Send me a new link

link-title = Get a new link to your preferences
link-intro = Enter the email address we write to you at. If we hold it, we send a new personal link to it.
link-address = Your email address
link-button = Send me a new link

value-not-applicable = Does not apply to you
value-applicable = Not asked yet
value-waiting = Waiting for your answer
value-granted = You agreed
value-not-granted = You did not agree

notice-saved = Your choices were saved. Thank you.
notice-stopped = We stopped processing your data. We will only send you what the law requires (such as invoices).
notice-erased = Your data were erased. We keep only what the law requires, and a record that you asked for erasure, so we never contact you again.
notice-link-sent = Thank you. If we hold this address, a new link is on its way to it; it can take a few minutes to arrive, so please check your spam folder too. For your privacy we do not say here whether we hold it.

problem-answer = The answer for “{ $consent }” must be grant or refuse.
problem-not-changeable = “{ $consent }” cannot be changed here. Nothing was changed; please check your choices and save again.
problem-restricted = You asked us to stop processing your data, so your choices cannot be changed now. Nothing was changed. Please contact us to lift the restriction.
problem-already-stopped = Processing of your data is already stopped. Nothing was changed.
problem-cannot-erase = Your data cannot be erased from here. Nothing was changed.
problem-link-invalid = This link is not valid. Please use the link from your most recent email exactly as it was sent.
problem-link-expired = This link has expired. You will receive a new one with our next email, or you can ask us for one.
problem-unknown-person = We no longer hold any data about you, so there is nothing to choose.
problem-unavailable = Your preferences cannot be shown right now. Nothing was changed; please try again in a few minutes.
problem-link-address = Please enter an email address, such as name@example.com. Nothing was sent.
problem-cross-site = This form was not sent from our preferences page, so nothing was changed. Please open the link from your email and use the buttons on that page.
problem-too-many = Too many requests came from your connection. Nothing was changed; please try again in a few minutes.

confirm-stop-title = Stop processing your data?
confirm-stop-1 = We stop using your personal data (GDPR Art. 18): no newsletters, no campaigns, no automated mail.
confirm-stop-2 = We still send what the law requires of us, such as invoices.
confirm-stop-3 = Your choices on this page cannot be changed until we lift the restriction; we tell you by email before we do.
confirm-stop-button = Yes, stop processing my data
confirm-erase-title = Erase your data?
confirm-erase-1 = We erase your personal data (GDPR Art. 17), except what the law requires us to keep, such as data on invoices.
confirm-erase-2 = This cannot be undone. This link stops working, and we never contact you again at this address.
confirm-erase-3 = We keep only a record that you asked for erasure, without your address, so that we can honour it.
confirm-erase-button = Yes, erase my data
confirm-back = No, keep things as they are

unsubscribed = You are unsubscribed.
