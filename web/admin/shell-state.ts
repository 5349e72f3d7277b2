import type { Location } from 'react-router-dom';

/** Where the login page sends the user afterwards (the deep link they opened), set on the redirect. */
export interface LoginState {
  from?: Pick<Location, 'pathname' | 'search' | 'hash'>;
}

let signingOut = false;

/** An explicit sign-out should not bring the next user back to this user's page. */
export function markSigningOut(): void {
  signingOut = true;
}

export function isSigningOut(): boolean {
  return signingOut;
}

/** Called by the login page once it is shown. */
export function clearSigningOut(): void {
  signingOut = false;
}
