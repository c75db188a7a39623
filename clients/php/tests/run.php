<?php
// The PHP client against a real running host: each test asserts what a CRM relies on.
//
// Run by scripts/php-client-tests.sh, which starts the host on a temporary data folder,
// prepares it with the CLI and sets:
//   PRIVACY_GUARD_API_URL       the host, e.g. http://127.0.0.1:40123
//   PRIVACY_GUARD_API_KEY       an API key of its tenant
//   PRIVACY_GUARD_API_KEY_NAME  that key's name (the actor of what it does)
// The data it expects: consents `email-marketing` (custom) and `phone-calls` (data,
// field phone), enabled; contacts 1 Ada, 2 Grace (with a phone), 3 Linus, 4 Margaret,
// 5 Erin, each asked by the daily run and not answered yet. The tests run in order and
// change that data. Exits 1 naming every test that failed.

declare(strict_types=1);

require_once __DIR__ . '/../src/Client.php';

use PrivacyGuard\ApiException;
use PrivacyGuard\Client;
use PrivacyGuard\ConnectionException;

function setting(string $name): string
{
    $value = getenv($name);
    if ($value === false || $value === '') {
        fwrite(STDERR, "$name is not set: run scripts/php-client-tests.sh\n");
        exit(2);
    }
    return $value;
}

$url = setting('PRIVACY_GUARD_API_URL');
$key = setting('PRIVACY_GUARD_API_KEY');
$keyName = setting('PRIVACY_GUARD_API_KEY_NAME');
$preferences = rtrim($url, '/') . '/preferences/';
$client = new Client($url, $key, ['timeout' => 30]);

// ---- assertions ---------------------------------------------------------------------------------

final class Failure extends \Exception
{
}

function show($value): string
{
    return json_encode($value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PARTIAL_OUTPUT_ON_ERROR) ?: var_export($value, true);
}

function same($expected, $actual, string $what): void
{
    if ($expected !== $actual) {
        throw new Failure("$what: expected " . show($expected) . ', got ' . show($actual));
    }
}

function holds(bool $condition, string $what, $context = null): void
{
    if (!$condition) {
        throw new Failure($what . ($context === null ? '' : ' — ' . show($context)));
    }
}

function contains(string $needle, string $haystack, string $what): void
{
    if (strpos($haystack, $needle) === false) {
        throw new Failure("$what: " . show($needle) . ' is not in ' . show($haystack));
    }
}

/** Runs `$call`, which must throw the API's error `$code` with `$status`; answers it. */
function refused(int $status, string $code, callable $call): ApiException
{
    try {
        $answer = $call();
    } catch (ApiException $error) {
        same([$status, $code], [$error->getStatus(), $error->getErrorCode()], 'status and error code');
        holds($error->getMessage() !== '', 'the error has a message');
        same($status, $error->getCode(), 'the exception code is the HTTP status');
        return $error;
    }
    throw new Failure("expected the API's $status $code, got an answer: " . show($answer));
}

/** The decision or rendering for `$address` in `$answers`. */
function for_address(array $answers, string $address): array
{
    foreach ($answers as $answer) {
        if ($answer['address'] === $address) {
            return $answer;
        }
    }
    throw new Failure("no answer for $address in " . show($answers));
}

/** GET `$link` as a browser would; answers the status and the body. */
function open_page(string $link): array
{
    $context = stream_context_create(['http' => ['ignore_errors' => true, 'timeout' => 30, 'header' => 'Accept: text/html']]);
    $body = @file_get_contents($link, false, $context);
    holds($body !== false, "GET $link answers");
    preg_match('#^HTTP/\S+\s+(\d{3})#', $http_response_header[0] ?? '', $match);
    return [(int) ($match[1] ?? 0), $body];
}

// ---- the tests, in order ------------------------------------------------------------------------

$tests = [];
$test = function (string $name, callable $body) use (&$tests): void {
    $tests[] = [$name, $body];
};

$test('the host answers its health check', function () use ($client) {
    $health = $client->health();
    same('ok', $health['status'], 'status');
    same(['default' => 'ok'], $health['tenants'], 'tenants');
});

$test('a refused recipient carries its reason, in the order asked', function () use ($client) {
    $decisions = $client->checkSend('marketing', [
        Client::to('ada@example.com'),
        Client::to('not an address'),
        Client::to('nobody@example.com'),
    ], 'email-marketing');
    same(['ada@example.com', 'not an address', 'nobody@example.com'], array_column($decisions, 'address'), 'addresses in order');
    same([false, false, false], array_column($decisions, 'allowed'), 'allowed');
    same(['consent_pending', 'invalid_address', 'unknown_recipient'], array_column($decisions, 'reason'), 'reasons');
    same([], $decisions[0]['obligations'], 'a refusal has no obligations');
});

