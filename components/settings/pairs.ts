/**
 * `name<separator>value` lines (HTTP headers as `Name: value`, rule labels as `name=value`) into a
 * map; blank lines are skipped. The 1-based number of the first line without a name and the
 * separator otherwise.
 */
export function parsePairLines(text: string, separator: ":" | "="): Record<string, string> | { badLine: number } {
  const pairs: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const at = line.indexOf(separator);
    if (at <= 0) return { badLine: i + 1 };
    pairs[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return pairs;
}
