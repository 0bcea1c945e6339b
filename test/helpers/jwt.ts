import { SignJWT } from "jose";

export interface Hs256Claims {
  iss: string;
  aud: string;
  sub?: string;
  /** A time span such as "5m", or unix seconds; absent means no exp claim. */
  exp?: number | string;
  nbf?: number;
}

/** An HS256 JWT signed with `secret`, as an identity provider would issue it. */
export function signHs256(secret: string, claims: Hs256Claims): Promise<string> {
  const jwt = new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setIssuer(claims.iss).setAudience(claims.aud);
  if (claims.sub !== undefined) jwt.setSubject(claims.sub);
  if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
  if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** Like signHs256, with a sub of any JSON value: what a careless issuer might sign. */
export function signHs256AnySub(secret: string, claims: Omit<Hs256Claims, "sub">, sub: unknown): Promise<string> {
  const jwt = new SignJWT({ sub } as Record<string, unknown>)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setIssuer(claims.iss)
    .setAudience(claims.aud);
  jwt.setExpirationTime(claims.exp ?? "5m");
  return jwt.sign(new TextEncoder().encode(secret));
}
