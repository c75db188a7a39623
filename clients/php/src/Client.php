<?php
// A client of Privacy Guard's JSON API (docs/openapi.json) for CRMs written in PHP.

declare(strict_types=1);

namespace PrivacyGuard;

require_once __DIR__ . '/ApiException.php';
require_once __DIR__ . '/ConnectionException.php';

/**
 * Privacy Guard's JSON API for a CRM: the pre-send check and rendering before every mail,
 * record changes and the edit check as records change, and a person's consents, history,
 * preferences link and rights (decisions, restriction, erasure).
 *
 * Plain PHP 8 with no extension beyond what Debian's php-cli has: requests go through
 * PHP's HTTP stream wrapper (`allow_url_fopen` must be on), bodies are JSON. Answers are
 * the API's JSON as associative arrays, keys as docs/openapi.json names them.
 *
 * An error of the API is an {@see ApiException} (HTTP status, error code, message,
 * problems); no answer, or an answer that is not the API's, is a
 * {@see ConnectionException}. Before a mail, either means: do not send.
 */
final class Client
{
    public const VERSION = '1.0.0';

    private string $baseUrl;
    private string $apiKey;
    private float $timeout;
    /** @var array<string, mixed> */
    private array $ssl;

    /**
     * @param string $baseUrl The host's address, e.g. `https://privacy.example.org` (the
     *                        API is under `/api/v1` there).
     * @param string $apiKey  The tenant's API key (`privacy-guard api-key` makes one).
     * @param array{timeout?: float|int, ssl?: array<string, mixed>} $options
     *        `timeout`: seconds to wait for the connection and each read (default 10);
     *        `ssl`: PHP's ssl stream context options, e.g. `['cafile' => '/etc/ca.pem']`.
     */
    public function __construct(string $baseUrl, string $apiKey, array $options = [])
    {
        if (!preg_match('#^https?://[^/]+#i', $baseUrl)) {
            throw new \InvalidArgumentException(
                "the base URL must start with http:// or https:// and name the host, e.g. https://privacy.example.org; got `$baseUrl`"
            );
        }
        if (trim($apiKey) === '') {
            throw new \InvalidArgumentException('the API key is empty: make one with `privacy-guard api-key`');
        }
        if (!filter_var(ini_get('allow_url_fopen'), FILTER_VALIDATE_BOOLEAN)) {
            throw new \LogicException(
                'PHP\'s allow_url_fopen is off: the Privacy Guard client calls the API through the http:// stream wrapper, so turn it on (php.ini: allow_url_fopen = On)'
            );
        }
        $timeout = $options['timeout'] ?? 10;
        if (!is_int($timeout) && !is_float($timeout) || $timeout <= 0) {
            throw new \InvalidArgumentException('the timeout is a number of seconds above 0');
        }
        $this->baseUrl = rtrim($baseUrl, '/');
        $this->apiKey = trim($apiKey);
        $this->timeout = (float) $timeout;
        $this->ssl = $options['ssl'] ?? [];
    }

    // ---- recipients -------------------------------------------------------------------------

    /**
     * A To recipient; `$module` and `$id` name the CRM record the mail is about, if any.
     *
     * @return array<string, mixed>
     */
    public static function to(string $address, ?string $module = null, ?string $id = null): array
    {
        return self::recipient($address, 'to', $module, $id);
    }

    /** @return array<string, mixed> A CC recipient. */
    public static function cc(string $address, ?string $module = null, ?string $id = null): array
    {
        return self::recipient($address, 'cc', $module, $id);
    }

    /** @return array<string, mixed> A BCC recipient. */
    public static function bcc(string $address, ?string $module = null, ?string $id = null): array
    {
        return self::recipient($address, 'bcc', $module, $id);
    }

    /** @return array<string, mixed> */
    private static function recipient(string $address, string $role, ?string $module, ?string $id): array
    {
        $recipient = ['address' => $address, 'role' => $role];
        if ($module !== null || $id !== null) {
            if ($module === null || $id === null) {
                throw new \InvalidArgumentException('a recipient\'s record needs both its module and its id');
            }
            $recipient['person'] = ['module' => $module, 'id' => $id];
        }
        return $recipient;
    }

    // ---- before a mail ------------------------------------------------------------------------

