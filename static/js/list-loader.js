/**
 * list-loader.js — how every list the views show loads: busy while the
 * call is out (`aria-busy`, its buttons disabled), an answer that arrives
 * after a newer call (or after `forget`) dropped, and `data-loaded`
 * counted once it settles, so browser tests can wait for the next load.
 */

/** Binds the loading of `list` (an element) and the `buttons` that must wait for it. */
export function createListLoader(list, ...buttons) {
  let seq = 0;
  let loaded = 0;

  function busy(on) {
    list.setAttribute('aria-busy', String(on));
    for (const b of buttons) b.disabled = on;
  }

  return {
    /**
     * Calls `fetch()`, then `apply(answer)` or `fail(err)` unless a newer
     * load (or `forget`) came in between.
     */
    async run(fetch, apply, fail) {
      const mine = ++seq;
      busy(true);
      try {
        const answer = await fetch();
        if (mine === seq) apply(answer);
      } catch (err) {
        if (mine === seq) fail(err);
      } finally {
        if (mine === seq) {
          busy(false);
          loaded += 1;
          list.dataset.loaded = String(loaded);
        }
      }
    },
    /** Drops the answer of the load under way, if any. */
    forget() {
      seq += 1;
      busy(false);
    },
  };
}
