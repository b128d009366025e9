// A TypeScript app's use of the packed package: type-checked (strict)
// against the tarball's .d.ts by installs.test.js. The @ts-expect-error
// lines prove the types are real, not `any`.
import createAuthClient, {
  AuthClient,
  AuthError,
  decodeJwt,
  parseWwwAuthenticate,
  stepUpChallenge,
  type AuthState,
  type ChangeReason,
  type FactorProof,
  type StepUpRequest,
  type User,
} from '@portcullis/client';

async function askForCode(request: StepUpRequest): Promise<void> {
  const minutes: number | null = request.maxAge === null ? null : request.maxAge / 60;
  void minutes;
  const wanted: string[] = request.acrValues;
  void wanted;
  const user: User | null = await request.stepUp({ totp: '123456' });
  void user?.roles.includes('admin');
}

const auth: AuthClient = createAuthClient({ baseUrl: 'https://gateway.example', credentials: 'include', onStepUp: askForCode });
const again = new AuthClient({ watchInterval: 0 });
void again;

auth.onChange((state: AuthState) => {
  const reason: ChangeReason = state.reason;
  const name: string | undefined = state.user?.username;
  const why: string | undefined = state.ended?.reason;
  void [reason, name, why, state.expiresAt, state.error?.code];
});

export async function signIn(username: string, password: string, code: () => Promise<string>): Promise<User | null> {
  try {
    return await auth.login(username, password);
  } catch (err) {
    if (err instanceof AuthError && err.code === 'mfa_required' && err.details?.mfa_token) {
      const proof: FactorProof = { totp: await code() };
      return auth.loginSecondFactor(err.details.mfa_token, proof);
    }
    if (err instanceof AuthError) {
      const status: number = err.status;
      const reason: string | null = err.reason;
      const cause: string | Error | null = err.cause;
      const wait: number | null = err.retryAfter;
      void [status, reason, cause, wait, err.message];
    }
    throw err;
  }
}

export async function employees(): Promise<unknown> {
  const res: Response = await auth.fetchApi('/api/employees', { headers: { Accept: 'application/json' } });
  return res.json();
}

const feed = auth.openSocket('/api/feed', { onMessage: (event: MessageEvent) => void event.data });
feed.close();

const challenge = stepUpChallenge('Bearer error="insufficient_user_authentication", acr_values="mfa"');
void challenge?.acrValues;
void parseWwwAuthenticate(null)[0]?.params.realm;
void decodeJwt('a.b.c').claims;

// @ts-expect-error: a listener's reason is one of the documented words
const nonsense: ChangeReason = 'nonsense';
void nonsense;
// @ts-expect-error: login takes a username and a password
void auth.login('only-a-username');
// @ts-expect-error: refresh() resolves to a boolean
const notAUser: User = await auth.refresh();
void notAUser;

// Passkeys: the gateway's options through the browser and back.
import { usePasskey, ceremonyProblem } from '@portcullis/client/webauthn';
import type { PasskeyOptions } from '@portcullis/client';

export async function signInWithPasskey(): Promise<User | null> {
  const options: PasskeyOptions | null = await auth.passkeyLoginOptions();
  if (!options) return null;
  try {
    const credential = await usePasskey(options.publicKey);
    return await auth.loginWithPasskey(options.ceremony, credential);
  } catch (err) {
    const problem: string | null = ceremonyProblem(err);
    void problem;
    return null;
  }
}
// @ts-expect-error the ceremony is a string
void auth.loginWithPasskey(42, {});
