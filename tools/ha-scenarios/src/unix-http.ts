import { request } from 'node:http';

/** An HTTP answer read whole. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * One HTTP request over a unix socket (the test process reaches the nodes' REST APIs through
 * HAProxy's forwarding sockets). Rejects on a connection error or after `timeoutMs`.
 *
 * @example
 * ```ts
 * import { unixHttp } from '@pgtools/ha-scenarios';
 * const res = await unixHttp('/tmp/haproxy/api-node1.sock', 'GET', '/cluster');
 * JSON.parse(res.body).members;
 * ```
 */
export function unixHttp(socketPath: string, method: string, path: string, body?: unknown, timeoutMs = 2000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        method,
        path,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} via ${socketPath}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