$test('a decision recorded through the API allows marketing, with the footer as obligation', function () use ($client) {
    $ada = $client->recordDecision('contacts', '1', 'email-marketing', true, 'Signed paper form of 2 March');
    $values = array_column($ada['consents'], 'value', 'consent_id');
    same('granted', $values['email-marketing'] ?? null, 'email-marketing after the decision');
    $decision = $client->checkSend('marketing', [Client::to('ada@example.com', 'contacts', '1')], 'email-marketing')[0];
    same(true, $decision['allowed'], 'allowed');
    same('consent', $decision['basis'], 'lawful basis');
    same('opt_in', $decision['regime'], 'regime');
    holds(in_array('preferences_footer', $decision['obligations'], true), 'the preferences footer is an obligation', $decision);
});

$test('marketing goes to To only: a CC is refused', function () use ($client) {
    $decision = $client->checkSend('marketing', [Client::cc('ada@example.com')], 'email-marketing')[0];
    same([false, 'not_a_to_recipient'], [$decision['allowed'], $decision['reason']], 'allowed and reason');
});

$test('a rendering carries the footer with the person\'s own link and loses its tracking', function () use ($client, $preferences) {
    $renderings = $client->render('marketing', [
        'subject' => 'March news',
        'text_body' => "Hello Ada\n",
        'html_body' => '<p>Hello Ada</p><img src="https://tracker.example/p.gif" data-pg-tracking>',
    ], [Client::to('ada@example.com'), Client::to('grace@example.com')], 'email-marketing');
    $ada = for_address($renderings, 'ada@example.com');
    same(true, $ada['send'], 'Ada gets the mail');
    same('March news', $ada['subject'], 'subject');
    contains("Hello Ada\n", $ada['text_body'], 'the text is kept');
    contains($preferences, $ada['text_body'], 'the text footer links the preferences page');
    contains('1 Example Street, Berlin', $ada['text_body'], 'the postal address is in the footer');
    contains($preferences, $ada['html_body'], 'the HTML footer links the preferences page');
    holds(strpos($ada['html_body'], 'tracker.example') === false, 'the tracking pixel is removed', $ada['html_body']);
    $headers = array_column($ada['headers'], 1, 0);
    contains($preferences, $headers['List-Unsubscribe'] ?? '', 'List-Unsubscribe');
    same('List-Unsubscribe=One-Click', $headers['List-Unsubscribe-Post'] ?? null, 'List-Unsubscribe-Post');
    $grace = for_address($renderings, 'grace@example.com');
    same([false, 'consent_pending'], [$grace['send'], $grace['reason']], 'Grace is refused with the reason');
    holds(!isset($grace['text_body']), 'a refused rendering has no body', $grace);

    preg_match('#' . preg_quote($preferences, '#') . '[A-Za-z0-9._~-]+#', $ada['text_body'], $link);
    [$status, $page] = open_page($link[0]);
    same(200, $status, "the footer's link opens the page");
    contains('<form', $page, 'the preferences page has its form');
});

$test('transactional mail goes to a person who has not answered', function () use ($client) {
    $decision = $client->checkSend('transactional', [Client::to('grace@example.com', 'contacts', '2')])[0];
    same(true, $decision['allowed'], 'allowed');
    holds(!in_array('preferences_footer', $decision['obligations'], true), 'no footer on transactional mail', $decision);
});

$test('record changes are stored: created, then updated, and the person is known', function () use ($client) {
    $report = $client->recordsChanged('contacts', [
        ['id' => 100, 'fields' => ['firstname' => 'Hedy', 'email' => 'hedy@example.com', 'phone' => null], 'modified_at' => 1772400000000],
    ]);
    same([1, 0], [$report['created'], $report['updated']], 'created, updated');
    $hedy = $client->subject('contacts', '100');
    same('hedy@example.com', $hedy['address'], 'address');
    same(['email-marketing' => 'applicable', 'phone-calls' => 'applicable'], array_column($hedy['consents'], 'value', 'consent_id'), 'consents');
    $report = $client->recordsChanged('contacts', [
        ['id' => '100', 'fields' => ['firstname' => 'Hedy L.'], 'status' => 'Active'],
    ]);
    same([0, 1], [$report['created'], $report['updated']], 'created, updated the second time');
    same([], $report['ignored_fields'], 'ignored fields');
});

