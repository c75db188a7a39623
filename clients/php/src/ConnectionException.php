<?php
// No answer from the Privacy Guard API: the host could not be reached, or what answered is not it.

declare(strict_types=1);

namespace PrivacyGuard;

/**
 * The request got no answer of the API: the connection failed or timed out, or the
 * answer was not the API's JSON (a proxy's error page, a wrong URL). Nothing is known
 * about what the host did; before a mail, treat it as a refusal of every recipient.
 */
final class ConnectionException extends \RuntimeException
{
}
