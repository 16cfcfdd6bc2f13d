/**
 * Patroni's `log.format` and `log.dateformat` are Python logging formats; these helpers render
 * them so a Patroni configuration keeps producing the lines its log shipping expects.
 */
import type { LogLevel, LogRecord } from '@pgtools/core';

const PY_LEVEL: Record<LogLevel, { name: string; no: number }> = {
  debug: { name: 'DEBUG', no: 10 },
  info: { name: 'INFO', no: 20 },
  warn: { name: 'WARNING', no: 30 },
  error: { name: 'ERROR', no: 40 },
};

/** The LogRecord attributes ha-agent can fill; Python's others (module, lineno...) mean nothing here. */
export const PY_ATTRIBUTES = [
  'asctime',
  'created',
  'msecs',
  'relativeCreated',
  'levelname',
  'levelno',
  'message',
  'msg',
  'name',
  'process',
  'processName',
  'thread',
  'threadName',
] as const;

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/**
 * Python's `time.strftime` in local time, for the directives people put in `log.dateformat`;
 * an unknown directive is kept as written.
 *
 * @example
 * ```ts
 * strftime(new Date(), '%Y-%m-%dT%H:%M:%S%z'); // '2024-05-01T12:00:00+0200'
 * ```
 */
export function strftime(date: Date, format: string): string {
  return format.replace(/%([a-zA-Z%])/g, (whole, d: string) => {
    const offset = -date.getTimezoneOffset();
    switch (d) {
      case 'Y':
        return String(date.getFullYear());
      case 'y':
        return pad(date.getFullYear() % 100);
      case 'm':
        return pad(date.getMonth() + 1);
      case 'd':
        return pad(date.getDate());
      case 'H':
        return pad(date.getHours());
      case 'I':
        return pad(date.getHours() % 12 || 12);
      case 'p':
        return date.getHours() < 12 ? 'AM' : 'PM';
      case 'M':
        return pad(date.getMinutes());
      case 'S':
        return pad(date.getSeconds());
      case 'f':
        return pad(date.getMilliseconds() * 1000, 6);
      case 'j':
        return pad(Math.floor((Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) - Date.UTC(date.getFullYear(), 0, 1)) / 86_400_000) + 1, 3);
      case 'a':
        return DAYS[date.getDay()]!.slice(0, 3);
      case 'A':
        return DAYS[date.getDay()]!;
      case 'b':
        return MONTHS[date.getMonth()]!.slice(0, 3);
      case 'B':
        return MONTHS[date.getMonth()]!;
      case 'z':
        return `${offset >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
      case 'Z':
        return (
          Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
            .formatToParts(date)
            .find((p) => p.type === 'timeZoneName')?.value ?? ''
        );
      case 's':
        return String(Math.floor(date.getTime() / 1000));
      case '%':
        return '%';
      default:
        return whole;
    }
  });
}

/**
 * The Python LogRecord attributes of one log call, as `%(name)s` placeholders and JSON `format`
 * lists name them; `asctime` follows `dateformat` like Python's logging.Formatter.
 *
 * @example
 * ```ts
 * pyAttributes({ time: new Date(), level: 'warn', message: 'x', fields: {} }, { name: 'ha-agent' }).levelname; // 'WARNING'
 * ```
 */
export function pyAttributes(
  record: LogRecord,
  options: { name: string; dateformat?: string | undefined; startedAt?: number },
): Record<string, string | number> {
  const t = record.time;
  const asctime = options.dateformat !== undefined ? strftime(t, options.dateformat) : `${strftime(t, '%Y-%m-%d %H:%M:%S')},${pad(t.getMilliseconds(), 3)}`;
  const level = PY_LEVEL[record.level];
  return {
    asctime,
    created: t.getTime() / 1000,
    msecs: t.getMilliseconds(),
    relativeCreated: t.getTime() - (options.startedAt ?? t.getTime()),
    levelname: level.name,
    levelno: level.no,
    message: record.message,
    msg: record.message,
    name: options.name,
    process: process.pid,
    processName: 'MainProcess',
    thread: 0,
    threadName: 'MainThread',
  };
}

const PLACEHOLDER = /%\(([^)]*)\)([-#0 +]*)(\d*)(?:\.(\d+))?([sdifrgeExX])|%%/g;

/**
 * The attribute names a Python logging format string uses, in order.
 *
 * @example
 * ```ts
 * pyFormatNames('%(asctime)s %(levelname)s: %(message)s'); // ['asctime', 'levelname', 'message']
 * ```
 */
export function pyFormatNames(format: string): string[] {
  return [...format.matchAll(PLACEHOLDER)].map((m) => m[1]).filter((n): n is string => n !== undefined);
}

/**
 * Renders `%(attr)[flags][width][.precision]type` placeholders like Python's `%` operator;
 * an attribute that is not in `attrs` renders empty.
 *
 * @example
 * ```ts
 * renderPyFormat('%(levelname)-8s|%(message)s', { levelname: 'INFO', message: 'hi' }); // 'INFO    |hi'
 * ```
 */
export function renderPyFormat(format: string, attrs: Record<string, string | number>): string {
  return format.replace(PLACEHOLDER, (whole, name: string | undefined, flags: string, width: string, precision: string | undefined, type: string) => {
    if (whole === '%%') return '%';
    const value = attrs[name!];
    let text: string;
    if (value === undefined) text = '';
    else if (type === 'd' || type === 'i') text = String(Math.trunc(Number(value)));
    else if (type === 'f' || type === 'e' || type === 'E' || type === 'g') text = Number(value).toFixed(precision !== undefined ? Number(precision) : 6);
    else text = precision !== undefined ? String(value).slice(0, Number(precision)) : String(value);
    const w = width === '' ? 0 : Number(width);
    if (text.length >= w) return text;
    if (flags.includes('-')) return text.padEnd(w);
    return flags.includes('0') && typeof value === 'number' ? text.padStart(w, '0') : text.padStart(w);
  });
}