$test('records of a module that holds no people are refused, naming the modules that do', function () use ($client) {
    $error = refused(422, 'invalid_request', fn () => $client->recordsChanged('invoices', [['id' => '1', 'fields' => ['email' => 'x@example.com']]]));
    contains('contacts', $error->getMessage(), 'the message names the person modules');
});

$test('an edit refused names the field, the reason and the consent', function () use ($client) {
    $check = $client->checkEdit('contacts', '2', ['phone' => '+44 3', 'firstname' => 'Grace H.']);
    same(false, $check['allowed'], 'allowed');
    same(1, count($check['refusals']), 'one refusal');
    $refusal = $check['refusals'][0];
    same(['phone', 'consent_refuses', 'phone-calls'], [$refusal['field'], $refusal['reason'], $refusal['consent_id'] ?? null], 'field, reason, consent');
    holds($refusal['detail'] !== '', 'the refusal says why', $refusal);
    same(['allowed' => true, 'refusals' => []], $client->checkEdit('contacts', '2', ['firstname' => 'Grace H.']), 'an edit of another field');
    same(['allowed' => true, 'refusals' => []], $client->checkEdit('contacts', '2', []), 'an edit of nothing');
});

$test('the history lists the events, the API\'s decision last with its evidence and actor', function () use ($client, $keyName) {
    $events = $client->history('contacts', '1');
    holds(count($events) >= 3, 'the import, the request and the decision are recorded', $events);
    $times = array_column($events, 'at');
    $sorted = $times;
    sort($sorted);
    same($sorted, $times, 'oldest first');
    same('consent-changed', $events[0]['kind'], 'the first event');
    $last = $events[count($events) - 1];
    same(
        ['consent-changed', 'email-marketing', 'granted', 'api', $keyName],
        [$last['kind'], $last['consent'] ?? null, $last['to'] ?? null, $last['source'] ?? null, $last['actor'] ?? null],
        'the decision: kind, consent, value, source, actor'
    );
    same('Signed paper form of 2 March', $last['evidence']['statement'] ?? null, 'its evidence');
});

$test('a person\'s view: status, consents, regime and language', function () use ($client) {
    $ada = $client->subject('contacts', '1');
    same(['module' => 'contacts', 'id' => '1'], $ada['person'], 'person');
    same(['active', 'opt_in', 'en'], [$ada['status'], $ada['regime'], $ada['language']], 'status, regime, language');
    same(['email-marketing' => 'granted', 'phone-calls' => 'waiting'], array_column($ada['consents'], 'value', 'consent_id'), 'consents');
});

$test('the preferences link opens the person\'s page', function () use ($client, $preferences) {
    $link = $client->preferencesLink('contacts', '1');
    same(0, strpos($link, $preferences), "the link is on the tenant's page ($link)");
    [$status] = open_page($link);
    same(200, $status, 'the page opens');
});

$test('asking again a person who never answered', function () use ($client) {
    same(true, $client->askAgain('contacts', '100'), 'asked');
});

$test('a restriction refuses marketing, cannot be made twice, and is lifted', function () use ($client) {
    same('restricted', $client->restrict('contacts', '4', 'Margaret disputes her data')['status'], 'status');
    $decision = $client->checkSend('marketing', [Client::to('margaret@example.com')], 'email-marketing')[0];
    same([false, 'processing_restricted'], [$decision['allowed'], $decision['reason']], 'marketing to her');
    refused(409, 'status_refused', fn () => $client->restrict('contacts', '4', 'again'));
    same('active', $client->liftRestriction('contacts', '4', 'Checked: the data are right')['status'], 'status after lifting');
});

$test('a restriction without a reason is refused', function () use ($client) {
    refused(422, 'invalid_request', fn () => $client->restrict('contacts', '4', '   '));
    same('active', $client->subject('contacts', '4')['status'], 'nothing changed');
});

$test('an erasure names the erased fields, and no mail goes to the address after', function () use ($client) {
    $report = $client->erase('contacts', '5', "Erin's letter of 1 March");
    holds(in_array('email', $report['erased_fields'], true), 'email is erased', $report);
    $decision = $client->checkSend('marketing', [Client::to('erin@example.com')], 'email-marketing')[0];
    same([false, 'erased'], [$decision['allowed'], $decision['reason']], 'marketing to the erased address');
    same('erased', $client->subject('contacts', '5')['status'], 'status');
    refused(409, 'status_refused', fn () => $client->erase('contacts', '5', 'again'));
});