    /**
     * May this mail go to these recipients? One decision per recipient, in order:
     * `['address', 'allowed' => bool, 'obligations' => [...]]`, plus `basis` and `regime`
     * when allowed, `reason` (e.g. `consent_pending`) and maybe `detail` when refused.
     * A plugin fault refuses every recipient (`plugin_fault`); it is not an exception.
     *
     * @param string $class `marketing`, `ad_hoc`, `workflow` or `transactional`
     * @param list<array<string, mixed>> $recipients 1 to 1000, made with {@see to()}, {@see cc()}, {@see bcc()}
     * @param string|null $purpose the consent (id) a marketing mail is about
     * @return list<array<string, mixed>>
     */
    public function checkSend(string $class, array $recipients, ?string $purpose = null): array
    {
        $body = ['class' => $class, 'recipients' => self::listOf($recipients, 'recipients')];
        if ($purpose !== null) {
            $body['purpose'] = $purpose;
        }
        return $this->request('POST', '/api/v1/check-send', $body)['decisions'];
    }

    /**
     * The mail exactly as each recipient must get it, in order: `['address', 'send' =>
     * true, 'subject', 'text_body', 'html_body'?, 'headers'? => [[name, value], ...]]`
     * (the preferences footer for To, tracking removed without consent, one-click
     * unsubscription headers on marketing), or `['address', 'send' => false, 'reason',
     * 'detail'?]`.
     *
     * @param array{subject: string, text_body: string, html_body?: string, message_id?: string} $mail
     * @param list<array<string, mixed>> $recipients
     * @return list<array<string, mixed>>
     */
    public function render(string $class, array $mail, array $recipients, ?string $purpose = null): array
    {
        $body = [
            'class' => $class,
            'mail' => (object) $mail,
            'recipients' => self::listOf($recipients, 'recipients'),
        ];
        if ($purpose !== null) {
            $body['purpose'] = $purpose;
        }
        return $this->request('POST', '/api/v1/render', $body)['renderings'];
    }

    // ---- as records change ------------------------------------------------------------------

    /**
     * Records were created or changed in the CRM: each as `['id' => ..., 'fields' =>
     * [name => value, ...], 'status'? => 'Active', 'modified_at'? => unix ms]`. All are
     * stored or none; answers `['created', 'updated', 'consents_changed', 'ignored_fields']`.
     * Field values are text: numbers are sent as text, null as the empty text.
     *
     * @param list<array<string, mixed>> $records 1 to 1000
     * @return array<string, mixed>
     */
    public function recordsChanged(string $module, array $records): array
    {
        $body = [];
        foreach (self::listOf($records, 'records') as $index => $record) {
            if (!is_array($record) || !isset($record['id'], $record['fields']) || !is_array($record['fields'])) {
                throw new \InvalidArgumentException("records[$index] needs an `id` and an array of `fields`");
            }
            $record['id'] = (string) $record['id'];
            $record['fields'] = self::texts($record['fields'], "records[$index].fields");
            $body[] = $record;
        }
        return $this->request('POST', '/api/v1/records/' . self::segment($module), ['records' => $body]);
    }

    /**
     * The refusal hook before a user saves an edit: `['allowed' => bool, 'refusals' =>
     * [['field', 'reason', 'consent_id'?, 'detail'], ...]]`. When not allowed, save
     * nothing and show each refusal's detail at its field; after saving, report the
     * record with {@see recordsChanged()}.
     *
     * @param array<string, string|int|float|null> $changes field name => new value
     * @return array{allowed: bool, refusals: list<array<string, mixed>>}
     */
    public function checkEdit(string $module, string $id, array $changes): array
    {
        return $this->request(
            'POST',
            '/api/v1/records/' . self::segment($module) . '/' . self::segment($id) . '/check-edit',
            ['changes' => self::texts($changes, 'changes')]
        );
    }

    // ---- a person -----------------------------------------------------------------------------

    /**
     * A person's consents and status: `['person', 'address', 'status', 'consents' =>
     * [['consent_id', 'value', 'since', 'purpose_version'], ...], 'regime', 'language']`.
     * An {@see ApiException} `not_found` when Privacy Guard knows no consents of the record.
     *
     * @return array<string, mixed>
     */
    public function subject(string $module, string $id): array
    {
        return $this->request('GET', self::person($module, $id));
    }

    /**
     * Every consent event of the person, oldest first (the proof): each with `kind`
     * (`consent-changed`, `status-changed`, ...), `at` (unix ms), `source`, `actor`, ...
     *
     * @return list<array<string, mixed>>
     */
    public function history(string $module, string $id): array
    {
        return $this->request('GET', self::person($module, $id) . '/history')['events'];
    }

