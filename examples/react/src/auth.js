// The one AuthClient of the app, and a hook that follows its state.
import { useEffect, useState } from 'react';
import { AuthClient } from '@portcullis/client';

export const auth = new AuthClient();

/** `{phase: 'loading'|'signed-in'|'signed-out', user, reason, ended}` from the client's snapshot or state. */
function view(state, reason = null) {
  return {
    phase: state.user ? 'signed-in' : 'signed-out',
    user: state.user,
    reason: state.reason ?? reason,
    ended: state.ended ?? null,
  };
}

/** The session as React state: restored from the cookie on mount, then every change. */
export function useSession() {
  const [session, setSession] = useState({ phase: 'loading', user: null, reason: null, ended: null });
  useEffect(() => {
    const unsubscribe = auth.onChange((state) => setSession(view(state)));
    // init() runs once however often this effect does; it never rejects
    auth.init().then((snapshot) => setSession((now) => (now.phase === 'loading' ? view(snapshot, 'restore') : now)));
    return unsubscribe;
  }, []);
  return session;
}
