import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** Result of {@link probe}. */
export interface ProbeResult {
  status: number;
  body: string;
}

/**
 * One GET with a short timeout, for readiness checks. HTTPS without a `ca` skips verification (the
 * components' self-signed serving certificates); a bearer token is sent only when given.
 *
 * @example
 * const r = await probe('https://127.0.0.1:6443/readyz', { token, ca });
 */
export function probe(url: string, opts: { token?: string; ca?: string | Buffer; timeoutMs?: number } = {}): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const req =
      u.protocol === 'https:'
        ? httpsRequest(u, {
            method: 'GET',
            headers,
            ca: opts.ca,
            rejectUnauthorized: opts.ca !== undefined,
            timeout: opts.timeoutMs ?? 3000,
          })
        : httpRequest(u, { method: 'GET', headers, timeout: opts.timeoutMs ?? 3000 });
    req.on('timeout', () => req.destroy(new Error(`timeout requesting ${url}`)));
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 64 * 1024) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.end();
  });
}
