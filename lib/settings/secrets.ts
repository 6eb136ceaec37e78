/**
 * Start-up upgrade of secrets stored by earlier versions: broker passwords and webhook signing
 * secrets written unbound (v1) are re-encrypted bound to their address, and webhook header values
 * stored in clear are encrypted. Idempotent; a value that cannot be decrypted (the service key
 * changed) is left as it is and reported, as the collector and the outbox would report it.
 */
import { listBrokers, replaceBrokerPasswordEnc } from "@/db/brokers";
import type { Db } from "@/db/client";
import { allWebhookRows, replaceWebhookSecrets } from "@/db/webhooks";
import {
  brokerSecretAddress,
  decryptSecret,
  encryptHeaderValues,
  encryptSecret,
  isBoundSecret,
  receiverSecretAddress,
} from "@/lib/crypto";

export async function sealStoredSecrets(db: Db, key: string, log: (line: string) => void): Promise<number> {
  let sealed = 0;
  for (const broker of await listBrokers(db, { includeDisabled: true })) {
    if (broker.passwordEnc === null || isBoundSecret(broker.passwordEnc)) continue;
    try {
      const address = brokerSecretAddress(broker.url);
      const bound = encryptSecret(decryptSecret(broker.passwordEnc, key, address), key, address);
      await replaceBrokerPasswordEnc(db, broker.name, broker.passwordEnc, bound);
      sealed += 1;
    } catch (err) {
      log(`brokerwatch: broker ${broker.name}: ${(err as Error).message}`);
    }
  }
  for (const webhook of await allWebhookRows(db)) {
    const secretUnbound = webhook.secretEnc !== null && !isBoundSecret(webhook.secretEnc);
    if (webhook.headersEncrypted && !secretUnbound) continue;
    try {
      const address = receiverSecretAddress(webhook.type, webhook.url);
      await replaceWebhookSecrets(db, webhook, {
        secretEnc:
          webhook.secretEnc !== null && secretUnbound
            ? encryptSecret(decryptSecret(webhook.secretEnc, key, address), key, address)
            : webhook.secretEnc,
        headers: webhook.headersEncrypted ? webhook.headers : encryptHeaderValues(webhook.headers, key, address),
      });
      sealed += 1;
    } catch (err) {
      log(`brokerwatch: webhook ${webhook.name}: ${(err as Error).message}`);
    }
  }
  return sealed;
}