$test('an unknown person or consent is not_found', function () use ($client) {
    refused(404, 'not_found', fn () => $client->subject('contacts', '999'));
    refused(404, 'not_found', fn () => $client->preferencesLink('contacts', '999'));
    refused(404, 'not_found', fn () => $client->recordDecision('contacts', '1', 'no-such-consent', true, 'a call'));
});

$test('an id holding a slash stays one path segment', function () use ($client) {
    $error = refused(404, 'not_found', fn () => $client->subject('contacts', 'a/b'));
    contains('contacts/a/b', $error->getMessage(), 'the message names the person asked for');
});

$test('a wrong API key is unauthorized, never an answer', function () use ($url) {
    $stranger = new Client($url, 'pgk_not_a_key');
    refused(401, 'unauthorized', fn () => $stranger->checkSend('marketing', [Client::to('ada@example.com')], 'email-marketing'));
});

$test('an empty or unknown request is refused with the rule it breaks', function () use ($client) {
    $error = refused(422, 'invalid_request', fn () => $client->checkSend('marketing', [], 'email-marketing'));
    contains('1 to 1000', $error->getMessage(), 'the message gives the bounds');
    $error = refused(422, 'invalid_request', fn () => $client->checkSend('newsletter', [Client::to('ada@example.com')]));
    contains('newsletter', $error->getMessage(), 'the message names the unknown class');
    $error = refused(422, 'invalid_request', fn () => $client->call('POST', '/api/v1/check-send', [
        'class' => 'marketing', 'recipients' => [Client::to('ada@example.com')], 'colour' => 'red',
    ]));
    contains('colour', $error->getMessage(), 'the message names the unknown field');
});

$test('problems name each setting at fault', function () use ($client) {
    $error = refused(422, 'invalid_request', fn () => $client->call('PATCH', '/api/v1/settings', ['sender_address' => 'not an address']));
    same('sender-address', $error->getProblems()[0]['at'] ?? null, 'the problem is at the sender address');
});

$test('no host listening is a ConnectionException', function () {
    $socket = stream_socket_server('tcp://127.0.0.1:0');
    $address = stream_socket_get_name($socket, false);
    fclose($socket);
    $nobody = new Client("http://$address", 'pgk_whatever', ['timeout' => 5]);
    try {
        $nobody->checkSend('marketing', [Client::to('ada@example.com')], 'email-marketing');
    } catch (ConnectionException $error) {
        contains($address, $error->getMessage(), 'the message names the address');
        return;
    }
    throw new Failure('expected a ConnectionException');
});

$test('an answer that is not the API\'s JSON is a ConnectionException', function () use ($client) {
    try {
        $client->call('GET', '/preferences/not-a-token');
    } catch (ConnectionException $error) {
        contains('not the API\'s JSON', $error->getMessage(), 'the message says so');
        return;
    }
    throw new Failure('expected a ConnectionException');
});

$test('input the API cannot take is refused before sending', function () use ($client) {
    foreach ([
        'a record without its id' => fn () => $client->recordsChanged('contacts', [['fields' => ['email' => 'x@example.com']]]),
        'a field that is not text' => fn () => $client->checkEdit('contacts', '1', ['phone' => ['+44']]),
        'a recipient record without id' => fn () => Client::to('ada@example.com', 'contacts'),
        'recipients that are not a list' => fn () => $client->checkSend('ad_hoc', ['x' => Client::to('ada@example.com')]),
        'an empty id' => fn () => $client->subject('contacts', ''),
    ] as $what => $call) {
        try {
            $call();
        } catch (\InvalidArgumentException $error) {
            continue;
        }
        throw new Failure("$what was not refused");
    }
});

// ---- running them -------------------------------------------------------------------------------

$failed = [];
foreach ($tests as [$name, $body]) {
    try {
        $body();
        echo "ok     $name\n";
    } catch (\Throwable $error) {
        $failed[] = $name;
        $where = $error instanceof Failure ? '' : ' (' . get_class($error) . ' at ' . basename($error->getFile()) . ':' . $error->getLine() . ')';
        $message = $error instanceof ApiException ? (string) $error : $error->getMessage();
        echo "FAILED $name\n       " . str_replace("\n", "\n       ", $message) . "$where\n";
    }
}
printf("\n%d tests, %d passed, %d failed\n", count($tests), count($tests) - count($failed), count($failed));
foreach ($failed as $name) {
    echo "  failed: $name\n";
}
exit($failed === [] ? 0 : 1);
