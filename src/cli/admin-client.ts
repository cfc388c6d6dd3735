import { CliError } from './io.ts';

/** A thin client of the administration API: the profile commands are this API, from a shell. */
export function createAdminClient(cfg: { url: string; token: string }, doFetch: typeof globalThis.fetch = globalThis.fetch) {
  return async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(`${cfg.url}/api/v1/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${cfg.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new CliError(`cannot reach the key service at ${cfg.url} (${cause}); is it running? (WAXSEAL_URL)`);
    }
    const json = (await res.json().catch(() => null)) as { detail?: string; errors?: string[] } | null;
    if (!res.ok) {
      const errors = json?.errors?.length ? `\n  - ${json.errors.join('\n  - ')}` : '';
      throw new CliError(`${json?.detail ?? `HTTP ${res.status}`}${errors}`);
    }
    return json as T;
  };
}
