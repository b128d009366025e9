/**
 * status.js — the page's one aria-live region (#status).
 * Errors get the class "error" so they stand out and tests can find them.
 */
export function createStatus(region) {
  function show(message, isError) {
    region.classList.toggle('error', isError);
    region.textContent = message;
  }
  return {
    say: (message) => show(message, false),
    error: (message) => show(message, true),
    clear: () => show('', false),
  };
}
