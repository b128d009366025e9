/**
 * webauthn.js — the browser's side of a passkey ceremony (contract §9): the
 * gateway's options in the JSON form of WebAuthn Level 3 go through
 * `PublicKeyCredential.parseCreationOptionsFromJSON` /
 * `parseRequestOptionsFromJSON`, the browser makes or uses the passkey, and
 * the credential goes back as `PublicKeyCredential.toJSON()`. Where a browser
 * lacks those (before Chrome 129, Safari 18, Firefox 119) a small fallback
 * turns the base64url fields into bytes and back; the CBOR and signatures
 * stay the authenticator's and the gateway's.
 */

/**
 * A passkey's options in their JSON form, as the gateway sends them
 * (`PublicKeyCredentialCreationOptionsJSON` / `…RequestOptionsJSON`).
 * @typedef {any} OptionsJson
 */

/**
 * base64url (no padding) of bytes.
 * @param {ArrayBuffer} buffer
 */
function toBase64Url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Bytes of a base64url string (padding optional).
 * @param {string} text
 */
function fromBase64Url(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/**
 * A credential descriptor list with ids as bytes.
 * @param {{id: string, type: PublicKeyCredentialType}[] | undefined} list
 * @returns {PublicKeyCredentialDescriptor[] | undefined}
 */
function descriptors(list) {
  return list?.map((d) => ({ ...d, id: fromBase64Url(d.id) }));
}

/**
 * @param {OptionsJson} json
 * @returns {PublicKeyCredentialCreationOptions}
 */
function creationOptions(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function') {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: fromBase64Url(json.challenge),
    user: { ...json.user, id: fromBase64Url(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

/**
 * @param {OptionsJson} json
 * @returns {PublicKeyCredentialRequestOptions}
 */
function requestOptions(json) {
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function') {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return { ...json, challenge: fromBase64Url(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
}

/**
 * The credential in `toJSON()` form, by the browser or by the fallback.
 * @param {any} credential a PublicKeyCredential
 * @returns {Record<string, unknown>}
 */
function credentialJson(credential) {
  if (typeof credential.toJSON === 'function') return credential.toJSON();
  const r = credential.response;
  /** @type {Record<string, unknown>} */
  const response = { clientDataJSON: toBase64Url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toBase64Url(r.attestationObject);
    response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
  } else {
    response.authenticatorData = toBase64Url(r.authenticatorData);
    response.signature = toBase64Url(r.signature);
    if (r.userHandle) response.userHandle = toBase64Url(r.userHandle);
  }
  return {
    id: credential.id,
    rawId: toBase64Url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    clientExtensionResults: credential.getClientExtensionResults(),
    response,
  };
}

/** Whether this browser can use passkeys at all. */
export function passkeysSupported() {
  return typeof window !== 'undefined' && typeof window.PublicKeyCredential === 'function'
    && typeof navigator.credentials?.get === 'function';
}

/** Whether the browser offers passkeys in the username field's autofill. */
export async function autofillSupported() {
  if (!passkeysSupported() || typeof PublicKeyCredential.isConditionalMediationAvailable !== 'function') {
    return false;
  }
  try {
    return await PublicKeyCredential.isConditionalMediationAvailable();
  } catch {
    return false;
  }
}

/**
 * Makes a passkey for the gateway's creation options (`publicKey` of
 * `POST /auth/passkeys/options`); resolves with it as JSON.
 * @param {OptionsJson} publicKey
 */
export async function createPasskey(publicKey) {
  const credential = await navigator.credentials.create({ publicKey: creationOptions(publicKey) });
  return credentialJson(credential);
}

/**
 * Signs the gateway's request options (`publicKey` of a `…/passkey-options`
 * or `/auth/passkey/options` answer) with a passkey; resolves with the
 * assertion as JSON. `mediation: 'conditional'` waits for the user to pick
 * a passkey in the username field's autofill; `signal` aborts the wait.
 * @param {OptionsJson} publicKey
 * @param {{mediation?: CredentialMediationRequirement, signal?: AbortSignal}} [options]
 */
export async function usePasskey(publicKey, { mediation, signal } = {}) {
  const credential = await navigator.credentials.get({
    publicKey: requestOptions(publicKey),
    ...(mediation ? { mediation } : {}),
    ...(signal ? { signal } : {}),
  });
  return credentialJson(credential);
}

/**
 * The proof of a second step or a step-up: the gateway's `{ceremony,
 * publicKey}` answered by a passkey, as `{ceremony, credential}`.
 * @param {{ceremony: string, publicKey: OptionsJson}} options
 * @returns {Promise<{ceremony: string, credential: Record<string, unknown>}>}
 */
export async function passkeyProof({ ceremony, publicKey }) {
  return { ceremony, credential: await usePasskey(publicKey) };
}

/**
 * What to tell the user when the browser's part failed: `null` when they
 * closed the browser's dialog themselves (nothing to say), else a sentence.
 * @param {any} err
 * @returns {string | null}
 */
export function ceremonyProblem(err) {
  if (err?.name === 'AbortError') return null;
  if (err?.name === 'NotAllowedError') return 'The passkey was not used: the request was cancelled or timed out.';
  if (err?.name === 'InvalidStateError') return 'This device already holds a passkey for your account.';
  if (err?.name === 'SecurityError') return 'Passkeys do not work on this address; open the address your administrator gave you.';
  return `The browser could not use a passkey: ${err?.message ?? err}`;
}
