// What a leaked credential looks like in text output. Shared by scripts/test.mjs
// (which scans the whole test run) and test/unit/secret-patterns.test.ts.
export const LEAKS = [
  ['PEM private key', /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/],
  ['JWT', /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/],
  ['bearer credential', /\bBearer [A-Za-z0-9._~+/-]{12,}=*/],
  ['client assertion', /client_assertion=[A-Za-z0-9._-]{20,}/],
  ['client secret field', /"client_secret"\s*:\s*"(?!\[redacted\])[^"]{6,}"/],
  ['access token field', /"access_token"\s*:\s*"(?!\[redacted\])[^"]{6,}"/]
]
