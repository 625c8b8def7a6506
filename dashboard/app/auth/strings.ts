const en = {
  sessionEnded: 'Your session has ended. Please sign in again.',
  loading: 'Loading…',
  loadingDashboard: 'Loading the dashboard…',
  subtitle: 'Smart-city telemetry for Tuscany. Sign in to continue.',
  username: 'Username',
  password: 'Password',
  enterUsername: 'Enter your username.',
  enterPassword: 'Enter your password.',
  signIn: 'Sign in',
  signingIn: 'Signing in…',
  retryIn: (s: number) => `Try again in ${s} s.`,
}

const it: typeof en = {
  sessionEnded: 'La sessione è scaduta. Accedi di nuovo.',
  loading: 'Caricamento…',
  loadingDashboard: 'Caricamento del cruscotto…',
  subtitle: 'Telemetria urbana per la Toscana. Accedi per continuare.',
  username: 'Nome utente',
  password: 'Password',
  enterUsername: 'Inserisci il nome utente.',
  enterPassword: 'Inserisci la password.',
  signIn: 'Accedi',
  signingIn: 'Accesso in corso…',
  retryIn: (s: number) => `Riprova tra ${s} s.`,
}

/** The login page and the app's session messages. The server's error texts are worded by api/error-text.ts. */
export const AUTH_STRINGS = { en, it }
