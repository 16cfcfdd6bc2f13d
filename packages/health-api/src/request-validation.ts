/** A validated `POST /switchover` or `POST /failover` body. */
export interface SwitchoverRequest {
  /** The current leader named by the caller (`leader`, or 3.0.2's older `master`). */
  leader?: string;
  /** The member to promote (`candidate`, or `member`). */
  candidate?: string;
  /** For a scheduled switchover: when (always with a timezone, always in the future). */
  scheduledAt?: Date;
}

/** A validated `POST /restart` body. */
export interface RestartRequest {
  restartPending?: boolean;
  role?: 'primary' | 'replica';
  postgresVersion?: string;
  /** Seconds. */
  timeout?: number;
  scheduledAt?: Date;
}

/** A validation failure: the HTTP status and the text Patroni answers with. */
export interface Rejection {
  status: number;
  message: string;
}

const TZ_SUFFIX = /(Z|[+-]\d{2}(:?\d{2})?)$/i;

/**
 * Parses a `scheduled_at`/`schedule` timestamp like Patroni: a timezone is mandatory (400) and the
 * time must be in the future (422).
 *
 * @example
 * ```ts
 * import { parseSchedule } from '@pgtools/health-api';
 * parseSchedule('2030-01-01T10:00+00:00', 'switchover', Date.now()); // { at: Date }
 * ```
 */
export function parseSchedule(value: unknown, action: string, now: number): { at: Date } | Rejection {
  if (typeof value !== 'string') {
    return { status: 422, message: `Unable to parse scheduled timestamp (${String(value)}). It should be in an unambiguous format, e.g. ISO 8601` };
  }
  const text = value.trim();
  const ms = Date.parse(text.replace(' ', 'T'));
  if (!Number.isFinite(ms)) {
    return { status: 422, message: `Unable to parse scheduled timestamp (${text}). It should be in an unambiguous format, e.g. ISO 8601` };
  }
  if (!TZ_SUFFIX.test(text)) return { status: 400, message: `Timezone information is mandatory for the scheduled ${action}` };
  if (ms < now) return { status: 422, message: `Cannot schedule ${action} in the past` };
  return { at: new Date(ms) };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Validates a switchover/failover body with Patroni's messages (the cluster-level checks, 412
 * "no good candidates", belong to the handler).
 *
 * @example
 * ```ts
 * import { validateSwitchover } from '@pgtools/health-api';
 * validateSwitchover('switchover', { leader: 'node1', candidate: 'node2' }, { paused: false, now: Date.now() });
 * ```
 */
export function validateSwitchover(
  action: 'switchover' | 'failover',
  body: Record<string, unknown>,
  ctx: { paused: boolean; now: number },
): SwitchoverRequest | Rejection {
  const leader = str(body.leader) ?? str(body.master);
  const candidate = str(body.candidate) ?? str(body.member);
  const out: SwitchoverRequest = {};
  if (leader) out.leader = leader;
  if (candidate) out.candidate = candidate;
  if (action === 'failover' && !candidate) return { status: 400, message: 'Failover could be performed only to a specific candidate' };
  if (action === 'switchover' && !leader) return { status: 400, message: 'Switchover could be performed only from a specific leader' };
  if (body.scheduled_at !== undefined && body.scheduled_at !== null && body.scheduled_at !== '') {
    if (action === 'failover') return { status: 400, message: "Failover can't be scheduled" };
    const parsed = parseSchedule(body.scheduled_at, action, ctx.now);
    if ('status' in parsed) return parsed;
    out.scheduledAt = parsed.at;
  }
  if (ctx.paused && !candidate) return { status: 400, message: 'Switchover is possible only to a specific candidate in a paused state' };
  return out;
}

const RESTART_KEYS = new Set(['restart_pending', 'role', 'postgres_version', 'timeout', 'schedule']);

/**
 * Validates a `POST /restart` body with Patroni's messages.
 *
 * @example
 * ```ts
 * import { validateRestart } from '@pgtools/health-api';
 * validateRestart({ role: 'replica', timeout: 60 }, Date.now()); // { role: 'replica', timeout: 60 }
 * ```
 */
export function validateRestart(body: Record<string, unknown>, now: number): RestartRequest | Rejection {
  const out: RestartRequest = {};
  for (const [key, value] of Object.entries(body)) {
    if (!RESTART_KEYS.has(key)) return { status: 400, message: `Unknown filter for the scheduled restart: ${key}` };
    if (key === 'role') {
      if (value !== 'master' && value !== 'primary' && value !== 'replica')
        return { status: 400, message: 'PostgreSQL role should be either primary or replica' };
      out.role = value === 'replica' ? 'replica' : 'primary';
    } else if (key === 'postgres_version') {
      if (typeof value !== 'string' || !/^\d+(\.\d+){0,2}$/.test(value)) {
        return { status: 400, message: 'PostgreSQL version should be in the first.major.minor format' };
      }
      out.postgresVersion = value;
    } else if (key === 'timeout') {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+\s*s?$/.test(value) ? parseInt(value, 10) : NaN;
      if (!Number.isFinite(n) || n < 0) return { status: 400, message: 'Timeout should be a positive integer (seconds)' };
      out.timeout = n;
    } else if (key === 'restart_pending') {
      out.restartPending = value === true || value === 'true';
    } else if (key === 'schedule') {
      const parsed = parseSchedule(value, 'restart', now);
      if ('status' in parsed) return parsed;
      out.scheduledAt = parsed.at;
    }
  }
  return out;
}
