<?php
// The Privacy Guard API refused a request: its HTTP status, its error code and its message.

declare(strict_types=1);

namespace PrivacyGuard;

/**
 * The API answered with an error (`{"error": {"code", "message", "problems"?}}`).
 *
 * `getMessage()` is the API's message, `getStatus()` the HTTP status (also `getCode()`),
 * `getErrorCode()` the stable code a program can branch on (`invalid_request`,
 * `not_found`, `status_refused`, `unauthorized`, `plugin_fault`, ...: docs/openapi.json
 * lists them per operation), and `getProblems()` each part of the input at fault.
 */
final class ApiException extends \RuntimeException
{
    private int $status;
    private string $errorCode;
    /** @var list<array{at: string, message: string}> */
    private array $problems;

    /**
     * @param list<array{at: string, message: string}> $problems
     */
    public function __construct(int $status, string $errorCode, string $message, array $problems = [])
    {
        parent::__construct($message, $status);
        $this->status = $status;
        $this->errorCode = $errorCode;
        $this->problems = $problems;
    }

    /** The HTTP status: 400, 401, 404, 409, 413, 415, 422 or 503. */
    public function getStatus(): int
    {
        return $this->status;
    }

    /** The API's error code, e.g. `invalid_request`. */
    public function getErrorCode(): string
    {
        return $this->errorCode;
    }

    /**
     * Each part of the input at fault, as `['at' => ..., 'message' => ...]`.
     *
     * @return list<array{at: string, message: string}>
     */
    public function getProblems(): array
    {
        return $this->problems;
    }

    /** True when retrying later may succeed (a plugin fault, a database that did not answer). */
    public function isTemporary(): bool
    {
        return $this->status === 503;
    }

    public function __toString(): string
    {
        $text = sprintf('Privacy Guard API %d %s: %s', $this->status, $this->errorCode, $this->getMessage());
        foreach ($this->problems as $problem) {
            $text .= sprintf("\n  - %s: %s", $problem['at'], $problem['message']);
        }
        return $text;
    }
}
