import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/**
 * Encryption of stored secrets (broker passwords, webhook signing secrets and custom header
 * values) with the service key (BROKERWATCH_SECRET or the generated data/secret.key): AES-256-GCM,
 * so a tampered value fails to decrypt instead of yielding garbage.
 *
 * A secret is bound to the address it was saved for: the address is the GCM associated data, so
 * the ciphertext of a row whose URL was changed (through the API without re-entering the secret,
 * or directly in the database) does not decrypt for the new address, and the secret is never sent
 * there. What "address" means is `brokerSecretAddress` / `webhookSecretAddress` below.
 *
 * Formats, base64url parts: `v2.<iv>.<tag>.<ciphertext>` (bound to an address) and the older
 * `v1.<iv>.<tag>.<ciphertext>` (unbound), which is still read and re-encrypted as v2 at start.
 */
function keyOf(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}

function associatedData(address: string): Buffer {
  return Buffer.from(`brokerwatch secret for ${address}`, "utf8");
}

const V2 = /^v2\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]*$/;

/** Encrypts `plain` for use with `address` only. */
export function encryptSecret(plain: string, secret: string, address: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyOf(secret), iv);
  cipher.setAAD(associatedData(address));
  const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return ["v2", iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), data.toString("base64url")].join(
    ".",
  );
}

/** Whether a stored value is already bound to an address (v2). */
export function isBoundSecret(stored: string): boolean {
  return V2.test(stored);
}

/**
 * Decrypts a stored secret for use with `address`. A v2 value saved for another address fails;
 * a v1 value (written before secrets were bound) is accepted until the start-up re-encryption.
 */
export function decryptSecret(stored: string, secret: string, address: string): string {
  const [version, iv, tag, data] = stored.split(".");
  if ((version !== "v1" && version !== "v2") || !iv || !tag || data === undefined) {
    throw new Error("stored secret has an unknown format");
  }
  const decipher = createDecipheriv("aes-256-gcm", keyOf(secret), Buffer.from(iv, "base64url"));
  if (version === "v2") decipher.setAAD(associatedData(address));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  try {
    return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString("utf8");
  } catch {
    throw new Error(
      version === "v2"
        ? `stored secret cannot be decrypted for ${address}: it was saved for another address (enter it again), or BROKERWATCH_SECRET (or data/secret.key) changed`
        : "stored secret cannot be decrypted: was BROKERWATCH_SECRET (or data/secret.key) changed?",
    );
  }
}

type HeaderValues = Record<string, string>;

function mapHeaderValues(headers: HeaderValues, convert: (value: string) => string): HeaderValues {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, convert(value)]));
}

/** Custom header values, each encrypted like a secret (the names stay readable: the UI lists them). */
export function encryptHeaderValues(headers: HeaderValues, secret: string, address: string): HeaderValues {
  return mapHeaderValues(headers, (value) => encryptSecret(value, secret, address));
}

export function decryptHeaderValues(headers: HeaderValues, secret: string, address: string): HeaderValues {
  return mapHeaderValues(headers, (value) => decryptSecret(value, secret, address));
}

const DEFAULT_PORTS: Record<string, string> = {
  mqtt: "1883",
  tcp: "1883",
  mqtts: "8883",
  ssl: "8883",
  tls: "8883",
  ws: "80",
  wss: "443",
};

/**
 * What a broker password is bound to: scheme, host and port (`mqtt://broker.example:1883`), with
 * the scheme's default port filled in. The path (of a ws:// URL) does not pick another server.
 */
export function brokerSecretAddress(url: string): string {
  const parsed = new URL(url);
  const scheme = parsed.protocol.replace(/:$/, "").toLowerCase();
  const port = parsed.port || DEFAULT_PORTS[scheme] || "";
  return `${scheme}://${parsed.hostname.toLowerCase()}:${port}`;
}

/**
 * What a webhook's signing secret and header values are bound to: origin and path
 * (`https://hooks.example/alerts`). A change of query string alone keeps them.
 */
export function webhookSecretAddress(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/**
 * What a receiver's stored secrets are bound to (issue 23): for an e-mail receiver the SMTP server
 * (`smtp://mail.example:587`, its `url`), for every HTTP receiver the URL's origin and path.
 */
export function receiverSecretAddress(type: string, url: string): string {
  if (type === "email") {
    const parsed = new URL(url);
    return `smtp://${parsed.hostname.toLowerCase()}:${parsed.port}`;
  }
  return webhookSecretAddress(url);
}
