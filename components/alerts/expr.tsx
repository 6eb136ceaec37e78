/**
 * A rule expression in monospace; with `position`, the character there (or the end, for
 * "unexpected end of input") is marked, the way a compiler points at an error.
 */
export function Expr({ expr, position = null }: { expr: string; position?: number | null }) {
  if (position === null || position < 0 || position > expr.length) {
    return <code className="font-mono text-xs break-all whitespace-pre-wrap">{expr}</code>;
  }
  const at = expr.slice(position, position + 1);
  return (
    <code className="font-mono text-xs break-all whitespace-pre-wrap" data-error-position={position}>
      {expr.slice(0, position)}
      <mark
        className="rounded-sm bg-red-200 text-red-900 underline decoration-red-600 decoration-wavy dark:bg-red-900 dark:text-red-100"
        title={`position ${position}`}
      >
        {at === "" || at === " " ? "\u00a0" : at}
      </mark>
      {expr.slice(position + 1)}
    </code>
  );
}
