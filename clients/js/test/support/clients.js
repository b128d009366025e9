// The AuthClients of one test file: each test gets Web Locks installed and
// a channel of its own, and every client made is destroyed after it.
import { afterEach, beforeEach, mock } from 'node:test';

import { AuthClient } from '../../src/auth-client.js';
import { freshChannel, installWebLocks } from './gateway.js';

/**
 * Registers the hooks and returns `client(fetch, options)`, which makes an
 * AuthClient with quiet defaults (no session watch, no hand-off pause)
 * over `defaults` and `options`.
 */
export function clientsPerTest(defaults = {}) {
  let uninstall = () => {};
  const made = [];
  beforeEach(() => {
    uninstall = installWebLocks();
  });
  afterEach(() => {
    for (const auth of made.splice(0)) auth.destroy();
    uninstall();
    mock.restoreAll();
    mock.timers.reset();
  });
  return (fetch, options = {}) => {
    const auth = new AuthClient({
      fetch,
      channelName: freshChannel(),
      watchInterval: 0,
      handoffDelay: 0,
      ...defaults,
      ...options,
    });
    made.push(auth);
    return auth;
  };
}
