/**
 * time.js — timestamps from the gateway (RFC 3339, UTC) shown in the
 * reader's language and time zone: "3 minutes ago", with the full date
 * and time in a tooltip and the machine form in <time datetime>.
 */

const UNITS = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/** "3 minutes ago", "in 29 days", "just now". */
export function relative(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  if (Math.abs(seconds) < 45) return 'just now';
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(Math.round(seconds / 60), 'minute');
}

/** A <time> element for an RFC 3339 string (or "—" when there is none). */
export function timeElement(iso, { absolute = false } = {}) {
  const el = document.createElement('time');
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) {
    el.textContent = '—';
    return el;
  }
  el.dateTime = iso;
  const full = date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  el.textContent = absolute ? date.toLocaleDateString(undefined, { dateStyle: 'medium' }) : relative(date);
  el.title = full;
  return el;
}
