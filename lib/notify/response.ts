/**
 * A receiver's answer is shown to the operator (delivery log, "send test notification") only as a
 * short snippet, so only that much is read: a receiver that answers with an endless or huge body
 * must not make us buffer it. The rest of the stream is cancelled, which closes the connection.
 */
export async function responseSnippet(response: Response, maxBytes: number): Promise<string> {
  const body = response.body;
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // a receiver that resets mid-body: show what arrived
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = Buffer.concat(chunks).subarray(0, maxBytes);
  // a multi-byte character cut at the limit decodes as U+FFFD, which is honest about the cut
  return bytes.toString("utf8").trim();
}
