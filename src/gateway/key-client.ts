import http from 'node:http';
import https from 'node:https';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
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
  /**
   * An HTTP(S) proxy to reach the key service through, e.g. 'http://proxy.example.org:3128'
   * (credentials in the URL are sent as Proxy-Authorization). https key services are reached
   * through a CONNECT tunnel, so the proxy sees only the host name, never the credential or keys.
   */
  proxy?: string | null;
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
  // One keep-alive agent per client: a gateway uploads many envelopes to one key service.
  const agent = createAgent(base, opts.proxy ?? null);

  async function request(method: string, path: string, body?: { json: unknown } | { bytes: Uint8Array }): Promise<{ status: number; json: unknown }> {
    const headers: Record<string, string> = { authorization: `Bearer ${opts.credential}`, accept: 'application/json' };
    let payload: string | Uint8Array | undefined;
    if (body && 'json' in body) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body) {
      // node:http writes the bytes as they are; fetch() copied a 25 MB payload twice.
      headers['content-type'] = 'application/octet-stream';
      payload = body.bytes;
    }
    let lastReason = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let status = 0;
      let json: unknown = null;
      let retryAfterMs = 0;
      try {
        const res = await send(`${base}${path}`, method, headers, payload, timeoutMs, agent);
        // send() resolves only once the whole answer arrived: a 2xx cut off mid-body is retried.
        const text = res.text;
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

/** The agent for the key service's URL: direct, or through the proxy (http-proxy-agent / https-proxy-agent). */
function createAgent(base: string, proxy: string | null): http.Agent {
  const secure = base.startsWith('https:');
  if (!proxy) return secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  const url = new URL(proxy);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`the proxy must be an http:// or https:// URL, not ${url.protocol}`);
  return secure ? new HttpsProxyAgent(url, { keepAlive: true }) : new HttpProxyAgent(url, { keepAlive: true });
}

interface RawResponse {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/**
 * One HTTP exchange with node:http(s). The gateway's own client, rather than fetch or undici:
 * it sends a 25 MB payload without copying it and keeps the sealing process small. Resolves
 * only when the whole answer has arrived; a connection cut mid-answer rejects.
 */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | Uint8Array | undefined,
  timeoutMs: number,
  agent: http.Agent,
): Promise<RawResponse> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const length = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  return new Promise((resolve, reject) => {
    const req = transport.request(target, { method, agent, timeout: timeoutMs, headers: { ...headers, 'content-length': String(length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(Object.assign(new Error('the answer was cut off'), { code: 'ECONNRESET' }));
        else resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}