    /** The person's current preferences link, freshly signed, for someone who lost theirs. */
    public function preferencesLink(string $module, string $id): string
    {
        return $this->request('GET', self::person($module, $id) . '/link')['link'];
    }

    /** Asks the person again at the next daily run; false when nothing is unanswered. */
    public function askAgain(string $module, string $id): bool
    {
        return $this->request('POST', self::person($module, $id) . '/ask-again')['asked'];
    }

    /**
     * Records a consent decision obtained outside the preferences page (a call, a signed
     * form), recorded as this API key's; answers the person after it.
     *
     * @return array<string, mixed>
     */
    public function recordDecision(string $module, string $id, string $consentId, bool $grant, string $evidence): array
    {
        return $this->request('POST', self::person($module, $id) . '/decisions', [
            'consent_id' => $consentId,
            'grant' => $grant,
            'evidence' => $evidence,
        ]);
    }

    /**
     * Stops processing (GDPR Art. 18) for the reason given; answers the person after it.
     *
     * @return array<string, mixed>
     */
    public function restrict(string $module, string $id, string $reason): array
    {
        return $this->request('POST', self::person($module, $id) . '/restrict', ['reason' => $reason]);
    }

    /**
     * Lifts a restriction for the reason given (the person is told by mail).
     *
     * @return array<string, mixed>
     */
    public function liftRestriction(string $module, string $id, string $reason): array
    {
        return $this->request('POST', self::person($module, $id) . '/lift-restriction', ['reason' => $reason]);
    }

    /**
     * Erases the person (GDPR Art. 17) on the evidence of their request: `['erased_fields',
     * 'retained_fields']`. Empty the erased fields in the CRM too.
     *
     * @return array{erased_fields: list<string>, retained_fields: list<string>}
     */
    public function erase(string $module, string $id, string $evidence): array
    {
        return $this->request('POST', self::person($module, $id) . '/erase', ['evidence' => $evidence]);
    }

    // ---- anything else ------------------------------------------------------------------------

    /**
     * `GET /health`: `['status' => 'ok'|'degraded', 'tenants' => [id => 'ok'|'unavailable']]`
     * (a degraded host answers too, with its status 503).
     *
     * @return array<string, mixed>
     */
    public function health(): array
    {
        [$status, $answer] = $this->send('GET', '/health', null);
        if (($status === 200 || $status === 503) && is_array($answer) && isset($answer['status'])) {
            return $answer;
        }
        throw new ConnectionException("GET /health answered $status without the host's health: is {$this->baseUrl} a Privacy Guard host?");
    }

    /**
     * Any other operation of docs/openapi.json (settings, consents, fields,
     * de-duplication), e.g. `call('GET', '/api/v1/consents')`.
     *
     * @param array<string, mixed>|null $body
     * @return array<string, mixed>
     */
    public function call(string $method, string $path, ?array $body = null): array
    {
        return $this->request(strtoupper($method), $path, $body);
    }

    // ---- the wire ----------------------------------------------------------------------------

    /**
     * @param array<string, mixed>|null $body
     * @return array<string, mixed>
     */
    private function request(string $method, string $path, ?array $body = null): array
    {
        [$status, $answer] = $this->send($method, $path, $body);
        if ($status >= 200 && $status < 300 && is_array($answer)) {
            return $answer;
        }
        $error = is_array($answer) ? ($answer['error'] ?? null) : null;
        if (is_array($error) && is_string($error['code'] ?? null) && is_string($error['message'] ?? null)) {
            $problems = [];
            foreach ($error['problems'] ?? [] as $problem) {
                $problems[] = ['at' => (string) ($problem['at'] ?? ''), 'message' => (string) ($problem['message'] ?? '')];
            }
            throw new ApiException($status, $error['code'], $error['message'], $problems);
        }
        throw new ConnectionException("$method $path answered $status without the API's JSON: is {$this->baseUrl} a Privacy Guard host?");
    }

