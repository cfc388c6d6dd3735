import { request as httpRequest } from 'undici';
import type { EnvelopeUpload } from '../domain/envelopes/envelope-types.ts';
import type { ProfileSettings } from '../domain/profiles/profile-settings.ts';

/**
 * The gateway's side of the key API. Requests that may not have reached the key service
 * (network errors, timeouts, 5xx, 429) are retried with exponential backoff and jitter; uploads
 * are idempotent on the server, so retrying blindly is safe. Anything else fails at once.
 */
export interface GatewayProfileInfo {
  profile: { name: string; settings: ProfileSettings };
  keyService: { url: string };
  versions: { envelope: number; securedoc: number };
}

export interface KeyServiceClient {
  readonly url: string;
  getProfile(): Promise<GatewayProfileInfo>;
  putEnvelope(id: string, upload: EnvelopeUpload): Promise<{ created: boolean; payloadPending: boolean; payloadUrl: string | null }>;
  putPayload(id: string, ciphertext: Uint8Array): Promise<void>;
}

export type KeyServiceErrorCode = 'unreachable' | 'unauthorized' | 'conflict' | 'rejected';

export class KeyServiceError extends Error {
  readonly code: KeyServiceErrorCode;
  readonly status: number | null;
  constructor(code: KeyServiceErrorCode, message: string, status: number | null = null) {
    super(message);
    this.name = 'KeyServiceError';
    this.code = code;
    this.status = status;
  }
}

export interface KeyClientOptions {
  url: string;
  credential: string;
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

export function createKeyServiceClient(opts: KeyClientOptions): KeyServiceClient {
  const base = opts.url.replace(/\/+$/, '');
  const attempts = opts.attempts ?? 6;
  const baseDelay = opts.baseDelayMs ?? 500;
  const maxDelay = opts.maxDelayMs ?? 8_000;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  async function request(method: string, path: string, body?: { json: unknown } | { bytes: Uint8Array }): Promise<{ status: number; json: unknown }> {
    const headers: Record<string, string> = { authorization: `Bearer ${opts.credential}`, accept: 'application/json' };
    let payload: string | Uint8Array | undefined;
    if (body && 'json' in body) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body) {
      // undici's request() writes the bytes as they are; fetch() would copy a 25 MB payload twice.
      headers['content-type'] = 'application/octet-stream';
      payload = body.bytes;
    }
    let lastReason = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let status = 0;
      let json: unknown = null;
      let retryAfterMs = 0;
      try {
        const res = await httpRequest(`${base}${path}`, { method: method as 'GET', headers, body: payload, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
        // The status counts only once the whole answer arrived: a 2xx cut off mid-body is retried.
        const text = await res.body.text();
        status = res.statusCode;
        const retryAfter = Number(res.headers['retry-after']);
        if (Number.isFinite(retryAfter) && retryAfter > 0) retryAfterMs = retryAfter * 1000;
        try {
          json = text ? JSON.parse(text) : null;
        } catch {
          json = null;
        }
      } catch (err) {
        const e = err as { code?: string; message?: string; cause?: { code?: string } };
        lastReason = e.cause?.code ?? e.code ?? e.message ?? String(err);
      }
      if (status >= 200 && status < 300) {
        if (json !== null && typeof json === 'object') return { status, json };
        lastReason = `HTTP ${status} without a JSON answer`;
        status = 0;
      }
      if (status !== 0) {
        const detail = (json as { detail?: string } | null)?.detail ?? `HTTP ${status}`;
        if (!RETRYABLE.has(status)) {
          if (status === 401 || status === 403) {
            throw new KeyServiceError('unauthorized', `The key service refused the gateway credential (${detail}). Provision the profile again or check WAXSEAL_CREDENTIAL.`, status);
          }
          if (status === 409) throw new KeyServiceError('conflict', detail, status);
          const errors = (json as { errors?: string[] } | null)?.errors;
          throw new KeyServiceError('rejected', `The key service refused the request: ${detail}${errors ? ` (${errors.join('; ')})` : ''}`, status);
        }
        lastReason = `HTTP ${status} ${detail}`;
      }
      if (attempt < attempts) {
        const exp = Math.min(maxDelay, baseDelay * 2 ** (attempt - 1));
        // A service that says when to come back (429/503 Retry-After) is believed, within a minute.
        const delayMs = Math.max(Math.round(exp / 2 + Math.random() * (exp / 2)), Math.min(retryAfterMs, 60_000));
        opts.onRetry?.({ attempt, delayMs, reason: lastReason });
        await sleep(delayMs);
      }
    }
    throw new KeyServiceError(
      'unreachable',
      `The key service at ${base} could not be reached after ${attempts} attempts (last error: ${lastReason}). The message was not sealed and no envelope was written; send it again later.`,
    );
  }

  return {
    url: base,
    async getProfile() {
      return (await request('GET', '/api/v1/gateway/profile')).json as GatewayProfileInfo;
    },
    async putEnvelope(id, upload) {
      return (await request('PUT', `/api/v1/envelopes/${id}`, { json: upload })).json as {
        created: boolean;
        payloadPending: boolean;
        payloadUrl: string | null;
      };
    },
    async putPayload(id, ciphertext) {
      await request('PUT', `/api/v1/envelopes/${id}/payload`, { bytes: ciphertext });
    },
  };
}
