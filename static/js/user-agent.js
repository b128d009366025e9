/**
 * user-agent.js — a User-Agent string shortened to "Browser on OS" for the
 * sessions list. For display only: a few well-known tokens, checked in the
 * order that tells look-alikes apart (Edge and Opera also say "Chrome",
 * Chrome also says "Safari"); anything else reads as "Unknown browser".
 */

const BROWSERS = [
  [/\bEdg(e|A|iOS)?\//, 'Edge'],
  [/\b(OPR|Opera)\//, 'Opera'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\b(HeadlessChrome|Chrome|Chromium|CriOS)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
  [/\bcurl\//, 'curl'],
];

const SYSTEMS = [
  [/\b(iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b|\bX11\b/, 'Linux'],
];

const pick = (table, ua) => table.find(([pattern]) => pattern.test(ua))?.[1] ?? null;

/** "Firefox on Linux", "Safari on iOS", "Chrome", or "Unknown browser". */
export function describeUserAgent(ua) {
  if (typeof ua !== 'string' || !ua.trim()) return 'Unknown browser';
  const browser = pick(BROWSERS, ua) ?? 'Unknown browser';
  const system = pick(SYSTEMS, ua);
  return system ? `${browser} on ${system}` : browser;
}