    /**
     * Sends one request; answers the HTTP status and the decoded JSON body.
     *
     * @param array<string, mixed>|null $body
     * @return array{0: int, 1: mixed}
     */
    private function send(string $method, string $path, ?array $body): array
    {
        $headers = [
            'Accept: application/json',
            'Authorization: Bearer ' . $this->apiKey,
            'User-Agent: privacy-guard-php/' . self::VERSION,
            'Connection: close',
        ];
        $http = [
            'method' => $method,
            'timeout' => $this->timeout,
            'ignore_errors' => true,
            'follow_location' => 0,
            'protocol_version' => 1.1,
        ];
        if ($body !== null) {
            try {
                $http['content'] = json_encode(
                    $body,
                    JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION
                );
            } catch (\JsonException $error) {
                throw new \InvalidArgumentException("$method $path: the body cannot be sent as JSON ({$error->getMessage()}); texts must be UTF-8", 0, $error);
            }
            $headers[] = 'Content-Type: application/json';
            $headers[] = 'Content-Length: ' . strlen($http['content']);
        } elseif ($method !== 'GET') {
            $headers[] = 'Content-Length: 0';
        }
        $http['header'] = implode("\r\n", $headers);
        $context = stream_context_create(['http' => $http, 'ssl' => $this->ssl]);
        $url = $this->baseUrl . $path;

        $warning = null;
        set_error_handler(static function (int $type, string $message) use (&$warning): bool {
            $warning = $message;
            return true;
        });
        try {
            $stream = fopen($url, 'rb', false, $context);
            if ($stream === false) {
                throw new ConnectionException("$method $url: no answer" . ($warning !== null ? " ($warning)" : ''));
            }
            try {
                $text = stream_get_contents($stream);
                $meta = stream_get_meta_data($stream);
            } finally {
                fclose($stream);
            }
        } finally {
            restore_error_handler();
        }
        if ($text === false || !empty($meta['timed_out'])) {
            throw new ConnectionException("$method $url: the answer did not arrive within {$this->timeout} s");
        }
        $status = 0;
        $contentType = '';
        foreach ($meta['wrapper_data'] ?? [] as $line) {
            if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $match)) {
                $status = (int) $match[1];
                $contentType = '';
            } elseif (stripos($line, 'content-type:') === 0) {
                $contentType = strtolower(trim(substr($line, strlen('content-type:'))));
            }
        }
        if ($status === 0) {
            throw new ConnectionException("$method $url: the answer has no HTTP status");
        }
        if (strpos($contentType, 'application/json') !== 0) {
            throw new ConnectionException(
                "$method $url answered $status with `" . ($contentType ?: 'no content type') . "`, not the API's JSON: " . substr($text, 0, 200)
            );
        }
        try {
            $answer = json_decode($text, true, 512, JSON_THROW_ON_ERROR | JSON_BIGINT_AS_STRING);
        } catch (\JsonException $error) {
            throw new ConnectionException("$method $url answered $status with broken JSON: {$error->getMessage()}", 0, $error);
        }
        return [$status, $answer];
    }

    // ---- shapes ---------------------------------------------------------------------------------

    /** `/api/v1/subjects/{module}/{id}` */
    private static function person(string $module, string $id): string
    {
        return '/api/v1/subjects/' . self::segment($module) . '/' . self::segment($id);
    }

    /** A path segment: not empty, percent-encoded (an id may hold `/`). */
    private static function segment(string $value): string
    {
        if ($value === '') {
            throw new \InvalidArgumentException('a module or id in the path is empty');
        }
        return rawurlencode($value);
    }

    /**
     * A JSON array of the list's items (1 to 1000: the API refuses other counts with its
     * own message).
     *
     * @param array<mixed> $items
     * @return list<mixed>
     */
    private static function listOf(array $items, string $what): array
    {
        if ($items !== [] && array_keys($items) !== range(0, count($items) - 1)) {
            throw new \InvalidArgumentException("`$what` is a list (keys 0, 1, 2, ...)");
        }
        return $items;
    }

    /**
     * Field values as the API takes them: a JSON object of texts (even when empty, or
     * when field names look like numbers).
     *
     * @param array<mixed> $fields
     */
    private static function texts(array $fields, string $what): object
    {
        $texts = [];
        foreach ($fields as $name => $value) {
            if ($value === null) {
                $value = '';
            } elseif (is_int($value) || is_float($value)) {
                $value = (string) $value;
            } elseif (!is_string($value)) {
                throw new \InvalidArgumentException("{$what}[{$name}] must be text, a number or null, not " . get_debug_type($value));
            }
            $texts[(string) $name] = $value;
        }
        return (object) $texts;
    }
}
