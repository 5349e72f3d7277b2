import argon2 from 'argon2';

// OWASP's argon2id minimum (19 MiB, 2 passes): staff and cardholder passwords alike.
const ARGON2 = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
// Verified against when there is no account, so the time taken does not reveal which names or phones exist.
let dummyHash: Promise<string> | null = null;

export async function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2);
}

/**
 * Checks a password against a stored hash; with no hash (unknown user) it spends the same time
 * on a fixed hash and answers false. A malformed hash is a wrong password, not an error.
 */
export async function verifyPassword(hash: string | null, password: string): Promise<boolean> {
  if (hash === null) {
    dummyHash ??= hashPassword('not-a-real-password');
    await argon2.verify(await dummyHash, password).catch(() => false);
    return false;
  }
  return argon2.verify(hash, password).catch(() => false);
}
